package control

import (
	"math"
	"sync"
	"time"
)

// Recorder keeps the history that GET /v1/history serves: every clock
// update (offset, frequency) and every source's raw samples, in memory,
// bounded. Each series holds at most SeriesCap points; when one is full
// its older half is thinned by merging neighbours in pairs, so a series
// always reaches back far (at 16 s polls 8192 points are 36 h before the
// first thinning) at a resolution that falls with age. Points older than
// MaxAge are dropped, and at most MaxSeries sources are kept (the one
// updated longest ago goes first).
type Recorder struct {
	mu      sync.Mutex
	system  series
	sources map[string]*series
	// SeriesCap, MaxAge and MaxSeries; set by NewRecorder.
	seriesCap int
	maxAge    time.Duration
	maxSeries int
}

// Recorder limits.
const (
	SeriesCap = 8192
	MaxAge    = 7 * 24 * time.Hour
	MaxSeries = 64
)

// point is one measurement or the mean of n merged ones.
type point struct {
	t           int64 // Unix nanoseconds
	off, lo, hi float64
	aux         float64 // frequency (system) or delay (sources)
	n           int
}

type series struct {
	pts  []point
	last int64
}

// NewRecorder returns an empty recorder with the package's limits.
func NewRecorder() *Recorder {
	return &Recorder{sources: map[string]*series{}, seriesCap: SeriesCap, maxAge: MaxAge, maxSeries: MaxSeries}
}

// AddUpdate records a clock update at t: offset in seconds, frequency in
// ppm.
func (r *Recorder) AddUpdate(t time.Time, offsetSeconds, freqPPM float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(&r.system, t, offsetSeconds, freqPPM)
}

// AddSample records a raw sample of the source at address.
func (r *Recorder) AddSample(address string, t time.Time, offsetSeconds, delaySeconds float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sources[address]
	if s == nil {
		if len(r.sources) >= r.maxSeries {
			var oldest string
			var at int64 = math.MaxInt64
			for a, o := range r.sources {
				if o.last < at {
					oldest, at = a, o.last
				}
			}
			delete(r.sources, oldest)
		}
		s = &series{}
		r.sources[address] = s
	}
	r.add(s, t, offsetSeconds, delaySeconds)
}

func (r *Recorder) add(s *series, t time.Time, off, aux float64) {
	ns := t.UnixNano()
	s.last = ns
	cut := ns - int64(r.maxAge)
	drop := 0
	for drop < len(s.pts) && s.pts[drop].t < cut {
		drop++
	}
	if drop > 0 {
		s.pts = append(s.pts[:0], s.pts[drop:]...)
	}
	if len(s.pts) >= r.seriesCap {
		s.thin()
	}
	s.pts = append(s.pts, point{t: ns, off: off, lo: off, hi: off, aux: aux, n: 1})
}

// thin merges the older half's points in pairs.
func (s *series) thin() {
	half := len(s.pts) / 2
	out := s.pts[:0]
	for i := 0; i+1 < half; i += 2 {
		out = append(out, merge(s.pts[i], s.pts[i+1]))
	}
	if half%2 == 1 {
		out = append(out, s.pts[half-1])
	}
	out = append(out, s.pts[half:]...)
	s.pts = out
}

func merge(a, b point) point {
	n := a.n + b.n
	fa, fb := float64(a.n)/float64(n), float64(b.n)/float64(n)
	return point{
		t:   a.t + int64(fb*float64(b.t-a.t)),
		off: fa*a.off + fb*b.off,
		lo:  math.Min(a.lo, b.lo),
		hi:  math.Max(a.hi, b.hi),
		aux: fa*a.aux + fb*b.aux,
		n:   n,
	}
}

// Query returns the points between from and to; a series with more than
// maxPoints there is averaged over maxPoints equal buckets.
func (r *Recorder) Query(from, to time.Time, maxPoints int) History {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := History{From: from, To: to, System: []SystemPoint{}, Sources: map[string][]SamplePoint{}}
	f, t := from.UnixNano(), to.UnixNano()
	bucket := int64(0)
	need := func(s *series) bool { return count(s.pts, f, t) > maxPoints }
	down := need(&r.system)
	for _, s := range r.sources {
		down = down || need(s)
	}
	if down && maxPoints > 0 {
		bucket = (t-f)/int64(maxPoints) + 1 // ceiling: [f, t] in maxPoints buckets
		h.BucketSeconds = float64(bucket) / 1e9
	}
	for _, p := range collect(r.system.pts, f, t, bucket) {
		h.System = append(h.System, SystemPoint{Time: time.Unix(0, p.t).UTC(), OffsetSeconds: p.off,
			MinOffsetSeconds: p.lo, MaxOffsetSeconds: p.hi, FrequencyPPM: p.aux, N: p.n})
	}
	for a, s := range r.sources {
		var out []SamplePoint
		for _, p := range collect(s.pts, f, t, bucket) {
			out = append(out, SamplePoint{Time: time.Unix(0, p.t).UTC(), OffsetSeconds: p.off,
				MinOffsetSeconds: p.lo, MaxOffsetSeconds: p.hi, DelaySeconds: p.aux, N: p.n})
		}
		if len(out) > 0 {
			h.Sources[a] = out
		}
	}
	return h
}

func count(pts []point, f, t int64) int {
	n := 0
	for _, p := range pts {
		if p.t >= f && p.t <= t {
			n++
		}
	}
	return n
}

// collect returns the points in [f, t], merged per bucket of that many
// nanoseconds (0: as they are).
func collect(pts []point, f, t, bucket int64) []point {
	var out []point
	cur := int64(-1)
	for _, p := range pts {
		if p.t < f || p.t > t {
			continue
		}
		if bucket == 0 {
			out = append(out, p)
			continue
		}
		b := (p.t - f) / bucket
		if b == cur && len(out) > 0 {
			out[len(out)-1] = merge(out[len(out)-1], p)
			continue
		}
		cur = b
		out = append(out, p)
	}
	return out
}
