//go:build unix

// Package rawio reads and writes sockets that wait in the Go runtime's
// poller, with raw system calls on Linux. A system call made through the
// runtime's syscall entry (every Read and Write of package net) wakes the
// runtime's system monitor (sysmon) when it sleeps, and sysmon then polls
// every 20 µs until the process is idle again: for an idle service woken
// a few times a minute, that polling costs as much as the wake itself. A
// raw call does not enter the runtime; it is safe only for calls that do
// not block, which these are (the descriptors are non-blocking, and a
// call that would block returns EAGAIN and waits in the poller), but for
// ReadMsgWait's bounded wait for an answer that is on its way. On other
// systems, and in race-detector and sanitizer builds, the package's
// functions are the usual calls.
package rawio

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Read reads into p from c, as c.Read does: io.EOF at the end of a stream.
func Read(c syscall.Conn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var e error
	err = rc.Read(func(fd uintptr) bool {
		// EINTR is retried at once: waiting in the poller instead would
		// wait for data that is already there (it signals new data only).
		for n, e = read(fd, p); e == syscall.EINTR; n, e = read(fd, p) {
		}
		return e != syscall.EAGAIN
	})
	switch {
	case err != nil:
		return 0, err
	case e != nil:
		return 0, os.NewSyscallError("read", e)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p to c, as c.Write does.
func Write(c syscall.Conn, p []byte) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	done := 0
	var e error
	err = rc.Write(func(fd uintptr) bool {
		for done < len(p) {
			var n int
			n, e = write(fd, p[done:])
			if e == syscall.EINTR {
				continue
			}
			if e != nil {
				return e != syscall.EAGAIN
			}
			if n == 0 {
				e = io.ErrUnexpectedEOF // as internal/poll: never loop on it
				return true
			}
			done += n
		}
		return true
	})
	switch {
	case err == nil && e == io.ErrUnexpectedEOF:
		err = e
	case err == nil && e != nil:
		err = os.NewSyscallError("write", e)
	}
	return done, err
}

// ReadMsg receives into p and oob from c (recvmsg(2)), as
// net.UnixConn.ReadMsgUnix and net.UDPConn.ReadMsgUDP do without the
// source address: n is 0 with a nil error at the end of a stream.
func ReadMsg(c syscall.Conn, p, oob []byte) (n, oobn int, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var e error
	err = rc.Read(func(fd uintptr) bool {
		for n, oobn, e = recvmsg(fd, p, oob); e == syscall.EINTR; n, oobn, e = recvmsg(fd, p, oob) {
		}
		return e != syscall.EAGAIN
	})
	if err == nil && e != nil {
		err = os.NewSyscallError("recvmsg", e)
	}
	if err != nil {
		return 0, 0, err
	}
	return n, oobn, nil
}

// ReadMsgWait is ReadMsg, except that when nothing is there yet it first
// waits up to wait for it in a raw ppoll(2) on this thread, holding the
// runtime's P (no other goroutine of the process runs meanwhile), and
// only then in the runtime's poller. For an answer that comes within
// microseconds (a request to a process on the same machine), the thread
// is woken by the answer itself, and neither the poller's thread nor the
// system monitor is involved. Elsewhere (no raw calls) it is ReadMsg.
func ReadMsgWait(c syscall.Conn, p, oob []byte, wait time.Duration) (n, oobn int, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var e error
	deadline := time.Now().Add(wait)
	waited := false
	err = rc.Read(func(fd uintptr) bool {
		for {
			for n, oobn, e = recvmsg(fd, p, oob); e == syscall.EINTR; n, oobn, e = recvmsg(fd, p, oob) {
			}
			if e != syscall.EAGAIN || waited {
				return e != syscall.EAGAIN
			}
			waited = true
			if !waitReadable(fd, deadline) {
				return false
			}
		}
	})
	if err == nil && e != nil {
		err = os.NewSyscallError("recvmsg", e)
	}
	if err != nil {
		return 0, 0, err
	}
	return n, oobn, nil
}

// ErrStalled is WriteFD's error when the reader took nothing for as long
// as the writer would wait.
var ErrStalled = errors.New("the reader takes nothing")

// WriteFD writes all of p to fd, a non-blocking socket that is not in the
// runtime's poller, with rights (descriptors passed as SCM_RIGHTS) sent
// along with the first bytes. When fd has no room it waits for some in
// poll(2), through the runtime's system-call entry (the reader is slow or
// hostile: the runtime must know this thread is blocked, and give its P
// to the process's other goroutines), up to stall in all, then fails with
// ErrStalled. A descriptor kept out of the poller is never the cause of a
// wake-up: the runtime registers every descriptor it polls for writing as
// well as reading (edge-triggered), so each time the reader takes what
// was written, the writer's poller thread wakes for the room made, idle
// or not.
func WriteFD(fd int, p []byte, rights []int, stall time.Duration) error {
	deadline := time.Now().Add(stall)
	var oob []byte
	if len(rights) > 0 {
		oob = syscall.UnixRights(rights...)
	}
	for len(p) > 0 {
		// sendmsg for every write: on Linux with MSG_NOSIGNAL, so that
		// a reader gone is EPIPE and never a SIGPIPE.
		n, e := sendmsg(uintptr(fd), p, oob)
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			if !waitWritable(uintptr(fd), deadline) {
				return ErrStalled
			}
			continue
		case e != nil:
			return os.NewSyscallError("sendmsg", e)
		case n == 0:
			return io.ErrUnexpectedEOF
		}
		oob = nil // the rights went with these bytes
		p = p[n:]
	}
	return nil
}

// waitWritable waits in poll(2), through the runtime's system-call entry,
// until fd has room or deadline passes.
func waitWritable(fd uintptr, deadline time.Time) bool {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, int(min(left.Milliseconds()+1, 1<<30)))
		if err == syscall.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}

// The net package's connections are syscall.Conns.
var (
	_ syscall.Conn = (*net.UnixConn)(nil)
	_ syscall.Conn = (*net.UDPConn)(nil)
)
