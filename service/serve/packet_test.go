package serve

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestTimestampEras(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    time.Time
		want uint64
	}{
		{"unix epoch", time.Unix(0, 0), uint64(ntpEpochOffset) << 32},
		{"half second", time.Unix(0, 500_000_000), uint64(ntpEpochOffset)<<32 | 1<<31},
		{"last second of era 0", time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC), 0xffffffff << 32},
		{"era 1 starts", time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC), 0},
		{"era 1, a second later", time.Date(2036, 2, 7, 6, 28, 17, 0, time.UTC), 1 << 32},
	} {
		if got := Timestamp(tc.t); got != tc.want {
			t.Errorf("%s: Timestamp(%v) = %#x, want %#x", tc.name, tc.t, got, tc.want)
		}
	}
}

func TestTimeFromNTPRoundTripsAcrossEras(t *testing.T) {
	for _, s := range []string{"1990-05-01T00:00:00Z", "2026-11-30T19:00:00.25Z", "2036-02-07T06:28:15.999Z",
		"2036-02-07T06:28:16.5Z", "2040-01-01T00:00:00Z", "2100-06-01T12:00:00Z"} {
		want, _ := time.Parse(time.RFC3339Nano, s)
		for _, pivot := range []time.Duration{0, -30 * 24 * time.Hour, 30 * 24 * time.Hour, 50 * 365 * 24 * time.Hour} {
			got := TimeFromNTP(Timestamp(want), want.Add(pivot))
			if d := got.Sub(want); d < -time.Nanosecond || d > time.Nanosecond {
				t.Errorf("%s with pivot %+v: got %v, want %v", s, pivot, got, want)
			}
		}
	}
	// The zero timestamp means "unknown" (RFC 5905), even though it also
	// names the first instant of each era.
	if got := TimeFromNTP(0, time.Now()); !got.IsZero() {
		t.Errorf("TimeFromNTP(0) = %v, want the zero time", got)
	}
}

func TestShortFormat(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want uint32
	}{
		{0, 0}, {-time.Second, 0}, {time.Second, 1 << 16}, {1500 * time.Millisecond, 1<<16 | 1<<15},
		{15258 * time.Nanosecond, 0}, {15259 * time.Nanosecond, 1}, {100000 * time.Second, 0xffffffff},
	} {
		if got := ShortFormat(tc.d); got != tc.want {
			t.Errorf("ShortFormat(%v) = %#x, want %#x", tc.d, got, tc.want)
		}
	}
}

// request returns a 48-byte client request with version vn and transmit
// timestamp xmt.
func request(vn, mode uint8, xmt uint64) []byte {
	b := make([]byte, HeaderLen)
	b[0] = vn<<3 | mode
	b[2] = 6
	binary.BigEndian.PutUint64(b[offTransmit:], xmt)
	return b
}

func TestParseRequest(t *testing.T) {
	ext := func(n int) []byte { // one extension field of n bytes
		e := make([]byte, n)
		binary.BigEndian.PutUint16(e[0:], 0x0104)
		binary.BigEndian.PutUint16(e[2:], uint16(n))
		return e
	}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	good := request(4, ModeClient, 0x0123456789abcdef)
	for _, tc := range []struct {
		name string
		b    []byte
		err  error
	}{
		{"v4 client", good, nil},
		{"v1 client", request(1, ModeClient, 1), nil},
		{"v3 control", request(3, ModeControl, 1), nil},
		{"with MD5 MAC", cat(good, make([]byte, 20)), nil},
		{"with SHA-1 MAC", cat(good, make([]byte, 24)), nil},
		{"with extension field", cat(good, ext(16)), nil},
		{"extension fields and MAC", cat(good, ext(16), ext(32), make([]byte, 20)), nil},
		{"empty", nil, ErrShort},
		{"47 bytes", good[:47], ErrShort},
		{"unaligned", cat(good, []byte{0, 0}), ErrAlignment},
		{"4 stray bytes", cat(good, make([]byte, 4)), ErrTrailer},
		{"extension field longer than the packet", cat(good, ext(32)[:16]), ErrTrailer},
		{"extension field of length 0", cat(good, make([]byte, 16)), ErrTrailer},
		{"version 0", request(0, ModeClient, 1), ErrVersion},
		{"version 5", request(5, ModeClient, 1), ErrVersion},
		{"mode 0", request(4, ModeReserved, 1), ErrMode},
		{"too long", cat(good, ext(1000)), ErrTooLong},
	} {
		r, err := ParseRequest(tc.b)
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: got error %v, want %v", tc.name, err, tc.err)
			continue
		}
		if err == nil && r.Len != len(tc.b) {
			t.Errorf("%s: Len %d, want %d", tc.name, r.Len, len(tc.b))
		}
	}
	r, _ := ParseRequest(good)
	if r.Version != 4 || r.Mode != ModeClient || r.Poll != 6 || r.Transmit != 0x0123456789abcdef {
		t.Errorf("ParseRequest = %+v, want version 4, mode 3, poll 6, transmit 0x0123456789abcdef", r)
	}
}

func TestAppendReply(t *testing.T) {
	req := Request{Version: 3, Mode: ModeClient, Poll: 10, Transmit: 0xfeedface_cafebabe, Len: 48}
	ref := time.Date(2036, 2, 7, 6, 28, 10, 0, time.UTC)
	rx := time.Date(2036, 2, 7, 6, 28, 20, 250_000_000, time.UTC)
	b := AppendReply(nil, req, Reply{Leap: LeapAdd, Stratum: 3, Poll: 10, Precision: -23,
		RootDelay: 2 * time.Millisecond, RootDispersion: time.Second, RefID: [4]byte{127, 0, 0, 1}, RefTime: ref, Receive: rx})
	SetTransmit(b, rx.Add(time.Microsecond))
	if len(b) != HeaderLen {
		t.Fatalf("reply is %d bytes, want %d", len(b), HeaderLen)
	}
	if got, want := b[0], byte(LeapAdd<<6|3<<3|ModeServer); got != want {
		t.Errorf("first byte %#x, want %#x (leap 1, version 3, mode 4)", got, want)
	}
	if b[1] != 3 || int8(b[2]) != 10 || int8(b[3]) != -23 {
		t.Errorf("stratum %d poll %d precision %d, want 3 10 -23", b[1], int8(b[2]), int8(b[3]))
	}
	if got := binary.BigEndian.Uint32(b[offRootDisp:]); got != 1<<16 {
		t.Errorf("root dispersion %#x, want 0x10000", got)
	}
	if got := binary.BigEndian.Uint64(b[offOrigin:]); got != req.Transmit {
		t.Errorf("origin %#x, want the request's transmit %#x", got, req.Transmit)
	}
	pivot := rx
	if got := TimeFromNTP(binary.BigEndian.Uint64(b[offRefTime:]), pivot); !got.Equal(ref) {
		t.Errorf("reference time %v, want %v (across the era boundary)", got, ref)
	}
	if got := TimeFromNTP(binary.BigEndian.Uint64(b[offReceive:]), pivot); got.Sub(rx).Abs() > time.Nanosecond {
		t.Errorf("receive time %v, want %v", got, rx)
	}
	if got := TimeFromNTP(binary.BigEndian.Uint64(b[offTransmit:]), pivot); got.Sub(rx.Add(time.Microsecond)).Abs() > time.Nanosecond {
		t.Errorf("transmit time %v, want %v", got, rx.Add(time.Microsecond))
	}
}

func TestRefID(t *testing.T) {
	if got := RefID(netip.MustParseAddr("192.0.2.7")); got != [4]byte{192, 0, 2, 7} {
		t.Errorf("RefID(192.0.2.7) = %v", got)
	}
	if got := RefID(netip.MustParseAddr("::ffff:192.0.2.7")); got != [4]byte{192, 0, 2, 7} {
		t.Errorf("RefID(::ffff:192.0.2.7) = %v, want the IPv4 address", got)
	}
	a, b := RefID(netip.MustParseAddr("2001:db8::1")), RefID(netip.MustParseAddr("2001:db8::2"))
	if a == b || a == [4]byte{0x20, 0x01, 0x0d, 0xb8} {
		t.Errorf("IPv6 reference IDs %v %v: want distinct hashes, not the address", a, b)
	}
}
