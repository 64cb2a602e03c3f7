package ntpclient

import (
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/beevik/ntp"

	"github.com/timesync/timesync/internal/ntptest"
)

// fixedServer answers every request with h, its origin timestamp set to
// the request's transmit timestamp: two clients asking it get the very
// same bytes.
func fixedServer(t *testing.T, h ntptest.Header) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.60.10:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			req, ok := ntptest.ParseHeader(buf[:n])
			if !ok {
				continue
			}
			h := h
			h.Origin = req.Transmit
			c.WriteTo(h.Marshal(), from)
		}
	}()
	return c.LocalAddr().String()
}

// The packet reading gives the engine what beevik/ntp's client gave it:
// both read the same answers; every field that does not depend on the
// client's own clock must be equal, and those that do must follow from
// the four timestamps as beevik's do.
func TestParseMatchesBeevik(t *testing.T) {
	at := func(s string) ntptest.Timestamp {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ntptest.ToTimestamp(tm)
	}
	base := ntptest.Header{Version: 4, Mode: 4, Stratum: 2, Poll: 6, Precision: -23,
		RootDelay: 0x0000_0123, RootDispersion: 0x0001_8001, RefID: 0x0a000001,
		RefTime: at("2031-05-06T07:08:01.5Z"), Receive: at("2031-05-06T07:08:09.123456789Z"), Transmit: at("2031-05-06T07:08:09.123500001Z")}
	mod := func(f func(h *ntptest.Header)) ntptest.Header {
		h := base
		f(&h)
		return h
	}
	for name, h := range map[string]ntptest.Header{
		"stratum 2":   base,
		"leap insert": mod(func(h *ntptest.Header) { h.Leap = 1 }),
		"stratum 1": mod(func(h *ntptest.Header) {
			h.Stratum, h.RefID, h.Precision, h.Poll = 1, ntptest.RefIDFromString("GPS"), 3, -3
		}),
		"kiss RATE": mod(func(h *ntptest.Header) { h.Stratum, h.Leap, h.RefID = 0, 3, ntptest.RefIDFromString("RATE") }),
		"unsync":    mod(func(h *ntptest.Header) { h.Stratum, h.Leap = 16, 3 }),
		"version 3": mod(func(h *ntptest.Header) { h.Version = 3 }),
		"after 2036": mod(func(h *ntptest.Header) {
			h.RefTime, h.Receive, h.Transmit = at("2036-02-07T06:28:10Z"), at("2036-02-07T06:28:20Z"), at("2036-02-07T06:28:20.000001Z")
		}),
		"stale, far":   mod(func(h *ntptest.Header) { h.RefTime, h.RootDispersion = at("2030-01-01T00:00:00Z"), 0xffff_ffff }),
		"no reference": mod(func(h *ntptest.Header) { h.RefTime = 0 }),
	} {
		addr := fixedServer(t, h)
		want, werr := ntp.QueryWithOptions(addr, ntp.QueryOptions{Timeout: 2 * time.Second})
		got, err := Querier{}.Query(t.Context(), addr)
		if werr != nil || err != nil {
			t.Fatalf("%s: got error %v, beevik's %v", name, err, werr)
		}
		ts := got.Timestamps
		if off := (ts.ServerRecv.Sub(ts.ClientXmit) + ts.ServerXmit.Sub(ts.ClientRecv)) / 2; got.ClockOffset != off {
			t.Errorf("%s: offset %v, want %v from the timestamps", name, got.ClockOffset, off)
		}
		if rtt := max(ts.ClientRecv.Sub(ts.ClientXmit)-ts.ServerXmit.Sub(ts.ServerRecv), 0); got.RTT != rtt {
			t.Errorf("%s: RTT %v, want %v from the timestamps", name, got.RTT, rtt)
		}
		if d := got.RootDistance - (got.RTT+got.RootDelay)/2 - got.RootDispersion; d != 0 {
			t.Errorf("%s: root distance off by %v", name, d)
		}
		if me := max(got.ClockOffset.Abs()-got.RTT/2, 0); got.MinError != me {
			t.Errorf("%s: MinError %v, want %v", name, got.MinError, me)
		}
		gotErr, wantErr := got.Validate(), want.Validate()
		// The client-clock parts aside, the rest must be beevik's.
		for _, r := range []*ntp.Response{got, want} {
			r.ClockOffset, r.RTT, r.MinError, r.RootDistance = 0, 0, 0, 0
			r.Timestamps.ClientXmit, r.Timestamps.ClientRecv = time.Time{}, time.Time{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", name, *got, *want)
		}
		if gotErr != wantErr {
			t.Errorf("%s: Validate %v, beevik's %v", name, gotErr, wantErr)
		}
	}
}

func TestTimestampConversions(t *testing.T) {
	tests := []struct {
		ts   uint64
		want time.Time
	}{
		{2208988800 << 32, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)},
		{(2208988800+1)<<32 | 1<<31, time.Date(1970, 1, 1, 0, 0, 1, 5e8, time.UTC)},
		{0xffffffff << 32, time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC)},
		{0, time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC)},        // era 1 begins
		{10 << 32, time.Date(2036, 2, 7, 6, 28, 26, 0, time.UTC)}, // after the rollover
		{1, time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC)},        // 0.23 ns rounds down
		{3, time.Date(2036, 2, 7, 6, 28, 16, 1, time.UTC)},        // 0.70 ns rounds up
	}
	for _, tt := range tests {
		if got := timestampTime(tt.ts); !got.Equal(tt.want) {
			t.Errorf("timestampTime(%#x) = %v, want %v", tt.ts, got, tt.want)
		}
	}
	for _, tt := range []struct {
		v    uint32
		want time.Duration
	}{{0, 0}, {1 << 16, time.Second}, {1 << 15, 500 * time.Millisecond}, {1, 15259 * time.Nanosecond}, {0x00010001, time.Second + 15259*time.Nanosecond}} {
		if got := shortDuration(tt.v); got != tt.want {
			t.Errorf("shortDuration(%#x) = %v, want %v", tt.v, got, tt.want)
		}
	}
	for _, tt := range []struct {
		e    int8
		want time.Duration
	}{{0, time.Second}, {4, 16 * time.Second}, {-1, 500 * time.Millisecond}, {-20, 953 * time.Nanosecond}, {-128, 0}} {
		if got := expInterval(tt.e); got != tt.want {
			t.Errorf("expInterval(%d) = %v, want %v", tt.e, got, tt.want)
		}
	}
	if got := kissCode(0x52415445); got != "RATE" {
		t.Errorf("kissCode = %q, want RATE", got)
	}
	if got := kissCode(0x7f000001); got != "" {
		t.Errorf("kissCode of an address = %q, want empty", got)
	}
}

func TestRequest(t *testing.T) {
	b := putRequest(make([]byte, 100), 0x0102030405060708)
	if len(b) != headerSize || b[0] != 0x23 {
		t.Fatalf("request %d bytes, first %#x; want 48, 0x23 (version 4, client)", len(b), b[0])
	}
	for i, c := range b[1:40] {
		if c != 0 {
			t.Fatalf("byte %d = %#x, want 0 (nothing about us on the wire)", i+1, c)
		}
	}
	if got := b[40:]; string(got) != "\x01\x02\x03\x04\x05\x06\x07\x08" {
		t.Errorf("transmit timestamp %x, want the cookie", got)
	}
}

// TestNewCookie: cookies are never zero (a zero origin means "none" on
// the wire) and do not repeat.
func TestNewCookie(t *testing.T) {
	seen := map[uint64]bool{}
	for range 10000 {
		c, err := newCookie()
		if err != nil {
			t.Fatal(err)
		}
		if c == 0 || seen[c] {
			t.Fatalf("cookie %#x: zero or seen before", c)
		}
		seen[c] = true
	}
}
