package ntpclient

// block_linux.go: the service's reads without a runtime timer. A read
// deadline is a timer in the Go runtime's heap, and clearing it once the
// answer is in does not take it out: the runtime only marks it dead, and
// the idle process still wakes when it would have fired, 2 s after every
// round (strace of the idle engine: an empty epoll_pwait of 1999 ms after
// each round). On this kind of machine every wake of an idle Go process
// costs about 0.2 ms of CPU (four context switches: the poller's thread,
// a spinning thread, the system monitor), which was a quarter of the idle
// engine's cost. So on Linux the socket is made blocking with a receive
// timeout (SO_RCVTIMEO): the read waits in the kernel, whose timer is
// cancelled for free when the answer arrives, and it holds a thread only
// while an exchange is in flight.

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// setBlocking makes s's reads wait in the kernel for at most timeout. It
// reports false (s unchanged but for the option) if the socket cannot.
func (s *socket) setBlocking(timeout time.Duration) bool {
	if s.udp == nil || timeout <= 0 {
		return false
	}
	rc, err := s.udp.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = setRcvTimeout(fd, timeout); serr != nil {
			return
		}
		serr = unix.SetNonblock(int(fd), false)
	})
	if err != nil || serr != nil {
		return false
	}
	s.rc, s.timeout = rc, timeout
	return true
}

// readBlocking is read for a blocking socket: one datagram, or
// os.ErrDeadlineExceeded once the timeout passed, or net.ErrClosed once
// wake shut the socket down.
func (s *socket) readBlocking() (n, oobn int, err error) {
	deadline := time.Now().Add(s.timeout)
	var rerr error
	shortened := false
	err = s.rc.Read(func(fd uintptr) bool {
		for {
			// syscall's Recvmsg, not unix's: that one asks the socket
			// for its protocol (one more system call) with every
			// datagram.
			n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), s.buf[:], s.oob, 0)
			if rerr != syscall.EINTR {
				return true
			}
			// A signal ends a wait with a receive timeout (it is not
			// restarted): wait again for what is left of it.
			left := time.Until(deadline)
			if left <= 0 {
				rerr = syscall.EAGAIN
				return true
			}
			if rerr = setRcvTimeout(fd, left); rerr != nil {
				return true
			}
			shortened = true
		}
	})
	if shortened {
		_ = s.rc.Control(func(fd uintptr) { _ = setRcvTimeout(fd, s.timeout) })
	}
	if err == nil {
		err = rerr
	}
	switch {
	case errors.Is(err, unix.EAGAIN):
		return 0, 0, os.ErrDeadlineExceeded
	case err != nil:
		return 0, 0, os.NewSyscallError("recvmsg", err)
	case n == 0:
		// What a shut-down socket reads (a zero-length datagram is no
		// answer either).
		return 0, 0, net.ErrClosed
	}
	return n, oobn, nil
}

// setRcvTimeout sets how long a blocking receive on fd waits.
func setRcvTimeout(fd uintptr, d time.Duration) error {
	tv := unix.NsecToTimeval(d.Nanoseconds())
	return unix.SetsockoptTimeval(int(fd), unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

// wake ends a read waiting on s (the socket is being closed: a blocked
// receive does not notice a close on Linux, a shutdown it does).
func (s *socket) wake() {
	if s.rc != nil {
		_ = s.rc.Control(func(fd uintptr) { _ = unix.Shutdown(int(fd), syscall.SHUT_RDWR) })
	}
}
