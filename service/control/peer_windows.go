package control

import (
	"errors"
	"fmt"
	"net"
	"runtime"

	"golang.org/x/sys/windows"
)

var procImpersonateNamedPipeClient = windows.NewLazySystemDLL("advapi32.dll").NewProc("ImpersonateNamedPipeClient")

// peerOf reads the pipe client's token: the thread impersonates the
// client (at the identification level the client allowed), opens its
// token, and reverts. A client that allowed no identification
// (anonymous) cannot be identified and is treated as a reader.
func peerOf(c net.Conn) (*Peer, error) {
	f, ok := c.(interface{ Fd() uintptr })
	if !ok {
		return nil, fmt.Errorf("peer credentials: not a named pipe (%T)", c)
	}
	tok, err := clientToken(windows.Handle(f.Fd()))
	if err != nil {
		return nil, err
	}
	defer tok.Close()
	p := &Peer{UID: -1, GID: -1}
	if u, err := tok.GetTokenUser(); err == nil {
		if acct, dom, _, err := u.User.Sid.LookupAccount(""); err == nil {
			p.User = dom + `\` + acct
		} else {
			p.User = u.User.Sid.String()
		}
		if u.User.Sid.IsWellKnown(windows.WinLocalSystemSid) {
			p.Admin = true
		}
	}
	admins, err := windows.CreateWellKnownSid(windows.WinBuiltinAdministratorsSid)
	if err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	groups, err := tok.GetTokenGroups()
	if err != nil {
		return nil, fmt.Errorf("peer credentials: token groups: %w", err)
	}
	p.SIDs = []string{}
	for _, g := range groups.AllGroups() {
		if g.Attributes&windows.SE_GROUP_ENABLED == 0 {
			continue // e.g. Administrators as deny-only in a non-elevated token
		}
		p.SIDs = append(p.SIDs, g.Sid.String())
		if g.Sid.Equals(admins) {
			p.Admin = true
		}
	}
	return p, nil
}

// clientToken returns the pipe client's token. The goroutine stays on
// its thread while impersonating; if reverting fails the thread is not
// given back to the scheduler (it dies with the goroutine).
func clientToken(h windows.Handle) (windows.Token, error) {
	runtime.LockOSThread()
	if r, _, e := procImpersonateNamedPipeClient.Call(uintptr(h)); r == 0 {
		runtime.UnlockOSThread()
		return 0, fmt.Errorf("peer credentials: ImpersonateNamedPipeClient: %w", e)
	}
	var tok windows.Token
	err := windows.OpenThreadToken(windows.CurrentThread(), windows.TOKEN_QUERY, true, &tok)
	if rerr := windows.RevertToSelf(); rerr != nil {
		if err == nil {
			tok.Close()
		}
		return 0, fmt.Errorf("peer credentials: RevertToSelf: %w", rerr)
	}
	runtime.UnlockOSThread()
	if err != nil {
		return 0, fmt.Errorf("peer credentials: OpenThreadToken: %w", err)
	}
	return tok, nil
}

// lookupGroupSID returns the SID of a local or domain group by name.
func lookupGroupSID(name string) (string, error) {
	sid, _, typ, err := windows.LookupSID("", name)
	if err != nil {
		return "", err
	}
	if typ != windows.SidTypeGroup && typ != windows.SidTypeAlias && typ != windows.SidTypeWellKnownGroup {
		return "", errors.New("not a group")
	}
	return sid.String(), nil
}
