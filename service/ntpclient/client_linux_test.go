package ntpclient

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/timesync/timesync/internal/ntptest"
)

// On Linux the client's sockets wait in the kernel with a receive
// timeout, not on a read deadline (whose timer would wake the idle
// service 2 s after every round, block_linux.go).
func TestClientReadsBlockWithKernelTimeout(t *testing.T) {
	s, err := ntptest.Start("127.0.60.24:0", ntptest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &Client{Timeout: 1500 * time.Millisecond}
	defer c.Close()
	if o := exchange(t, c, s.Addr()); o.err != nil {
		t.Fatal(o.err)
	}
	c.mu.Lock()
	sv := c.servers[s.Addr()]
	c.mu.Unlock()
	if sv == nil || sv.sock.rc == nil {
		t.Fatal("the socket does not read blocking")
	}
	var flags int
	var tv *unix.Timeval
	var ferr, terr error
	if err := sv.sock.rc.Control(func(fd uintptr) {
		flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0)
		tv, terr = unix.GetsockoptTimeval(int(fd), unix.SOL_SOCKET, unix.SO_RCVTIMEO)
	}); err != nil || ferr != nil || terr != nil {
		t.Fatal(err, ferr, terr)
	}
	if flags&unix.O_NONBLOCK != 0 {
		t.Error("the socket is non-blocking")
	}
	if got := time.Duration(tv.Nano()); got != 1500*time.Millisecond {
		t.Errorf("SO_RCVTIMEO %v, want 1.5s", got)
	}
}
