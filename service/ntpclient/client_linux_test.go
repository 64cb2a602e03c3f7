package ntpclient

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/timesync/timesync/internal/ntptest"
	"github.com/timesync/timesync/internal/rxts"
	"github.com/timesync/timesync/service/engine"
)

// On Linux the client's sockets stay non-blocking in the runtime's poller
// and are read and written with raw system calls, with no read deadline
// and no receive timeout: the exchange's timer is a kernel timer
// (raw_linux.go says why).
func TestClientRawExchanges(t *testing.T) {
	s := testServer(t, "127.0.60.24:0")
	c := &Client{Timeout: 1500 * time.Millisecond}
	defer c.Close()
	for range 3 {
		if o := exchange(t, c, s.Addr()); o.err != nil {
			t.Fatal(o.err)
		}
	}
	c.mu.Lock()
	sv := c.servers[s.Addr()]
	c.mu.Unlock()
	if sv == nil || !sv.sock.raw {
		t.Fatal("the socket is not read with raw calls")
	}
	var flags int
	var tv *unix.Timeval
	var ferr, terr error
	rc, err := sv.sock.udp.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Control(func(fd uintptr) {
		flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0)
		tv, terr = unix.GetsockoptTimeval(int(fd), unix.SOL_SOCKET, unix.SO_RCVTIMEO)
	}); err != nil || ferr != nil || terr != nil {
		t.Fatal(err, ferr, terr)
	}
	if flags&unix.O_NONBLOCK == 0 {
		t.Error("the socket blocks")
	}
	if tv.Sec != 0 || tv.Usec != 0 {
		t.Errorf("SO_RCVTIMEO %v set", tv)
	}
}

// A timer that fires as the answer comes (after the read, before its
// report) does not leave its deadline to the next exchange, and the
// answer counts.
func TestClientTimerRacingTheAnswer(t *testing.T) {
	s := testServer(t, "127.0.60.25:0")
	c := &Client{Timeout: time.Second}
	defer c.Close()
	fired := 0
	afterRead = func(sv *server) {
		c.mu.Lock()
		seq := sv.seq
		c.mu.Unlock()
		c.expire(sv, seq)
		fired++
	}
	o := exchange(t, c, s.Addr())
	afterRead = nil
	if o.err != nil || fired != 1 {
		t.Fatalf("exchange with the timer racing: %v (hook ran %d times)", o.err, fired)
	}
	port := localPort(c, s.Addr())
	if port == 0 {
		t.Fatal("socket dropped after an answer")
	}
	if o := exchange(t, c, s.Addr()); o.err != nil {
		t.Fatalf("next exchange: %v", o.err)
	}
	if p := localPort(c, s.Addr()); p != port {
		t.Errorf("socket renewed (port %d → %d) after answers", port, p)
	}
}

// A timer that fires while the read waits ends it as a timeout, however
// far the socket's deadline is (there is none).
func TestClientTimerEndsTheWait(t *testing.T) {
	addr := silent(t)
	c := &Client{Timeout: 150 * time.Millisecond}
	defer c.Close()
	start := time.Now()
	o := exchange(t, c, addr)
	if !errors.Is(o.err, engine.ErrNoReply) || !strings.HasSuffix(o.err.Error(), "no reply within 150ms") {
		t.Fatalf("got %v, want ErrNoReply within 150ms", o.err)
	}
	if e := time.Since(start); e < 150*time.Millisecond || e > 10*time.Second {
		t.Errorf("the timeout took %v", e)
	}
}

// A raw read still brings the kernel's receive timestamp (SO_TIMESTAMPNS),
// which the exchange takes as t4.
func TestRawReadKernelTimestamp(t *testing.T) {
	s := testServer(t, "127.0.60.26:0")
	sock, err := open(nil, nil, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer sock.close()
	if !sock.kernelTS {
		t.Skip("no kernel receive timestamps here")
	}
	if !sock.setRaw() {
		t.Fatal("setRaw failed")
	}
	var b [headerSize]byte
	before := time.Now()
	if err := sock.writeRaw(putRequest(b[:], 12345)); err != nil {
		t.Fatal(err)
	}
	n, oobn, err := sock.readRaw()
	after := time.Now()
	if err != nil || n < headerSize {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	ts, ok := rxts.Parse(sock.oob[:oobn])
	if !ok {
		t.Fatalf("no kernel timestamp in %d control bytes", oobn)
	}
	if ts.Before(before) || ts.After(after) {
		t.Errorf("kernel timestamp %v outside the exchange [%v, %v]", ts, before, after)
	}
}

// testServer starts a test NTP server at addr for the test's duration.
func testServer(t *testing.T, addr string) *ntptest.Server {
	t.Helper()
	s, err := ntptest.Start(addr, ntptest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
