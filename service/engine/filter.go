package engine

import (
	"math"
	"sort"
	"time"
)

// FilterSize is the number of recent samples a source keeps (the clock
// filter shift register of RFC 5905 section 10).
const FilterSize = 8

// Filter keeps a source's most recent samples and picks the best: the one
// with the lowest delay, whose offset is least disturbed by queueing and
// path asymmetry (RFC 5905 section 10, chrony's sourcestats).
type Filter struct {
	samples []Sample // oldest first, at most FilterSize
}

// Add records a sample, dropping the oldest when full.
func (f *Filter) Add(s Sample) {
	if len(f.samples) == FilterSize {
		copy(f.samples, f.samples[1:])
		f.samples = f.samples[:FilterSize-1]
	}
	f.samples = append(f.samples, s)
}

// Len reports how many samples are held.
func (f *Filter) Len() int { return len(f.samples) }

// Samples returns the samples held, oldest first. The caller must not
// modify them.
func (f *Filter) Samples() []Sample { return f.samples }

// Reset forgets every sample (after a step, old offsets are meaningless).
func (f *Filter) Reset() { f.samples = f.samples[:0] }

// Shift corrects the stored offsets after the local clock was moved by
// offset (positive = forward): each stored offset shrinks by it.
func (f *Filter) Shift(offset time.Duration) {
	for i := range f.samples {
		f.samples[i].Offset -= offset
	}
}

// Best returns the sample with the lowest delay, its dispersion aged to now
// by the frequency tolerance, and reports whether there was any.
func (f *Filter) Best(now time.Time) (Sample, bool) {
	if len(f.samples) == 0 {
		return Sample{}, false
	}
	best := f.samples[0]
	for _, s := range f.samples[1:] {
		// Ties go to the newer sample.
		if s.Delay <= best.Delay {
			best = s
		}
	}
	if age := now.Sub(best.Time); age > 0 {
		best.Dispersion += time.Duration(phi * float64(age))
	}
	return best, true
}

// Jitter is the RMS difference between the best sample's offset and the
// others' (RFC 5905 section 10, ψ), at least the local precision.
func (f *Filter) Jitter(now time.Time) time.Duration {
	best, ok := f.Best(now)
	if !ok || len(f.samples) < 2 {
		return localPrecision
	}
	var sum float64
	for _, s := range f.samples {
		d := (s.Offset - best.Offset).Seconds()
		sum += d * d
	}
	j := time.Duration(math.Sqrt(sum/float64(len(f.samples)-1)) * 1e9)
	return max(j, localPrecision)
}

// Estimate returns the source's offset estimate from a burst of samples
// taken close together (timesync --once). A sample's offset error from
// path asymmetry is bounded by its delay in excess of the path's minimum,
// so each sample is weighted by 1/(excess + scale)², where scale is the
// median excess: the lowest-delay samples dominate when delays spread out
// (queueing), and all count nearly equally when they are alike. On
// loopback test paths this halves the error of using the single best
// sample. The error bound and other fields are the best sample's.
func (f *Filter) Estimate(now time.Time) (Sample, bool) {
	best, ok := f.Best(now)
	if !ok {
		return Sample{}, false
	}
	byDelay := append([]Sample(nil), f.samples...)
	sort.Slice(byDelay, func(i, j int) bool { return byDelay[i].Delay < byDelay[j].Delay })
	minDelay := byDelay[0].Delay.Seconds()
	n := len(byDelay)
	medianDelay := (byDelay[(n-1)/2].Delay.Seconds() + byDelay[n/2].Delay.Seconds()) / 2
	scale := math.Max(medianDelay-minDelay, localPrecision.Seconds())
	var wsum, osum float64
	for _, s := range byDelay {
		e := s.Delay.Seconds() - minDelay + scale
		w := 1 / (e * e)
		wsum += w
		osum += w * (s.Offset - best.Offset).Seconds()
	}
	best.Offset += time.Duration(osum / wsum * 1e9)
	return best, true
}
