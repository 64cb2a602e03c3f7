package engine

import (
	"math"
	"time"
)

// Estimate is one selected source's view of the clock, as combining needs
// it. The service's discipline fills it from its per-source regression;
// timesync --once from a burst's samples (SampleEstimate). Either way the
// same rule, Combine, turns the selected sources into one offset, so
// "--once judges exactly as the service" holds for combining too.
type Estimate struct {
	// Offset is the source's time minus the local clock (θ); OffsetSD
	// its standard error.
	Offset   time.Duration
	OffsetSD time.Duration
	// Root is the server's own error bound, half its root delay plus its
	// root dispersion: no averaging of our measurements removes it.
	Root time.Duration
	// Distance is the source's root distance λ; Jitter the spread of its
	// measurements.
	Distance time.Duration
	Jitter   time.Duration
	// FrequencyPPM is the frequency correction the clock needs by this
	// source, SkewPPM its standard error; a SkewPPM of 0 means the
	// source gives no frequency (a single burst).
	FrequencyPPM float64
	SkewPPM      float64
}

// Combined is the combination of the selected sources' estimates.
type Combined struct {
	Offset, OffsetSD, Distance, Jitter time.Duration
	// FrequencyPPM and SkewPPM are combined over the estimates that give
	// a frequency; HasFrequency reports whether any did.
	FrequencyPPM, SkewPPM float64
	HasFrequency          bool
}

// Combine weighs each estimate's offset by the inverse of its variance
// plus the square of its server's own error bound (Root): a server that is
// measured precisely but is itself uncertain counts for no more than its
// uncertainty allows. Distance and jitter are averaged with the same
// weights; frequencies are weighted by their inverse variance. One
// estimate is returned as it is. Combine of nothing is the zero value.
func Combine(ests []Estimate) Combined {
	switch len(ests) {
	case 0:
		return Combined{}
	case 1:
		e := ests[0]
		return Combined{Offset: e.Offset, OffsetSD: e.OffsetSD, Distance: e.Distance, Jitter: e.Jitter,
			FrequencyPPM: e.FrequencyPPM, SkewPPM: e.SkewPPM, HasFrequency: e.SkewPPM > 0}
	}
	var wo, so, sd, sj, wf, sf float64
	for _, e := range ests {
		v := sq(e.OffsetSD.Seconds()) + sq(e.Root.Seconds())
		w := 1 / math.Max(v, 1e-18)
		wo += w
		so += w * e.Offset.Seconds()
		sd += w * e.Distance.Seconds()
		sj += w * e.Jitter.Seconds()
		if e.SkewPPM > 0 {
			fv := math.Max(sq(e.SkewPPM), 1e-12)
			wf += 1 / fv
			sf += e.FrequencyPPM / fv
		}
	}
	c := Combined{
		Offset:   seconds(so / wo),
		OffsetSD: seconds(math.Sqrt(1 / wo)),
		Distance: seconds(sd / wo),
		Jitter:   seconds(sj / wo),
	}
	if wf > 0 {
		c.FrequencyPPM, c.SkewPPM, c.HasFrequency = sf/wf, math.Sqrt(1/wf), true
	}
	return c
}

// SampleEstimate is the Estimate of a source known by one sample (a
// burst's best, as timesync --once has) and the jitter of its samples:
// its offset error is taken as uniform within ± half the delay, so its
// standard error is δ/(2√3), or the jitter if that is larger.
func SampleEstimate(s Sample, jitter time.Duration) Estimate {
	sd := max(seconds(s.Delay.Seconds()/(2*math.Sqrt(3))), jitter)
	return Estimate{
		Offset:   s.Offset,
		OffsetSD: sd,
		Root:     s.RootDelay/2 + s.RootDispersion,
		Distance: s.RootDistance() + jitter,
		Jitter:   jitter,
	}
}

func sq(x float64) float64 { return x * x }

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }
