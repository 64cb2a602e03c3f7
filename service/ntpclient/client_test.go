package ntpclient

import (
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/beevik/ntp"

	"github.com/timesync/timesync/internal/ntptest"
	"github.com/timesync/timesync/service/engine"
)

type outcome struct {
	r   *ntp.Response
	err error
}

// exchange runs one Client exchange and waits for its outcome.
func exchange(t *testing.T, c *Client, addr string) outcome {
	t.Helper()
	ch := make(chan outcome, 1)
	c.Exchange(addr, func(r *ntp.Response, err error) { ch <- outcome{r, err} })
	select {
	case o := <-ch:
		return o
	case <-time.After(time.Minute):
		t.Fatal("exchange never ended")
		return outcome{}
	}
}

// localPort is the local port of the socket the client keeps for addr;
// 0 if none is open.
func localPort(c *Client, addr string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sv := c.servers[addr]; sv != nil {
		return sv.sock.conn.LocalAddr().(*net.UDPAddr).Port
	}
	return 0
}

// Answers are measured as by Query, and the socket stays open between
// exchanges (the point of the Client).
func TestClientKeepsSocket(t *testing.T) {
	s, err := ntptest.Start("127.0.60.20:0", ntptest.Config{Offset: 40 * time.Millisecond, Stratum: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &Client{}
	defer c.Close()
	var port int
	for i := range 3 {
		o := exchange(t, c, s.Addr())
		if o.err != nil {
			t.Fatalf("exchange %d: %v", i, o.err)
		}
		smp, err := engine.Validate(o.r, engine.ValidateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d := smp.Offset - 40*time.Millisecond; d.Abs() > 10*time.Millisecond { // loose: a loaded machine delays one leg
			t.Errorf("offset %v, want 40ms", smp.Offset)
		}
		p := localPort(c, s.Addr())
		if p == 0 || (port != 0 && p != port) {
			t.Errorf("exchange %d on local port %d, want the same open socket (%d)", i, p, port)
		}
		port = p
	}
	if got := s.Requests(); got != 3 {
		t.Errorf("server saw %d requests, want 3", got)
	}
}

// A refused port is ErrRefused, and a failed exchange's socket is not
// kept: the next exchange opens a new one.
func TestClientRefusedAndTimeout(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.60.21:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	c := &Client{Timeout: 5 * time.Second}
	defer c.Close()
	if o := exchange(t, c, addr); !errors.Is(o.err, engine.ErrRefused) || !errors.Is(o.err, engine.ErrNoReply) {
		t.Errorf("refused port: got %v, want ErrRefused (and ErrNoReply)", o.err)
	}
	if p := localPort(c, addr); p != 0 {
		t.Errorf("socket on port %d kept after a refusal", p)
	}

	silent := silent(t)
	c = &Client{Timeout: 200 * time.Millisecond}
	defer c.Close()
	o := exchange(t, c, silent)
	if !errors.Is(o.err, engine.ErrNoReply) || !strings.HasSuffix(o.err.Error(), "no reply within 200ms") {
		t.Errorf("silent server: got %v, want ErrNoReply ending %q", o.err, "no reply within 200ms")
	}
	if p := localPort(c, silent); p != 0 {
		t.Errorf("socket on port %d kept after a timeout", p)
	}
}

// Broken answers are judged as Query judges them, and the socket is
// renewed after each.
func TestClientMalformed(t *testing.T) {
	for _, k := range ntptest.MalformedKinds() {
		s, err := ntptest.Start("127.0.60.22:0", ntptest.Config{Malformed: k})
		if err != nil {
			t.Fatal(err)
		}
		c := &Client{}
		o := exchange(t, c, s.Addr())
		want := engine.ErrBadMode
		if k == ntptest.MalformedWrongOrigin {
			want = engine.ErrOriginMismatch
		}
		if !errors.Is(o.err, want) && !(k == ntptest.MalformedGarbage && errors.Is(o.err, engine.ErrOriginMismatch)) {
			t.Errorf("%s: got %v, want %v", k, o.err, want)
		}
		if p := localPort(c, s.Addr()); p != 0 {
			t.Errorf("%s: socket kept after a broken answer", k)
		}
		c.Close()
		s.Close()
	}
}

// Close ends an exchange in flight at once, not at its timeout; Forget
// and Close leave nothing open; a second exchange with a server that has
// one in flight fails at once.
func TestClientCloseAndBusy(t *testing.T) {
	addr := silent(t)
	c := &Client{Timeout: time.Hour}
	first := make(chan outcome, 1)
	c.Exchange(addr, func(r *ntp.Response, err error) { first <- outcome{r, err} })
	if o := exchange(t, c, addr); o.err == nil || !errors.Is(o.err, engine.ErrNoReply) || !strings.Contains(o.err.Error(), "in flight") {
		t.Errorf("second exchange in flight: got %v, want an immediate ErrNoReply", o.err)
	}
	c.Forget("127.0.60.99:123") // unknown: nothing happens
	if localPort(c, addr) == 0 {
		t.Fatal("no socket open during the exchange")
	}
	c.Close()
	select {
	case o := <-first:
		if !errors.Is(o.err, engine.ErrNoReply) {
			t.Errorf("closed in flight: got %v, want ErrNoReply", o.err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close left an exchange waiting for its timeout")
	}
	if o := exchange(t, c, addr); !errors.Is(o.err, engine.ErrNoReply) {
		t.Errorf("after Close: got %v, want ErrNoReply", o.err)
	}
	if localPort(c, addr) != 0 {
		t.Error("a socket is open after Close")
	}
}

// The dry run's clock is the one the client's timestamps are read from.
func TestClientVirtualClock(t *testing.T) {
	s, err := ntptest.Start("127.0.60.23:0", ntptest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &Client{GetSystemTime: func() time.Time { return time.Now().Add(-3 * time.Second) }}
	defer c.Close()
	o := exchange(t, c, s.Addr())
	if o.err != nil {
		t.Fatal(o.err)
	}
	if d := o.r.ClockOffset - 3*time.Second; d.Abs() > 10*time.Millisecond {
		t.Errorf("offset %v against a clock 3 s behind, want 3s", o.r.ClockOffset)
	}
}

// Renewed sockets take their goroutines with them: after many exchanges,
// failed and answered, one goroutine per server with an open socket is
// left, and none once the client is closed.
func TestClientGoroutinesFlat(t *testing.T) {
	s, err := ntptest.Start("127.0.60.24:0", ntptest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pc, err := net.ListenPacket("udp", "127.0.60.25:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := pc.LocalAddr().String()
	pc.Close()
	g0 := runtime.NumGoroutine()
	c := &Client{}
	for range 30 {
		if o := exchange(t, c, s.Addr()); o.err != nil {
			t.Fatal(o.err)
		}
		if o := exchange(t, c, refused); !errors.Is(o.err, engine.ErrRefused) {
			t.Fatalf("got %v, want ErrRefused", o.err)
		}
	}
	goroutines := func(want int) {
		t.Helper()
		var g int
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if g = runtime.NumGoroutine(); g <= want {
				return
			}
		}
		t.Errorf("%d goroutines, want at most %d", g, want)
	}
	goroutines(g0 + 1) // the answered server's reader
	c.Close()
	goroutines(g0)
}
