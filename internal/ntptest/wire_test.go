package ntptest

import (
	"bytes"
	"testing"
	"time"
)

func TestToTimestamp(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want Timestamp
	}{
		{"era 0 start", Era0, 0},
		{"unix epoch", time.Unix(0, 0), 2208988800 << 32},
		{"half second", time.Unix(0, 500_000_000), 2208988800<<32 | 1<<31},
		{"last second of era 0", Era1.Add(-time.Second), 0xffffffff << 32},
		{"era 1 start wraps to zero", Era1, 0},
		{"era 1 plus 1.25 s", Era1.Add(1250 * time.Millisecond), 1<<32 | 1<<30},
		{"largest fraction", time.Unix(0, 999_999_999), 2208988800<<32 | 0xfffffffc},
		{"year 2040", time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
			Timestamp(uint64(time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC).Sub(Era1)/time.Second) << 32)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ToTimestamp(tt.t); got != tt.want {
				t.Errorf("ToTimestamp(%v) = %#016x, want %#016x", tt.t, uint64(got), uint64(tt.want))
			}
		})
	}
}

func TestTimestampEraRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		t     time.Time
		pivot time.Time
	}{
		{"now-ish", time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"just before rollover", Era1.Add(-3 * time.Millisecond), Era1},
		{"exactly rollover", Era1, Era1.Add(-time.Hour)},
		{"just after rollover, pivot before", Era1.Add(5*time.Second + 250*time.Millisecond), Era1.Add(-10 * time.Second)},
		{"just before rollover, pivot after", Era1.Add(-5 * time.Second), Era1.Add(10 * time.Second)},
		{"far into era 1", time.Date(2100, 3, 4, 5, 6, 7, 0, time.UTC), time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"1970", time.Unix(0, 0).UTC(), time.Unix(0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ToTimestamp(tt.t).Time(tt.pivot)
			if d := got.Sub(tt.t); d < -time.Nanosecond || d > time.Nanosecond {
				t.Errorf("round trip of %v with pivot %v = %v (off by %v)", tt.t, tt.pivot, got, d)
			}
		})
	}
}

func TestEraRolloverWrapsSeconds(t *testing.T) {
	before := ToTimestamp(Era1.Add(-time.Second))
	after := ToTimestamp(Era1.Add(time.Second))
	if got, want := uint32(before>>32), uint32(0xffffffff); got != want {
		t.Errorf("seconds field 1 s before rollover = %#x, want %#x", got, want)
	}
	if got, want := uint32(after>>32), uint32(1); got != want {
		t.Errorf("seconds field 1 s after rollover = %#x, want %#x", got, want)
	}
	// The wrapped value must still decode after the rollover, not in 1900.
	if got := after.Time(Era1.Add(-time.Minute)); !got.Equal(Era1.Add(time.Second)) {
		t.Errorf("decoded %v, want %v", got, Era1.Add(time.Second))
	}
}

func TestShortFormat(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want uint32
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Second, 1 << 16},
		{500 * time.Millisecond, 1 << 15},
		{15259 * time.Nanosecond, 1}, // 2⁻¹⁶ s ≈ 15.259 µs
		{100000 * time.Hour, 0xffffffff},
	}
	for _, tt := range tests {
		if got := ShortFromDuration(tt.d); got != tt.want {
			t.Errorf("ShortFromDuration(%v) = %#x, want %#x", tt.d, got, tt.want)
		}
	}
	if got, want := ShortToDuration(3<<15), 1500*time.Millisecond; got != want {
		t.Errorf("ShortToDuration(1.5 s) = %v, want %v", got, want)
	}
}

func TestHeaderMarshalParse(t *testing.T) {
	h := Header{
		Leap: 2, Version: 4, Mode: ModeServer, Stratum: 3, Poll: 6, Precision: -23,
		RootDelay: 0x00010002, RootDispersion: 0x00030004, RefID: RefIDFromString("GPS"),
		RefTime: 0x0102030405060708, Origin: 0x1112131415161718,
		Receive: 0x2122232425262728, Transmit: 0x3132333435363738,
	}
	b := h.Marshal()
	if len(b) != HeaderSize {
		t.Fatalf("len = %d, want %d", len(b), HeaderSize)
	}
	if got, want := b[0], byte(2<<6|4<<3|4); got != want {
		t.Errorf("first byte = %#08b, want %#08b", got, want)
	}
	if got, want := b[12:16], []byte("GPS\x00"); !bytes.Equal(got, want) {
		t.Errorf("refid bytes = %q, want %q", got, want)
	}
	got, ok := ParseHeader(b)
	if !ok {
		t.Fatal("ParseHeader rejected a full header")
	}
	if got != h {
		t.Errorf("round trip = %+v, want %+v", got, h)
	}
	if _, ok := ParseHeader(b[:47]); ok {
		t.Error("ParseHeader accepted 47 bytes")
	}
}
