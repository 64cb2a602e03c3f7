package control

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestRecorderKeepsADayAtMinimumPollAndBoundsMemory(t *testing.T) {
	r := NewRecorder()
	// Three sources polled every 8 s (minpoll 3, the fastest allowed)
	// for 3 days, and an update per poll.
	const every = 8 * time.Second
	n := int(3 * 24 * time.Hour / every)
	for i := range n {
		at := t0.Add(time.Duration(i) * every)
		r.AddUpdate(at, 1e-6*float64(i%10), 12.5)
		for _, a := range []string{"a", "b", "c"} {
			r.AddSample(a, at, 1e-3, 2e-3)
		}
	}
	end := t0.Add(time.Duration(n-1) * every)
	for _, s := range append([]*series{&r.system}, r.sources["a"], r.sources["b"], r.sources["c"]) {
		if len(s.pts) > SeriesCap {
			t.Fatalf("series holds %d points, cap %d", len(s.pts), SeriesCap)
		}
		if oldest := time.Unix(0, s.pts[0].t); end.Sub(oldest) < 24*time.Hour {
			t.Errorf("series reaches back %v, want ≥ 24 h", end.Sub(oldest))
		}
		total := 0
		for _, p := range s.pts {
			total += p.n
		}
		if total != n {
			t.Errorf("series accounts for %d samples, want %d (none lost in thinning)", total, n)
		}
	}
	h := r.Query(end.Add(-24*time.Hour), end, 500)
	if len(h.System) > 500 || len(h.System) < 400 || h.BucketSeconds == 0 {
		t.Errorf("24 h in 500 points: got %d points, bucket %.0f s", len(h.System), h.BucketSeconds)
	}
	for _, p := range h.System {
		if math.Abs(p.FrequencyPPM-12.5) > 1e-9 || p.MinOffsetSeconds > p.OffsetSeconds || p.MaxOffsetSeconds < p.OffsetSeconds {
			t.Fatalf("bad downsampled point %+v", p)
		}
	}
	if len(h.Sources) != 3 || len(h.Sources["a"]) > 500 {
		t.Errorf("sources %d, a has %d points", len(h.Sources), len(h.Sources["a"]))
	}
	// A short recent range comes back raw.
	h = r.Query(end.Add(-time.Minute), end, 1000)
	if h.BucketSeconds != 0 || len(h.System) != 8 {
		t.Errorf("last minute: %d points, bucket %v; want 8 raw", len(h.System), h.BucketSeconds)
	}
}

func TestRecorderDropsOldAndManySeries(t *testing.T) {
	r := NewRecorder()
	r.AddSample("old", t0, 0, 0)
	r.AddSample("old", t0.Add(MaxAge+time.Hour), 0, 0)
	if got := len(r.sources["old"].pts); got != 1 {
		t.Errorf("points older than MaxAge kept: %d", got)
	}
	for i := range MaxSeries + 10 {
		r.AddSample(string(rune('A'+i)), t0.Add(time.Duration(i)*time.Second), 0, 0)
	}
	if len(r.sources) != MaxSeries {
		t.Errorf("%d series kept, want %d", len(r.sources), MaxSeries)
	}
}
