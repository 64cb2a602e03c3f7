// Package discipline steers the local clock from the engine's
// measurements: independent phase and frequency control, in the manner of
// chrony.
//
// Every source keeps a history of its measurements in raw terms: the
// offset the source would have shown against an uncorrected clock, which
// is the measured offset plus everything the clock layer has applied since
// its start (platform.Clock.AppliedAt). In those terms the history is a
// smooth curve, the oscillator's own phase, whatever corrections were made
// meanwhile. A line fitted to the recent part of it gives the
// oscillator's frequency error (the slope) and the present offset (the
// line at now). The frequency correction is set to cancel the slope, and
// the present offset is slewed away (or stepped, under the tinker rules).
//
// The round-trip delay says how much each measurement can be trusted. A
// sample whose legs were delayed by a and b beyond the path's fixed delay
// is off by (a − b)/2, never by more than half its delay less the fixed
// one-way delay. Two estimators use that:
//
//   - a weighted regression: given the extra delay D = a + b, the error is
//     uniform within ±D/2 for exponential queueing (variance D²/12), so
//     each sample is weighted by 12/(D² + D0²), D0 being how well the
//     path's minimum delay is known. It gives the error estimates.
//   - a bound fit: the line leaving the largest common margin inside every
//     sample's bound ± δ/2. With independent exponential delays on the two
//     legs that is the maximum-likelihood line, and it converges as 1/n
//     rather than 1/√n, because each bound is as tight as a single leg's
//     delay. Its line is used whenever the most recent samples keep
//     within their bounds (give or take the timestamping noise); when
//     they do not (a server whose timestamps are noisier than the
//     network), the regression's.
//
// The window is the longest recent one (at most MaxSamples) whose
// regression residuals pass a runs test and whose bound fit leaves a
// margin close to half the path's minimum delay: the frequency's wander
// bends the curve, which shows first as a margin the bounds can no longer
// leave.
//
// A source's history is a Track, which the caller keeps with the rest of
// the source's state (service/loop keeps it beside the source's
// engine.Source, in one struct per server), and passes to Add and
// Estimate; measurements are the engine's own Samples.
//
// The drift file is only the starting state: New sets its frequency, and
// a new history takes the frequency in force as its slope's prior (which
// also bounds the slopes the bound fit searches) until it has priorSamples
// measurements of its own or they contradict it; from then on only the
// measurements count, as in chrony.
//
// A measurement that does not fit its source's line is held aside. Held
// measurements that agree with each other win: heldLimit of them along
// the present slope mean the source's time (or ours) jumped, heldLimitFree
// along a slope of their own mean the slope was wrong; either way the
// history restarts from them. No state can reject consistent measurements
// for ever.
//
// The package is pure: it reads no clock of its own and does no I/O. Time
// comes in as arguments; the clock is reached through the Clock interface
// (platform.Clock in the service and the simulator).
package discipline

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/timesync/timesync/service/engine"
)

// Clock is what the discipline needs of the clock; *platform.Clock
// implements it. Offsets are positive forward, frequencies positive
// faster.
type Clock interface {
	Frequency() float64
	SetFrequency(ppm float64) (float64, error)
	MaxFrequency() float64
	Slew(offset, minDuration time.Duration) (time.Duration, error)
	Step(offset time.Duration) error
	// AppliedAt reports the correction applied up to t (seconds).
	AppliedAt(t time.Time) (float64, bool)
}

// corrector is implemented by clocks that can set the frequency and start
// a slew with one change (*platform.Clock: one request to the privileged
// parent instead of two).
type corrector interface {
	Correct(ppm float64, offset, minDuration time.Duration) (got float64, dur time.Duration, ferr, serr error)
}

// Config is the discipline's policy. Start from DefaultConfig: the zero
// values of Step and Panic mean "never step" and "no panic limit", as in
// ntpd's tinker.
type Config struct {
	// Step is the step threshold: a larger offset is stepped rather than
	// slewed (once it has persisted for Stepout, or at the first update
	// if FirstStep). 0 means never step. Default 0.128 s.
	Step time.Duration
	// Stepout is how long an offset beyond Step must persist before it is
	// stepped; until then such measurements are held as spikes and not
	// acted on. Default 900 s.
	Stepout time.Duration
	// Panic is the panic threshold: after the first correction, a larger
	// offset is refused and reported, never applied, until Confirm. 0
	// means no limit (always step, ntpd's "tinker panic 0"). Default
	// 1000 s.
	Panic time.Duration
	// FirstStep lets the first correction step at once when beyond Step,
	// without waiting for Stepout and whatever its size, the panic
	// threshold included (ntpd -g): a machine whose RTC lost the time
	// must not wait for an administrator.
	FirstStep bool
	// MaxSamples bounds each source's regression history. Default 64.
	MaxSamples int
	// RoutineSlewPPM is the rate for ordinary corrections: an offset is
	// slewed no faster than this if that takes at most MaxSlewTime; larger
	// offsets go as fast as the clock allows. Default 500 ppm.
	RoutineSlewPPM float64
	// MaxSlewTime, see RoutineSlewPPM. Default 1 s.
	MaxSlewTime time.Duration
	// Drift, if non-nil, is the frequency remembered from an earlier run
	// (the drift file): the starting state. It is set at once, and is the
	// slope's prior of the histories that start before they have
	// measurements enough of their own, nothing more.
	Drift *Drift
	// PlainRegression uses the weighted regression's line for the
	// estimate instead of the bound fit (for comparison; the regression
	// always chooses the window and gives the error estimates).
	PlainRegression bool
	// Precision is the floor of a sample's error (timestamping). Default
	// 1 µs.
	Precision time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Drift is a remembered frequency correction and its uncertainty. The
// sign is this project's: FrequencyPPM is the correction, positive when
// it makes the clock faster (an oscillator that runs slow). chrony's
// drift file keeps the opposite, the oscillator's own error; package
// driftfile converts.
type Drift struct {
	FrequencyPPM float64
	SkewPPM      float64
}

// DefaultConfig returns ntpd's tinker defaults (step 0.128 s, stepout
// 900 s, panic 1000 s) with a first step allowed.
func DefaultConfig() Config {
	return Config{
		Step:      128 * time.Millisecond,
		Stepout:   900 * time.Second,
		Panic:     1000 * time.Second,
		FirstStep: true,
	}
}

func (c *Config) fill() {
	if c.MaxSamples <= 0 {
		c.MaxSamples = 64
	}
	if c.RoutineSlewPPM <= 0 {
		c.RoutineSlewPPM = 500
	}
	if c.MaxSlewTime <= 0 {
		c.MaxSlewTime = time.Second
	}
	if c.Precision <= 0 {
		c.Precision = time.Microsecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Errors.
var (
	// ErrNoHistory: the clock layer no longer knows the correction
	// applied at the measurement's time, so it cannot be used.
	ErrNoHistory = errors.New("measurement is older than the clock's correction history")
	// ErrOutlier: the measurement does not fit the source's recent
	// history and is held aside (it is used if more like it follow).
	ErrOutlier = errors.New("measurement does not fit the source's history; held aside")
	// ErrNothingPending: Confirm was called with no refused correction.
	ErrNothingPending = errors.New("no correction is waiting for confirmation")
)

// sample is a measurement in raw terms.
type sample struct {
	at       time.Time
	t        float64 // seconds since the discipline's epoch
	u        float64 // raw phase: −θ − applied(at), seconds
	delay    float64
	disp     float64
	rootDel  float64
	rootDisp float64
	stratum  uint8
}

// Track is one source's history of measurements and its latest fit. The
// zero value is an empty history. The caller keeps one per source, with
// the rest of that source's state, and hands it to Add and Estimate; a
// Track is not safe for concurrent use.
type Track struct {
	pts     []sample
	held    []sample    // recent measurements that did not fit, oldest first
	delays  []float64   // recent delays, oldest first, up to delayMemory
	sorted  []float64   // the same delays, lowest first (delayFloor)
	spread  float64     // how far dmin may lie above the path's minimum
	queue   float64     // median delay beyond dmin
	prior   *slopePrior // the slope's prior while the history is short; nil: none
	started bool        // prior was set at the history's start
	fit     line
	fitOK   bool
	dirty   bool
	jit     float64 // weighted RMS residual of the fit, seconds
	scale   float64 // ≥ 1: how much worse the residuals are than modelled
	bounded bool    // the fit's line is the bound fit's
	dmin    float64 // lowest delay held
	// refit's work space, kept from one sample to the next: an idle
	// service refits a track at every answer.
	ptBuf []point
	bpBuf []bpoint
}

// Samples reports how many measurements the history holds.
func (tr *Track) Samples() int { return len(tr.pts) }

// Reset forgets the history (the source was removed, or denied us).
func (tr *Track) Reset() { *tr = Track{} }

// Discipline is the clock discipline. It is not safe for concurrent use:
// the service loop serialises calls.
type Discipline struct {
	clock Clock
	cfg   Config
	log   *slog.Logger
	epoch time.Time

	applied    int       // corrections applied (slews and steps)
	spikeSince time.Time // first of a run of offsets beyond Step; zero: none
	pending    time.Duration
	hasPending bool
	confirmed  bool
	stepOnce   bool // AllowStep: the next correction may step whatever the stepout
	last       Update
	freqPPM    float64 // frequency correction in force, as estimated
	skewPPM    float64
}

// New returns a discipline steering clock. With cfg.Drift set, the
// remembered frequency is applied at once.
func New(clock Clock, cfg Config, epoch time.Time) *Discipline {
	cfg.fill()
	d := &Discipline{clock: clock, cfg: cfg, log: cfg.Logger, epoch: epoch}
	d.freqPPM, d.skewPPM = clock.Frequency(), clock.MaxFrequency()
	if cfg.Drift != nil {
		got, err := clock.SetFrequency(cfg.Drift.FrequencyPPM)
		if err != nil {
			d.log.Error("applying the drift file's frequency", "frequency_ppm", cfg.Drift.FrequencyPPM, "err", err)
		} else {
			d.freqPPM, d.skewPPM = got, math.Max(cfg.Drift.SkewPPM, 0.001)
			d.log.Info("frequency restored from drift file", "frequency_ppm", got, "skew_ppm", cfg.Drift.SkewPPM)
		}
	}
	return d
}

// Add records a measurement of a source: s as the engine validated it,
// taken at at (the middle of the exchange, on the Timers' clock). It fails
// when the clock layer cannot say what correction was in force then, when
// the measurement is not newer than the last, and with ErrOutlier when it
// is held aside.
func (d *Discipline) Add(tr *Track, at time.Time, s engine.Sample) error {
	c, ok := d.clock.AppliedAt(at)
	if !ok {
		return ErrNoHistory
	}
	smp := sample{
		at:       at,
		t:        at.Sub(d.epoch).Seconds(),
		u:        -s.Offset.Seconds() - c,
		delay:    s.Delay.Seconds(),
		disp:     s.Dispersion.Seconds(),
		rootDel:  s.RootDelay.Seconds(),
		rootDisp: s.RootDispersion.Seconds(),
		stratum:  s.Stratum,
	}
	if n := len(tr.pts); n > 0 && smp.t <= tr.pts[n-1].t {
		return fmt.Errorf("measurement at %v is not newer than the last one", at)
	}
	if n := len(tr.held); n > 0 && smp.t <= tr.held[n-1].t {
		return fmt.Errorf("measurement at %v is not newer than the last one", at)
	}
	if !tr.started {
		// A new history starts from the frequency in force (the drift
		// file's at start): its slope's prior while it is short.
		tr.started = true
		tr.prior = d.currentPrior()
	}
	tr.addDelay(smp.delay)
	if len(tr.pts) >= minHistory {
		if tr.dirty {
			d.refit(tr)
		}
		if tr.fitOK && !tr.consistent(smp) {
			return d.hold(tr, smp)
		}
	}
	tr.held = tr.held[:0]
	tr.add(smp, d.cfg.MaxSamples)
	return nil
}

func (tr *Track) add(s sample, maxSamples int) {
	if len(tr.pts) >= maxSamples {
		tr.pts = slices.Delete(tr.pts, 0, len(tr.pts)-maxSamples+1)
	}
	tr.pts = append(tr.pts, s)
	tr.dirty = true
}

// Consistency of new measurements with a source's history.
const (
	// minHistory is how many measurements a history needs before new
	// ones are judged against it.
	minHistory = 4
	// heldLimit is how many inconsistent measurements in a row, agreeing
	// with each other along the present slope, mean the source's time (or
	// ours) jumped: the history is restarted from them.
	heldLimit = 3
	// heldLimitFree is how many inconsistent measurements in a row that
	// agree with each other along a slope of their own mean the slope
	// itself is wrong (a stale drift file, a frequency that changed): the
	// history restarts from them without a prior. Whatever the state,
	// enough consistent measurements win.
	heldLimitFree = 5
	// priorSamples is how many measurements a history needs before its
	// slope is the measurements' alone; priorReject how many standard
	// errors the measurements' own slope may differ from the prior's
	// before the prior is dropped sooner.
	priorSamples = 8
	priorReject  = 3
)

// consistent reports whether s fits the track's line: whether the line's
// prediction lies inside the bound s's delay puts on its error (half the
// delay beyond the path's fixed one-way delay), give or take three
// standard errors (Student's equivalent for a short fit), how well the fixed delay is known, and twice the
// median queueing delay. The last term keeps a measurement that merely
// shows the line drifting (which the fit then follows) from being taken
// for a jump: only jumps well beyond the network's own noise are held.
func (tr *Track) consistent(s sample) bool {
	u, v := tr.fit.at(s.t)
	sd := math.Sqrt(math.Max(v*tr.scale, 0))
	base := math.Max(tr.dmin/2-tr.spread/2, 0)
	k := 3.0
	if tr.fit.n > 3 {
		// Not for a window the runs test cut to three points: t for one
		// degree of freedom (236) would let anything in.
		k = studentT3(tr.fit.n - 2)
	}
	bound := math.Max(s.delay/2-base, 0) + tr.spread/2 + k*sd + 2*tr.queue
	return math.Abs(s.u-u) <= bound
}

// studentT3 is the number of standard errors that, for a line fitted to
// dof+2 measurements, leaves out what three leave out of a normal
// distribution (0.27 %): Student's t quantile. A young history (a burst's
// four measurements, two seconds apart) estimates its own spread from
// two degrees of freedom; three of its standard errors extrapolated to
// the next poll are no bound at all, and a line that one unlucky burst
// set wrong would hold every later measurement aside as inconsistent
// (seen in the simulator: five polls, 80 s, without a correction while
// the offset grew to 7.7 ms). It applies even when the fit's scale is the
// modelled one (tr.scale 1, not estimated from the residuals): that model
// rests on the lowest delay and its spread, estimated from the same few
// measurements (that was the 7.7 ms case). Values computed by integrating
// the t density; beyond the table, interpolated in 1/dof towards 3.
func studentT3(dof int) float64 {
	table := [...]struct {
		dof int
		t   float64
	}{{1, 235.80}, {2, 19.207}, {3, 9.219}, {4, 6.620}, {5, 5.507}, {6, 4.904}, {7, 4.530}, {8, 4.277},
		{10, 3.957}, {12, 3.764}, {14, 3.636}, {16, 3.544}, {20, 3.422}, {30, 3.270}, {62, 3.126}}
	if dof < 1 {
		return math.Inf(1)
	}
	for i, e := range table {
		if dof == e.dof {
			return e.t
		}
		if dof < e.dof {
			p := table[i-1]
			f := (1/float64(p.dof) - 1/float64(dof)) / (1/float64(p.dof) - 1/float64(e.dof))
			return p.t + f*(e.t-p.t)
		}
	}
	last := table[len(table)-1]
	return 3 + (last.t-3)*float64(last.dof)/float64(dof)
}

// hold keeps an inconsistent measurement aside. A lone one is an outlier
// and is dropped when a consistent measurement follows. heldLimit of them
// in a row that agree with each other along the present slope mean a
// jump: the history restarts from them, keeping the present slope as the
// prior. heldLimitFree of them that agree along a slope of their own mean
// the slope is wrong: the history restarts from them with no prior.
func (d *Discipline) hold(tr *Track, s sample) error {
	tr.held = append(tr.held, s)
	bp := make([]bpoint, len(tr.held))
	for i, h := range tr.held {
		bp[i] = bpoint{t: h.t, y: h.u, h: h.delay/2 + tr.spread/2}
	}
	// The longest run of the newest held measurements that agree (a
	// common offset within all their bounds) along the present slope,
	// and along any slope within ±1000 ppm of it.
	along, free := 0, 0
	for k := 1; k <= len(bp); k++ {
		win := bp[len(bp)-k:]
		if gap, _ := boundsGap(win, s.t, tr.fit.b); gap >= 0 {
			along = k
		}
		if k == 1 {
			free = 1
			continue
		}
		const span = 1e-3
		if _, _, m := fitBounds(win, s.t, tr.fit.b-span, tr.fit.b+span); m >= 0 {
			free = k
		}
	}
	keep := max(along, free)
	tr.held = slices.Delete(tr.held, 0, len(tr.held)-min(keep, heldLimitFree))
	switch {
	case along >= heldLimit:
		d.log.Warn("measurements no longer fit the source's history (its time or ours jumped); restarting it",
			"samples", along)
		d.restart(tr, tr.held[len(tr.held)-along:], &slopePrior{b0: tr.fit.b, sd: math.Max(math.Sqrt(math.Max(tr.fit.cbb*tr.scale, 0)), 0.01e-6)})
		return nil
	case free >= heldLimitFree:
		d.log.Warn("measurements agree with each other but not with the source's history's frequency; restarting it",
			"samples", free)
		d.restart(tr, tr.held, nil)
		return nil
	}
	d.log.Debug("measurement does not fit the source's history; held", "held", len(tr.held))
	return ErrOutlier
}

// restart replaces the history by the held measurements from, with prior
// as the slope's prior while the new history is short.
func (d *Discipline) restart(tr *Track, from []sample, prior *slopePrior) {
	pts := slices.Clone(from)
	tr.pts, tr.held, tr.prior = nil, nil, prior
	for _, h := range pts {
		tr.add(h, d.cfg.MaxSamples)
	}
}

// Estimate is a source's view of the clock at one instant.
type Estimate struct {
	// Offset is the source's time minus the local clock now (θ).
	Offset time.Duration
	// OffsetSD is the standard error of Offset.
	OffsetSD time.Duration
	// FrequencyPPM is the frequency correction the clock needs by this
	// source (positive: the oscillator is slow); SkewPPM its standard
	// error.
	FrequencyPPM float64
	SkewPPM      float64
	// Jitter is the weighted RMS residual of the source's measurements
	// about the fitted line.
	Jitter time.Duration
	// Delay is the lowest round-trip delay held.
	Delay time.Duration
	// Distance bounds the error of Offset against the primary reference
	// (root distance): root delay and delay halved, root dispersion,
	// dispersion, three standard errors and the frequency tolerance over
	// the time since the newest measurement.
	Distance time.Duration
	// Samples is the number of measurements held, Used the number the
	// fit used.
	Samples, Used int
	// Root is the server's own error bound: half its root delay plus its
	// root dispersion (newest measurement). No averaging removes it.
	Root time.Duration
	// Stratum is the newest measurement's.
	Stratum uint8
	// Bounded reports whether the line is the bound fit's (false: the
	// weighted regression's).
	Bounded bool
	// Newest is when the newest measurement was taken.
	Newest time.Time
}

// phi is the frequency tolerance (RFC 5905), 15 ppm.
const phi = 15e-6

// Estimate returns the estimate of the source whose history is tr for
// now; ok is false when nothing is known of it.
func (d *Discipline) Estimate(tr *Track, now time.Time) (Estimate, bool) {
	if tr == nil || len(tr.pts) == 0 {
		return Estimate{}, false
	}
	if tr.dirty {
		d.refit(tr)
	}
	if !tr.fitOK {
		return Estimate{}, false
	}
	c, ok := d.clock.AppliedAt(now)
	if !ok {
		return Estimate{}, false
	}
	tnow := now.Sub(d.epoch).Seconds()
	u, v := tr.fit.at(tnow)
	v *= tr.scale
	sd := math.Sqrt(math.Max(v, 0))
	newest := tr.pts[len(tr.pts)-1]
	age := math.Max(0, tnow-newest.t)
	dist := (newest.rootDel+tr.dmin)/2 + newest.rootDisp + newest.disp + 3*sd + phi*age
	return Estimate{
		Offset:       seconds(-(u + c)),
		OffsetSD:     seconds(sd),
		FrequencyPPM: -tr.fit.b * 1e6,
		SkewPPM:      math.Sqrt(tr.fit.cbb*tr.scale) * 1e6,
		Jitter:       seconds(tr.jit),
		Delay:        seconds(tr.dmin),
		Distance:     seconds(dist),
		Samples:      len(tr.pts),
		Used:         tr.fit.n,
		Root:         seconds(newest.rootDel/2 + newest.rootDisp),
		Stratum:      newest.stratum,
		Bounded:      tr.bounded,
		Newest:       newest.at,
	}, true
}

// refit weighs the track's samples by their delays and fits the longest
// recent window that passes the runs test and the margin test.
func (d *Discipline) refit(tr *Track) {
	tr.dirty = false
	n := len(tr.pts)
	// The path's minimum delay is estimated by the lowest delay in a
	// longer memory than the regression's; how far the lowest delays lie
	// apart says how far that estimate may be above the true minimum,
	// which bounds how much better than the rest any sample can be
	// trusted.
	dmin, spread, median := tr.delayFloor()
	tr.dmin, tr.spread = dmin, spread
	tr.queue = median - dmin
	prec := d.cfg.Precision.Seconds()
	floor := prec*prec + spread*spread/12
	tr.ptBuf = slices.Grow(tr.ptBuf[:0], n)[:n]
	pts := tr.ptBuf
	for i, s := range tr.pts {
		e := s.delay - dmin
		pts[i] = point{t: s.t, y: s.u, v: e*e/12 + floor}
	}
	weak := d.weakPrior()
	prior := weak
	tref := pts[n-1].t
	if tr.prior != nil && n < priorSamples {
		prior = tr.prior
		// A prior the measurements already contradict (a stale drift
		// file) is dropped at once rather than after priorSamples.
		if l0, ok := fitLine(pts, tref, weak); ok && n >= 3 {
			sd := math.Sqrt(sq(tr.prior.sd) + math.Max(l0.cbb, 0))
			if math.Abs(l0.b-tr.prior.b0) > priorReject*sd {
				d.log.Info("the measurements contradict the frequency the source's history started from; dropping it",
					"prior_ppm", -tr.prior.b0*1e6, "measured_ppm", -l0.b*1e6)
				tr.prior, prior = nil, weak
			}
		}
	}
	tr.bpBuf = slices.Grow(tr.bpBuf[:0], n)[:n]
	bps := tr.bpBuf
	for i, s := range tr.pts {
		bps[i] = bpoint{t: s.t, y: s.u, h: s.delay / 2}
	}
	var best line
	ok, bounded := false, false
	const span = 1e-3 // slopes searched: the regression's ± 1000 ppm
	// Half the path's minimum delay is the reference for the margin a
	// window's bound fit leaves: a window whose margin falls well below
	// it holds samples the line cannot explain (the frequency wandered),
	// however random its residuals look.
	ref := dmin / 2
	// marginOK reports whether the bound fit over bps[start:] leaves a
	// margin close enough to ref; see marginTolerance.
	marginOK := func(start int, margin float64) bool {
		var q float64
		for _, p := range bps[start:] {
			q += math.Max(p.h-margin, 0)
		}
		nw := float64(n - start)
		return ref-margin <= spread/2+marginTolerance*q/nw/nw
	}
	// The bound fit applies when even the most recent samples leave such
	// a margin; if they do not, their errors exceed their bounds (the
	// server's timestamps are noisier than the network) and the
	// regression alone is used.
	useBounds := !d.cfg.PlainRegression && n >= 2
	if useBounds {
		k0 := max(n-boundsCheckWindow, 0)
		if l, fitted := fitLine(pts[k0:], tref, prior); fitted {
			_, _, m0 := fitBounds(bps[k0:], tref, l.b-span, l.b+span)
			useBounds = m0 >= 0 && marginOK(k0, m0+timestampNoise)
		}
	}
	for start := 0; start <= n-1; start = nextStart(start, n) {
		win := pts[start:]
		l, fitted := fitLine(win, tref, prior)
		if !fitted {
			break
		}
		best, ok, bounded = l, true, false
		keep := true
		// While the history is short and has a prior of its own (the
		// frequency in force, a drift file's at start), the bound fit
		// searches only the slopes the prior allows: two or three
		// samples alone would pick a slope from their noise.
		blo, bhi := l.b-span, l.b+span
		narrowed := false
		if prior != weak && 3*prior.sd < span {
			blo, bhi = max(blo, prior.b0-3*prior.sd), min(bhi, prior.b0+3*prior.sd)
			narrowed = true
		}
		if useBounds && len(win) >= 2 && blo < bhi {
			a, b, margin := fitBounds(bps[start:], tref, blo, bhi)
			// The bound fit's line is used when its model holds: the
			// bounds leave room for a non-negative fixed delay, and the
			// slope is not at the edge of the search (unless the prior
			// narrowed it).
			if margin >= 0 && (narrowed || math.Abs(b-l.b) < 0.99*span) {
				best.a, best.b, bounded = a, b, true
				keep = marginOK(start, margin)
			}
		}
		if len(win) <= 3 || runsOK(win, l) && keep {
			break
		}
	}
	tr.fit, tr.fitOK, tr.bounded = best, ok, bounded
	if !ok {
		return
	}
	m := best.n
	win := pts[n-m:]
	tr.scale = 1
	if m > 3 {
		tr.scale = math.Max(1, best.chi2/float64(m-2))
	}
	var sw, swr float64
	for _, p := range win {
		r := p.y - (best.a + best.b*(p.t-best.tref))
		sw += 1 / p.v
		swr += r * r / p.v
	}
	tr.jit = math.Sqrt(swr / sw)
}

// The margin test (refit): a window is kept while its bound fit's margin
// stays within spread/2 + marginTolerance·q/n of half the path's minimum
// delay, q/n being the mean queueing the window's bounds carry beyond the
// margin. Under the model the margin of n samples lies some q/n² below
// the fixed delay at most, and the lowest delay lies up to the spread
// above it; a frequency that wandered pulls the margin down by the size
// of the bend. Tuned on the simulator: 3 costs nothing without wander and
// shortens the window under ten times Scenario A's.
const marginTolerance = 3

// boundsCheckWindow is how many recent samples decide whether the bound
// fit applies at all, and timestampNoise how far beyond their bounds
// their errors may go for it still to apply: timestamps taken in user
// space jitter by some microseconds. (Simulated LAN, 50 µs + Exp(20 µs)
// per leg: RMS 7 µs without server noise; with 10 µs of it 12 µs, where
// the regression alone gives 21; with 100 µs the regression takes over.)
const (
	boundsCheckWindow = 16
	timestampNoise    = 10e-6 // seconds
)

// delayMemory is how many recent delays estimate the path's minimum.
const delayMemory = 256

// delayFloor returns the lowest recent delay and how far above the path's
// true minimum it may lie. Two signs of that are combined: the spread of
// the lowest delays (third lowest minus lowest), and the distance from the
// lowest to the median shrunk by √n, which is how the lowest of n draws
// approaches the bottom of a distribution whose density rises from zero
// (the sum of two queueing delays). The second dominates while few delays
// are known and keeps the weights from trusting an early "minimum".
// It also returns the median of the recent delays. The delays are kept
// sorted as they come and go (Add): sorting them anew for every sample
// was a good part of what a sample cost.
func (tr *Track) delayFloor() (dmin, spread, median float64) {
	n := len(tr.delays)
	if n == 0 {
		return math.Inf(1), 0, math.Inf(1)
	}
	sorted := tr.sorted
	dmin = sorted[0]
	if n == 1 {
		return dmin, 0, dmin
	}
	spread = sorted[min(2, n-1)] - dmin
	median = sorted[n/2]
	if n%2 == 0 {
		median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return dmin, math.Max(spread, 0.75*(median-dmin)/math.Sqrt(float64(n))), median
}

// addDelay remembers a sample's delay, forgetting the oldest beyond
// delayMemory, in arrival order and sorted.
func (tr *Track) addDelay(d float64) {
	if len(tr.delays) == delayMemory {
		i, _ := slices.BinarySearch(tr.sorted, tr.delays[0])
		tr.sorted = slices.Delete(tr.sorted, i, i+1)
		tr.delays = slices.Delete(tr.delays, 0, 1)
	}
	tr.delays = append(tr.delays, d)
	i, _ := slices.BinarySearch(tr.sorted, d)
	tr.sorted = slices.Insert(tr.sorted, i, d)
}

// nextStart drops old samples from the window in growing chunks, as
// chrony does, keeping at least three.
func nextStart(start, n int) int {
	left := n - start
	drop := max(1, left/8)
	if left-drop < 3 {
		drop = left - 3
	}
	if drop <= 0 {
		return n // ends the loop
	}
	return start + drop
}

// currentPrior is the prior of a new history's slope: the frequency
// correction in force as estimated (the drift file's at start) with its
// skew. It serves only while the history is short (priorSamples).
func (d *Discipline) currentPrior() *slopePrior {
	return &slopePrior{b0: -d.freqPPM * 1e-6, sd: math.Max(d.skewPPM, 0.001) * 1e-6}
}

// weakPrior is what is known of the raw slope without measurements: the
// clock's present correction, within the widest range. It only lets a
// single measurement make a fit.
func (d *Discipline) weakPrior() *slopePrior {
	return &slopePrior{b0: -d.clock.Frequency() * 1e-6, sd: d.clock.MaxFrequency() * 1e-6}
}

// Combinable returns the part of e that combining uses.
func (e Estimate) Combinable() engine.Estimate {
	return engine.Estimate{Offset: e.Offset, OffsetSD: e.OffsetSD, Root: e.Root, Distance: e.Distance,
		Jitter: e.Jitter, FrequencyPPM: e.FrequencyPPM, SkewPPM: e.SkewPPM}
}

func sq(x float64) float64 { return x * x }

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }
