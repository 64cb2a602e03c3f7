package ntpclient

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/ntp"
	"golang.org/x/sys/unix"

	"github.com/timesync/timesync/internal/ntptest"
	"github.com/timesync/timesync/service/engine"
)

// On Linux the client's sockets are detached: a non-blocking descriptor
// of their own, out of the runtime's poller (so an answer's arrival does
// not wake the process), with no goroutine waiting on it.
func TestClientDetached(t *testing.T) {
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
	if sv == nil || sv.sock.fd < 0 || sv.work != nil {
		t.Fatal("the socket is not detached")
	}
	flags, err := unix.FcntlInt(uintptr(sv.sock.fd), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.O_NONBLOCK == 0 {
		t.Error("the socket blocks")
	}
	polled := pollerFDs(t)
	if polled[sv.sock.fd] {
		t.Errorf("fd %d is in the runtime's poller", sv.sock.fd)
	}
	// The check itself: a socket of package net is in it.
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 60, 27)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	rc, err := pc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		t.Fatal(err)
	}
	if !pollerFDs(t)[fd] {
		t.Fatalf("a net socket (fd %d) is not in the poller: the check does not work", fd)
	}
}

// A round's answers, sent together, end in one look. (The servers take
// 2 ms, so that none has answered by the time its request is written.)
func TestClientRoundOneLook(t *testing.T) {
	var addrs []string
	for _, a := range []string{"127.0.60.28:0", "127.0.60.29:0", "127.0.60.30:0"} {
		s, err := ntptest.Start(a, ntptest.Config{DelayBack: 2 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		addrs = append(addrs, s.Addr())
	}
	c := &Client{}
	defer c.Close()
	// A first exchange each, for their round trips.
	for _, a := range addrs {
		if o := exchange(t, c, a); o.err != nil {
			t.Fatal(o.err)
		}
	}
	var mu sync.Mutex
	var looks []int
	onLook = func(n int) {
		mu.Lock()
		looks = append(looks, n)
		mu.Unlock()
	}
	defer func() { onLook = nil }()
	ch := make(chan outcome, len(addrs))
	for _, a := range addrs {
		c.Exchange(a, func(r *ntp.Response, err error) { ch <- outcome{r, err} })
	}
	for range addrs {
		select {
		case o := <-ch:
			if o.err != nil {
				t.Fatal(o.err)
			}
		case <-time.After(time.Minute):
			t.Fatal("an exchange never ended")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(looks) != 1 || looks[0] != 3 {
		t.Errorf("looks ended %v exchanges, want one look ending 3", looks)
	}
}

// An answer already there when the request's write returns (a server on
// this machine, woken by the request, may run first) is taken at once,
// with no look.
func TestClientAnswerAlreadyThere(t *testing.T) {
	s := testServer(t, "127.0.60.33:0")
	c := &Client{}
	defer c.Close()
	looks := 0
	onLook = func(int) { looks++ }
	afterSend = func() {
		for deadline := time.Now().Add(10 * time.Second); s.Requests() == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // the answer, sent after the count
	}
	defer func() { onLook, afterSend = nil, nil }()
	if o := exchange(t, c, s.Addr()); o.err != nil {
		t.Fatal(o.err)
	} else if o.r.RTT > 10*time.Millisecond {
		t.Errorf("round trip %v: the wait in the hook was measured", o.r.RTT)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if looks != 0 || c.lookStop != nil {
		t.Errorf("%d looks, timer armed %v: want the answer taken at once", looks, c.lookStop != nil)
	}
}

// An answer read well after it came is measured as it came: its arrival
// is the kernel's timestamp. The server answers 70 ms late; the first look
// (the server's round trip not yet known) is at 50 ms, the next at 200 ms.
func TestClientLateLookMeasuresArrival(t *testing.T) {
	s, err := ntptest.Start("127.0.60.31:0", ntptest.Config{DelayBack: 70 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &Client{}
	defer c.Close()
	start := time.Now()
	o := exchange(t, c, s.Addr())
	took := time.Since(start)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if took < 4*dueUnknown {
		t.Errorf("the answer was reported after %v, before the second look (%v)", took, 4*dueUnknown)
	}
	if o.r.RTT < 70*time.Millisecond || o.r.RTT > 150*time.Millisecond {
		t.Errorf("round trip %v, want the server's 70ms (not the look's %v)", o.r.RTT, took)
	}
	c.mu.Lock()
	rtt := c.servers[s.Addr()].rtt
	c.mu.Unlock()
	if rtt < 70*time.Millisecond || rtt > 150*time.Millisecond {
		t.Errorf("remembered round trip %v, want about 70ms", rtt)
	}
}

// A silent server's exchange ends at the timeout, however the looks fall.
func TestClientLooksEndAtTimeout(t *testing.T) {
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lookStop != nil || !c.lookAt.IsZero() {
		t.Error("the look timer is still armed with nothing in flight")
	}
}

// A dry run's client dates the kernel's receive timestamp on its virtual
// clock (SystemTimeAt), and so can read late too.
func TestClientVirtualClockDetached(t *testing.T) {
	s := testServer(t, "127.0.60.32:0")
	c := &Client{
		GetSystemTime: func() time.Time { return time.Now().Add(-3 * time.Second) },
		SystemTimeAt:  func(t time.Time) time.Time { return t.Add(-3 * time.Second) },
	}
	defer c.Close()
	o := exchange(t, c, s.Addr())
	if o.err != nil {
		t.Fatal(o.err)
	}
	if d := o.r.ClockOffset - 3*time.Second; d.Abs() > 10*time.Millisecond {
		t.Errorf("offset %v against a clock 3 s behind, want 3s", o.r.ClockOffset)
	}
	if o.r.RTT < 0 || o.r.RTT > 20*time.Millisecond {
		t.Errorf("round trip %v on loopback", o.r.RTT)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if sv := c.servers[s.Addr()]; sv == nil || sv.sock.fd < 0 {
		t.Error("the dry run's socket is not detached")
	}
}

// pollerFDs lists the descriptors in this process's epoll instances (the
// runtime's poller), from /proc/self/fdinfo.
func pollerFDs(t *testing.T) map[int]bool {
	t.Helper()
	fds, err := filepath.Glob("/proc/self/fd/*")
	if err != nil {
		t.Fatal(err)
	}
	in := map[int]bool{}
	found := false
	for _, f := range fds {
		if l, _ := os.Readlink(f); l != "anon_inode:[eventpoll]" {
			continue
		}
		found = true
		b, err := os.ReadFile("/proc/self/fdinfo/" + filepath.Base(f))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if fs := strings.Fields(line); len(fs) >= 2 && fs[0] == "tfd:" {
				n, err := strconv.Atoi(fs[1])
				if err != nil {
					t.Fatalf("fdinfo line %q", line)
				}
				in[n] = true
			}
		}
	}
	if !found {
		t.Fatal("no epoll instance in this process")
	}
	return in
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
