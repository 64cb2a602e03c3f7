package ntpclient

// raw_linux.go: detached sockets (client.go). A socket in the runtime's
// poller wakes the idle process as each answer arrives: the poller's
// thread returns from epoll_wait whether or not a goroutine waits for it.
// A detached socket's descriptor is a duplicate of the dialled one, which
// is then closed (and so leaves the poller); it is written and read with
// raw system calls (internal/rawio: a call through the runtime's syscall
// entry would wake its system monitor), never waited on: it is read,
// without waiting, when its answer is due, and the kernel's receive
// timestamp says when that answer came.

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/timesync/timesync/internal/rawio"
)

// detach takes s's descriptor out of the runtime's poller, if s can be
// read late: a UDP socket whose answers the kernel timestamps. It reports
// whether it did.
func (s *socket) detach() bool {
	if s.udp == nil || !s.kernelTS {
		return false
	}
	rc, err := s.udp.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	var derr error
	if err := rc.Control(func(f uintptr) {
		fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil || derr != nil {
		return false
	}
	s.conn.Close()
	s.fd = fd
	return true
}

// writeFD sends b on a detached socket.
func (s *socket) writeFD(b []byte) error {
	_, err := rawio.WriteFD(s.fd, b)
	return err
}

// receive reads the datagram waiting on a detached socket, if there is
// one (an error wrapping syscall.EAGAIN if not), with when it arrived.
func (s *socket) receive() ([]byte, time.Time, error) {
	n, oobn, err := rawio.RecvmsgFD(s.fd, s.buf[:], s.oob)
	if err != nil {
		return nil, time.Time{}, err
	}
	return s.buf[:n], s.arrival(oobn, time.Now()), nil
}

// closeFD closes a detached socket's descriptor.
func closeFD(fd int) error { return unix.Close(fd) }
