package control

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerOf reads the peer's credentials with LOCAL_PEERCRED (the xucred the
// kernel recorded at connect(): uid and groups, the first group being
// the primary one) and its pid with LOCAL_PEERPID.
func peerOf(c net.Conn) (*Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil, fmt.Errorf("peer credentials: not a Unix socket (%T)", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Xucred
	var pid int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		pid, _ = unix.GetsockoptInt(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	}); err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	if serr != nil {
		return nil, fmt.Errorf("peer credentials: LOCAL_PEERCRED: %w", serr)
	}
	if cred == nil || cred.Ngroups < 1 {
		return nil, errors.New("peer credentials: none")
	}
	p := &Peer{UID: int(cred.Uid), GID: int(cred.Groups[0]), PID: pid, Admin: cred.Uid == 0, User: userName(int(cred.Uid))}
	for _, g := range cred.Groups[:min(int(cred.Ngroups), len(cred.Groups))] {
		p.Groups = append(p.Groups, int(g))
	}
	return p, nil
}

func lookupGroupSID(string) (string, error) { return "", errors.ErrUnsupported }
