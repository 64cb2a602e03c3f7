//go:build linux

package main

import (
	"math"
	"testing"
	"time"
)

func samplesOf(offsetsMS ...float64) []offsetSample {
	s := make([]offsetSample, len(offsetsMS))
	for i, o := range offsetsMS {
		s[i] = offsetSample{at: time.Duration(i) * 10 * time.Second, offset: time.Duration(o * 1e6)}
	}
	return s
}

func TestConvergedAt(t *testing.T) {
	tests := []struct {
		name   string
		s      []offsetSample
		want   time.Duration
		wantOK bool
	}{
		{"never", samplesOf(100, 50, 2), 0, false},
		{"from the third", samplesOf(100, 5, 0.5, -0.4, 0.9), 20 * time.Second, true},
		{"left again and came back", samplesOf(0.5, 2, 0.5, 0.1), 20 * time.Second, true},
		{"at the limit is not good", samplesOf(0.2, 1.0), 0, false},
		{"all good", samplesOf(0.1, 0.2), 0, true},
		{"empty", nil, 0, false},
	}
	for _, tt := range tests {
		got, ok := convergedAt(tt.s, time.Millisecond)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: got %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestFirstBelowAndOverTime(t *testing.T) {
	s := samplesOf(100, 0.5, 2, 1.5, 0.2, 3, 0.1) // every 10 s
	first, ok := firstBelow(s, time.Millisecond)
	if !ok || first != 10*time.Second {
		t.Errorf("firstBelow = %v, %v; want 10s", first, ok)
	}
	if got := overTime(s, first, time.Millisecond); got != 30*time.Second {
		t.Errorf("overTime = %v, want 30s (20-40 s and 50-60 s)", got)
	}
	if got := maxAbsSince(s, 35*time.Second); got != 3*time.Millisecond {
		t.Errorf("maxAbsSince = %v, want 3ms", got)
	}
}

func TestFinalOffset(t *testing.T) {
	// Last 30 s: samples at 30..60 s → 5, 0.3, -0.1, 0.2 → median (upper) 0.3.
	s := samplesOf(100, 50, 10, 5, 0.3, -0.1, 0.2)
	if got, want := finalOffset(s, 30*time.Second), 300*time.Microsecond; got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestFrequencyError(t *testing.T) {
	// Raw clock: one sample every 10 s. The server runs +60 ppm against
	// it; the kernel's frequency ends at +59.5 ppm, but the guest clock
	// runs +61 ppm in the last 40 s (a slew still taking 60 µs back) and
	// wildly off before, which must not matter: the frequency error is
	// −0.5 ppm, the offset's drift over the window +1 ppm.
	var s []offsetSample
	for i := 0; i <= 10; i++ {
		raw := int64(i) * 10e9
		server := int64(float64(raw) * 60e-6)
		clockRate := 61e-6
		if i < 6 {
			clockRate = 10e-6
		}
		phase := int64(float64(raw) * clockRate)
		if i >= 6 { // continuous at i = 6
			phase = int64(60e9*10e-6) + int64(float64(raw-60e9)*clockRate)
		}
		s = append(s, offsetSample{at: time.Duration(raw), raw: raw, phase: phase, offset: time.Duration(server - phase)})
	}
	for i := range s {
		s[i].kernelPPM = math.NaN()
	}
	r := frequencyError(s, 40*time.Second, 59.5)
	if math.Abs(r.serverPPM-60) > 1e-6 || math.Abs(r.clockPPM-61) > 1e-6 || math.Abs(r.errPPM+0.5) > 1e-6 || math.Abs(r.driftPPM-1) > 1e-6 {
		t.Errorf("got %+v, want server 60, clock 61, error -0.5 ppm, drift +1 ppm", r)
	}
	if r := frequencyError(s, 40*time.Second, math.NaN()); !math.IsNaN(r.errPPM) {
		t.Errorf("without the kernel's frequency: error %v, want NaN (and the check failing)", r.errPPM)
	}
	// Readings with the samples: the median over the window, a reading
	// during a slew (559.5 ppm) and the readings before the window
	// (10 ppm) left out; the one at the end (here mid-slew) not used.
	for i := range s {
		s[i].kernelPPM = 10
		if i >= 6 {
			s[i].kernelPPM = 59.5
		}
	}
	s[8].kernelPPM = 559.5
	if r := frequencyError(s, 40*time.Second, 559.5); math.Abs(r.kernelPPM-59.5) > 1e-9 || math.Abs(r.errPPM+0.5) > 1e-6 {
		t.Errorf("with readings: kernel %v ppm, error %v; want 59.5 and -0.5", r.kernelPPM, r.errPPM)
	}
}

func TestDropSlow(t *testing.T) {
	s := []offsetSample{{delay: 1e6}, {delay: 1.2e6}, {delay: 0.9e6}, {delay: 5e6}, {delay: 2e6}}
	if got := dropSlow(s); len(got) != 4 || got[3].delay != 2e6 {
		t.Errorf("got %+v, want only the 5 ms one dropped (limit: 2 × the 1.2 ms median)", got)
	}
}

// The summary says where the parent put its code and data, from its log
// line, and ignores the engine's.
func TestCodePages(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{`time=2026-12-05T11:26:49.814Z level=INFO msg="code on huge pages" huge_kib=4096 of_kib=4096 data_huge_kib=2048 data_of_kib=4096`,
			"code on huge pages: 4096 KiB, read-only data 2048 KiB"},
		{`time=x level=INFO msg="code left on 4 KiB pages" reason="madvise(MADV_COLLAPSE): invalid argument"`,
			`code left on 4 KiB pages: "madvise(MADV_COLLAPSE): invalid argument"`},
		{`engine: time=x level=INFO msg="code on huge pages, a copy of its own" part=engine huge_kib=4096`, ""},
		{`time=x level=INFO msg="engine running"`, ""},
	} {
		if got := codePages(c.line); got != c.want {
			t.Errorf("codePages(%q) = %q, want %q", c.line, got, c.want)
		}
	}
}
