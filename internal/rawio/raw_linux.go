//go:build linux && !race && !msan && !asan

package rawio

import (
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errno turns a raw call's errno into an error (nil for 0).
func errno(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func read(fd uintptr, p []byte) (int, error) {
	r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func write(fd uintptr, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// message points msg at one buffer, p, and the control data oob, for
// recvmsg and sendmsg (iov is the caller's, to outlive the call).
func message(msg *syscall.Msghdr, iov *syscall.Iovec, p, oob []byte) {
	if len(p) > 0 {
		iov.Base = &p[0]
		iov.SetLen(len(p))
	}
	msg.Iov = iov
	msg.Iovlen = 1
	if len(oob) > 0 {
		msg.Control = &oob[0]
		msg.SetControllen(len(oob))
	}
}

func recvmsg(fd uintptr, p, oob []byte) (n, oobn int, err error) {
	var iov syscall.Iovec
	var msg syscall.Msghdr
	message(&msg, &iov, p, oob)
	r, _, e := syscall.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&msg)), syscall.MSG_CMSG_CLOEXEC)
	if e != 0 {
		return 0, 0, errno(e)
	}
	return int(r), int(msg.Controllen), nil
}

func sendmsg(fd uintptr, p, oob []byte) (int, error) {
	var iov syscall.Iovec
	var msg syscall.Msghdr
	message(&msg, &iov, p, oob)
	r, _, e := syscall.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&msg)), syscall.MSG_NOSIGNAL)
	if e != 0 {
		return 0, errno(e)
	}
	return int(r), nil
}

// waitReadable waits in ppoll(2), a raw call, until fd is readable or
// deadline passes, and reports whether it is readable. A signal (the
// runtime's preemption request among them) interrupts the wait, which
// then goes on for what is left.
func waitReadable(fd uintptr, deadline time.Time) bool {
	pfd := unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		ts := unix.NsecToTimespec(int64(left))
		n, _, e := syscall.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0:
			return false
		}
		return n > 0
	}
}
