package serve

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// hundredRules is a 100-rule table like make bench-serve's.
func hundredRules(tb testing.TB) *Server {
	lines := []string{"default kod limited nomodify notrap nopeer noquery", "127.100.0.0 mask 255.254.0.0 limited kod"}
	for i := 0; len(lines) < 99; i++ {
		lines = append(lines, fmt.Sprintf("10.%d.%d.0 mask 255.255.255.0 nomodify noquery", i/256, i%256))
	}
	lines = append(lines, "127.0.0.0 mask 255.0.0.0 nomodify notrap nopeer noquery")
	clk := &fakeClock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	s := New(Options{Now: clk.now, Mono: clk.mono, Precision: -20})
	s.SetRules(parseRules(tb, lines...))
	s.SetSync(synced)
	return s
}

// The request path for an unlimited client under 100 rules.
func BenchmarkHandle(b *testing.B) {
	s := hundredRules(b)
	req := request(4, ModeClient, 1)
	client := netip.MustParseAddr("127.0.0.1")
	rx := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	out := make([]byte, 0, HeaderLen)
	b.ReportAllocs()
	for b.Loop() {
		if r, v := s.Handle(out[:0], req, client, rx); v != Answered || len(r) != HeaderLen {
			b.Fatal(v)
		}
	}
}

// The request path for "limited" clients from ever new addresses: every
// request enters the MRU table, recycling its oldest entry.
func BenchmarkHandleLimitedFlood(b *testing.B) {
	s := hundredRules(b)
	req := request(4, ModeClient, 1)
	rx := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	out := make([]byte, 0, HeaderLen)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a := netip.AddrFrom4([4]byte{127, byte(100 + i>>16&1), byte(i >> 8), byte(i)})
		s.Handle(out[:0], req, a, rx)
		i++
	}
}
