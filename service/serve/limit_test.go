package serve

import (
	"runtime"
	"testing"
	"time"
)

func addr16(i uint32) [16]byte {
	var a [16]byte
	a[10], a[11] = 0xff, 0xff
	a[12], a[13], a[14], a[15] = 127, byte(i>>16), byte(i>>8), byte(i)
	return a
}

// ntpd's rules: the first request is served; requests closer than the
// minimum (2 s less 1 s of grace) are over the limit; the first excess
// gets a KoD and further excess is silent until the bucket drains.
func TestLimiterFollowsNtpd(t *testing.T) {
	l := NewLimiter(16)
	a := addr16(1)
	s := time.Second
	for i, tc := range []struct {
		at   time.Duration
		want limitVerdict
	}{
		{0, limitOK},                       // new client
		{500 * time.Millisecond, limitKoD}, // 0.5 s: under the minimum, first excess
		{1 * s, limitExceeded},             // bucket above the limit: silent
		{1500 * time.Millisecond, limitExceeded},
		{60 * s, limitOK},     // 58.5 s later the 72 s bucket has drained to 13.5 s
		{64 * s, limitOK},     // every 4 s: fills by 8 − 4 − 2 = 2 s a request
		{128 * s, limitOK},    // drained
		{129 * s, limitOK},    // 1 s spacing passes the minimum (grace)
		{129*s + 1, limitKoD}, // back to back
	} {
		if got := l.Check(a, tc.at); got != tc.want {
			t.Errorf("request %d at %v: got %v, want %v", i, tc.at, got, tc.want)
		}
	}
}

// A client that keeps ntpd's average is never limited (8 s, or 6 s with
// the 2 s of grace); faster ones are limited once the credit of 8
// headways is used up, sooner the faster they send.
func TestLimiterAverage(t *testing.T) {
	for _, tc := range []struct {
		every          time.Duration
		wantFirstLimit int // request index, -1 never
	}{
		{8 * time.Second, -1},
		{6 * time.Second, -1},
		{4 * time.Second, 29},
		{2 * time.Second, 15},
	} {
		l := NewLimiter(4)
		first := -1
		for i := 0; i < 200; i++ {
			if l.Check(addr16(9), time.Duration(i)*tc.every) != limitOK && first < 0 {
				first = i
			}
		}
		if first != tc.wantFirstLimit {
			t.Errorf("every %v: first limited request %d, want %d", tc.every, first, tc.wantFirstLimit)
		}
	}
}

// The table never holds more than its size; the least recently seen
// client is recycled, the recently seen ones keep their state.
func TestLimiterRecyclesLeastRecent(t *testing.T) {
	l := NewLimiter(3)
	for i := uint32(1); i <= 3; i++ {
		l.Check(addr16(i), 0)
	}
	l.Check(addr16(1), time.Second) // 1 is now the most recent
	l.Check(addr16(4), 2*time.Second)
	if l.Len() != 3 || l.Evictions() != 1 {
		t.Fatalf("len %d evictions %d, want 3 and 1", l.Len(), l.Evictions())
	}
	// 2 was least recent and is forgotten: its next request is a new
	// client's (served at once); 1 is remembered (too soon: limited).
	if got := l.Check(addr16(1), time.Second+time.Millisecond); got == limitOK {
		t.Errorf("client 1 forgotten; want it remembered and limited")
	}
	if got := l.Check(addr16(2), 2*time.Second+time.Millisecond); got != limitOK {
		t.Errorf("client 2: got %v, want a fresh entry (served)", got)
	}
}

// Many clients in and out of a small table: every lookup still finds
// exactly the clients the MRU list holds (backward-shift deletion keeps
// the hash table consistent).
func TestLimiterTableConsistent(t *testing.T) {
	l := NewLimiter(64)
	var order []uint32 // most recent last
	for i := 0; i < 20000; i++ {
		a := uint32(i*7919) % 500
		l.Check(addr16(a), time.Duration(i)*time.Hour) // far apart: always OK
		for j, x := range order {
			if x == a {
				order = append(order[:j], order[j+1:]...)
				break
			}
		}
		order = append(order, a)
		if len(order) > 64 {
			order = order[1:]
		}
	}
	for a := uint32(0); a < 500; a++ {
		_, found := l.lookup(addr16(a))
		want := false
		for _, x := range order {
			want = want || x == a
		}
		if found != want {
			t.Fatalf("client %d: found %v, want %v", a, found, want)
		}
	}
}

// 100,000 distinct clients (the benchmark's spoofed flood) into the
// default table: the heap does not grow.
func TestLimiterMemoryFlat(t *testing.T) {
	l := NewLimiter(0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := uint32(0); i < 100_000; i++ {
		l.Check(addr16(i), time.Duration(i)*time.Millisecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap growth after 100,000 clients: %d bytes (table holds %d, %d recycled)", grew, l.Len(), l.Evictions())
	if grew > 64<<10 {
		t.Errorf("heap grew by %d bytes, want none to speak of", grew)
	}
	if l.Len() != DefaultMRUSize || l.Evictions() != 100_000-DefaultMRUSize {
		t.Errorf("len %d evictions %d, want %d and %d", l.Len(), l.Evictions(), DefaultMRUSize, 100_000-DefaultMRUSize)
	}
}

func (v limitVerdict) String() string {
	return [...]string{"ok", "exceeded", "kod"}[v]
}
