package ntpclient

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/timesync/timesync/internal/ntptest"
	"github.com/timesync/timesync/service/engine"
)

// silent listens on loopback and never answers.
func silent(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.60.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String()
}

func TestQueryAnswers(t *testing.T) {
	s, err := ntptest.Start("127.0.60.2:0", ntptest.Config{Offset: 40 * time.Millisecond, Stratum: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := Querier{}.Query(context.Background(), s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	smp, err := engine.Validate(r, engine.ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := smp.Offset - 40*time.Millisecond; d.Abs() > 10*time.Millisecond { // loose: a loaded machine delays one leg
		t.Errorf("offset %v, want 40ms", smp.Offset)
	}
}

// A refused port is ErrRefused (final for a burst), still "no reply".
func TestQueryRefused(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.60.3:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	_, err = Querier{Timeout: 5 * time.Second}.Query(context.Background(), addr)
	if !errors.Is(err, engine.ErrRefused) || !errors.Is(err, engine.ErrNoReply) {
		t.Errorf("got %v, want ErrRefused (and ErrNoReply)", err)
	}
}

// A timeout reads in whole units ("no reply within 1s"), and a caller
// that gives up ends the exchange at once rather than at its timeout:
// the bound below is the 1 h timeout's, not a speed target.
func TestQueryTimeoutAndCancel(t *testing.T) {
	addr := silent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Querier{Timeout: time.Second}.Query(ctx, addr)
	if !errors.Is(err, engine.ErrNoReply) {
		t.Fatalf("got %v, want ErrNoReply", err)
	}

	_, err = Querier{Timeout: 200 * time.Millisecond}.Query(context.Background(), addr)
	if err == nil || !strings.HasSuffix(err.Error(), "no reply within 200ms") {
		t.Errorf("got %q, want it to end with %q", err, "no reply within 200ms")
	}

	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Querier{Timeout: time.Hour}.Query(ctx, addr)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, engine.ErrNoReply) || !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want ErrNoReply wrapping context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a cancelled query waited for its timeout")
	}
}
