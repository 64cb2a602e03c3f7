package control

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerOf reads the peer's credentials with SO_PEERCRED: the uid, gid and
// pid the kernel recorded when the peer called connect().
func peerOf(c net.Conn) (*Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil, fmt.Errorf("peer credentials: not a Unix socket (%T)", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	if serr != nil {
		return nil, fmt.Errorf("peer credentials: SO_PEERCRED: %w", serr)
	}
	if cred == nil {
		return nil, errors.New("peer credentials: none")
	}
	return &Peer{UID: int(cred.Uid), GID: int(cred.Gid), PID: int(cred.Pid), Admin: cred.Uid == 0, User: userName(int(cred.Uid))}, nil
}

func lookupGroupSID(string) (string, error) { return "", errors.ErrUnsupported }
