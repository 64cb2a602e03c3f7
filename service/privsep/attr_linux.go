package privsep

import "syscall"

// engineAttr starts the engine under u, with only u's group, and has
// the kernel end it if the parent dies.
func engineAttr(u User) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{u.GID}},
		Pdeathsig:  syscall.SIGTERM,
		Setpgid:    true,
	}
}
