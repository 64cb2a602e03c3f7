package serve

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// FuzzHandle feeds arbitrary datagrams from arbitrary clients through the
// request path under a table with every kind of rule. Whatever comes in:
// no panic; a reply only to a well-formed client request, 48 bytes and
// never longer than the request, mode 4, the request's version, the origin
// echoing the request's transmit timestamp; and no prefix of the datagram
// shorter than the header (a truncated packet) ever gets a reply.
//
// Seeds: the cases below and testdata/fuzz/FuzzHandle (the corpus of the
// 10-minute run, kept).
func FuzzHandle(f *testing.F) {
	ext := make([]byte, 16)
	binary.BigEndian.PutUint16(ext[2:], 16)
	for _, seed := range [][]byte{
		request(4, ModeClient, 0x0123456789abcdef),
		request(3, ModeClient, 1),
		request(1, ModeClient, 1),
		request(2, ModeControl, 1),
		request(2, ModePrivate, 1),
		request(4, ModeSymmetricActive, 1),
		append(request(4, ModeClient, 1), make([]byte, 20)...),
		append(request(4, ModeClient, 1), ext...),
		request(4, ModeClient, 1)[:47],
		{},
	} {
		for _, from := range []byte{0, 1, 2, 3, 9} {
			f.Add(seed, from, uint16(0))
		}
	}
	clients := []netip.Addr{
		netip.MustParseAddr("192.0.2.1"),   // default: served
		netip.MustParseAddr("10.0.0.1"),    // ignore
		netip.MustParseAddr("10.1.0.1"),    // noserve
		netip.MustParseAddr("10.2.0.1"),    // limited kod
		netip.MustParseAddr("2001:db8::1"), // limited
		netip.MustParseAddr("::ffff:10.0.0.1"),
	}
	clk := &fakeClock{t: time.Date(2036, 2, 7, 6, 28, 0, 0, time.UTC)}
	s := New(Options{Now: clk.now, Mono: clk.mono, Precision: -20, MRUSize: 8})
	s.SetRules(parseRules(f, "default nomodify", "10.0.0.0 mask 255.255.0.0 ignore", "10.1.0.0 mask 255.255.0.0 noserve",
		"10.2.0.0 mask 255.255.0.0 limited kod", "2001:db8:: mask ffff:ffff:: limited"))
	s.SetSync(synced)
	f.Fuzz(func(t *testing.T, req []byte, from byte, advanceMS uint16) {
		clk.advance(time.Duration(advanceMS) * time.Millisecond)
		client := clients[int(from)%len(clients)]
		reply, v := s.Handle(nil, req, client, clk.now())
		if len(reply) > 0 {
			r, err := ParseRequest(req)
			switch {
			case err != nil:
				t.Fatalf("reply (%v) to a malformed request (%v)", v, err)
			case r.Mode != ModeClient:
				t.Fatalf("reply (%v) to mode %d", v, r.Mode)
			case len(reply) != HeaderLen || len(reply) > len(req):
				t.Fatalf("reply of %d bytes to a request of %d", len(reply), len(req))
			case reply[0]&7 != ModeServer || (reply[0]>>3)&7 != r.Version:
				t.Fatalf("reply mode %d version %d to version %d", reply[0]&7, (reply[0]>>3)&7, r.Version)
			case binary.BigEndian.Uint64(reply[offOrigin:]) != r.Transmit:
				t.Fatalf("origin does not echo the request")
			case v != Answered && v != KoDSent:
				t.Fatalf("reply with verdict %v", v)
			}
		} else if v == Answered || v == KoDSent {
			t.Fatalf("verdict %v without a reply", v)
		}
		for n := 0; n < min(len(req), HeaderLen); n += 7 {
			if reply, v := s.Handle(nil, req[:n], client, clk.now()); len(reply) > 0 {
				t.Fatalf("truncated to %d bytes: reply (%v)", n, v)
			}
		}
	})
}
