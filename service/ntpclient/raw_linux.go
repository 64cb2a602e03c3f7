package ntpclient

// raw_linux.go: the service's exchanges without waking the Go runtime's
// system monitor. A system call made through the runtime's syscall entry
// (every read and write of package net) wakes sysmon when it sleeps, and
// sysmon then polls every 20 µs until the process is idle again; a read
// deadline is a runtime timer, which wakes sysmon too (and a cleared one
// stays in the runtime's heap until it would have fired: the idle
// process woke 2 s after every round). On this kind of machine a woken
// idle Go process costs about 0.4 ms of CPU, and sysmon's polling as much
// again (a throwaway program waking once a second: 24 ms a minute on a
// timerfd read with a raw call, 37–48 ms with the same read through the
// syscall entry). So on Linux the socket stays non-blocking in the
// runtime's poller, its write and receive are raw system calls (they
// cannot block), and the exchange's timeout is a platform.RealTimers
// timer (a kernel timer, platform/timer_linux.go) that, when it fires,
// ends the wait by setting a read deadline in the past (which the runtime
// does without a timer).

import (
	"time"

	"github.com/timesync/timesync/internal/rawio"
)

// setRaw makes s's exchanges raw system calls on its non-blocking socket
// (a UDP one); the caller times them out (Client). It reports whether it
// did.
func (s *socket) setRaw() bool {
	s.raw = s.udp != nil
	return s.raw
}

// writeRaw sends b on s.
func (s *socket) writeRaw(b []byte) error {
	_, err := rawio.Write(s.udp, b)
	return err
}

// readRaw receives one datagram into s.buf (and its control messages
// into s.oob), waiting in the runtime's poller: it returns
// os.ErrDeadlineExceeded once the exchange's timer ended the wait, an
// error wrapping net.ErrClosed once the socket is closed.
func (s *socket) readRaw() (n, oobn int, err error) {
	return rawio.ReadMsg(s.udp, s.buf[:], s.oob)
}

// expire ends a raw read waiting on s: a deadline in the past wakes it
// (the runtime sets one without a timer).
func (s *socket) expire() { _ = s.conn.SetReadDeadline(time.Unix(1, 0)) }

// unexpire undoes expire once the read it was meant for has ended.
func (s *socket) unexpire() { _ = s.conn.SetReadDeadline(time.Time{}) }
