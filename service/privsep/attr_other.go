//go:build unix && !linux

package privsep

import (
	"errors"
	"syscall"
)

// engineAttr starts the engine under u, with only u's group. (No
// parent-death signal here: the engine stops when its connection to the
// parent breaks.)
func engineAttr(u User) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{u.GID}},
		Setpgid:    true,
	}
}

// ParentCapabilities: capabilities are Linux's.
var ParentCapabilities []int

// ErrNoSeccomp is Linux's.
var ErrNoSeccomp = errors.New("no seccomp on this OS")

// ErrCgo is Linux's.
var ErrCgo = errors.New("no capabilities on this OS")

// DropCapabilities does nothing where there are no capabilities: the
// parent stays root (macOS).
func DropCapabilities([]int) error { return nil }

// Lockdown refuses root; macOS has no seccomp (its sandbox is not usable
// from Go without cgo).
func Lockdown() error {
	if syscall.Geteuid() == 0 || syscall.Getuid() == 0 {
		return errors.New("the engine must not run as root")
	}
	return nil
}
