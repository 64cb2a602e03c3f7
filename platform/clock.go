package platform

import (
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"time"
)

// Timers is the source of time for the shared layer: real time in the
// service, the simulator's virtual time in sim/. Now must be monotonic with
// respect to the intervals AfterFunc waits. AfterFunc must never call f
// before it returns.
type Timers interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// RateReporter is implemented by Timers that know whether their clock
// runs at the rate this layer sets (see TimeBase).
type RateReporter interface {
	// CorrectedRate reports whether the Timers' clock is sped up and
	// slowed down by the frequency corrections set through the driver.
	CorrectedRate() bool
}

// RealTimers is the Timers of the running service: Go's monotonic clock.
type RealTimers struct{}

// CorrectedRate reports whether Go's monotonic clock, on this OS, runs at
// the rate the clock driver sets:
//
//   - Linux: yes. Go reads CLOCK_MONOTONIC, which clock_gettime(2)
//     documents as "affected by the incremental adjustments performed by
//     adjtime(3) and NTP"; ADJ_FREQUENCY and ADJ_TICK change the length
//     of the kernel's tick, which every clock but CLOCK_MONOTONIC_RAW
//     advances by. (The same holds on the BSDs, whose monotonic clock
//     comes from the disciplined timecounter.)
//   - macOS: no. Go reads mach_absolute_time, which clock_gettime(3)
//     documents as CLOCK_UPTIME_RAW, "unaffected by frequency or time
//     adjustments"; ntp_adjtime and adjtime change the calendar clock only.
//   - Windows: no. Go reads the interrupt-time count, which advances by
//     the hardware timer's fixed increment; SetSystemTimeAdjustment(Precise)
//     changes only the increment added to the system time (the
//     documentation of QueryInterruptTime and of "Acquiring high-resolution
//     time stamps": the counters are independent of the system time and
//     its adjustments).
//
// See platform/linux, platform/darwin and platform/windows.
func (RealTimers) CorrectedRate() bool {
	switch runtime.GOOS {
	case "darwin", "ios", "windows":
		return false
	}
	return true
}

// Now returns time.Now().
func (RealTimers) Now() time.Time { return time.Now() }

// AfterFunc calls f in its own goroutine once d has passed, as
// time.AfterFunc does; on Linux the timer is a kernel timer that an idle
// process waits on without the runtime's system monitor
// (timer_linux.go).
func (RealTimers) AfterFunc(d time.Duration, f func()) func() bool {
	return afterFunc(d, f)
}

// TimeBase says how the clock the Timers run on relates to the
// corrections this layer makes, which decides how a slew is timed and how
// the correction is accounted (AppliedAt).
type TimeBase int

// Time bases.
const (
	// TimeBaseAuto asks the Timers (RateReporter); Timers that do not say
	// are taken to run at the corrected rate, as on Linux.
	TimeBaseAuto TimeBase = iota
	// TimeBaseCorrected: the Timers' clock runs at the disciplined rate
	// (Linux CLOCK_MONOTONIC). While a total correction c (dimensionless,
	// positive faster) is in force, one second of it is 1/(1+c) seconds of
	// the oscillator's own time, during which c/(1+c) seconds of
	// correction are applied. A slew at 83,333 ppm timed as if the timers
	// ran at the oscillator's rate would miss by some 8 % of its size.
	TimeBaseCorrected
	// TimeBaseOscillator: the Timers' clock counts the oscillator's own
	// ticks and ignores the corrections (macOS mach_absolute_time,
	// Windows interrupt time): c seconds of correction per second.
	TimeBaseOscillator
)

// ClockOptions configures a Clock. Zero values take the defaults.
type ClockOptions struct {
	// Timers defaults to RealTimers.
	Timers Timers
	// TimeBase defaults to what the Timers report (TimeBaseAuto).
	TimeBase TimeBase
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// MaxFrequencyPPM bounds the base frequency correction (the estimate of
	// the oscillator's error). Default 500 ppm, as ntpd and chrony.
	MaxFrequencyPPM float64
	// MaxSlewPPM bounds the extra rate used to slew an offset away. It is
	// further limited by what the driver can do. Default 83333 ppm
	// (chrony's maxslewrate), which only Linux reaches (ADJ_TICK).
	MaxSlewPPM float64
	// MaxStep refuses steps larger than this; 0 means no limit. The panic
	// threshold is policy and belongs to the discipline; this is a last
	// sanity net.
	MaxStep time.Duration
}

// historyLen bounds the correction history kept for AppliedAt. A poll
// changes the rate about three times (frequency, slew start, slew end), so
// this covers many polls; AppliedAt is only asked about the last exchange.
const historyLen = 64

// segment is a stretch of time during which this layer held the driver at
// one total frequency correction.
type segment struct {
	from    time.Time
	applied float64 // seconds of correction applied before from
	ppm     float64 // total correction (base + slew) during the segment
}

// Clock is the shared layer above a Driver: it keeps the base frequency,
// slews offsets as a temporary frequency change ended by a timer, clamps
// every request to safe limits and logs every step with its size.
//
// It also keeps account of the correction it has applied: the integral of
// every frequency correction it set plus every step (AppliedAt). The
// discipline uses that account to bring old measurements into the present
// clock's terms, as chrony's parameter-change handlers do.
type Clock struct {
	d         Driver
	opt       ClockOptions
	log       *slog.Logger
	corrected bool // the Timers run at the corrected rate (TimeBaseCorrected)

	mu       sync.Mutex
	basePPM  float64       // frequency correction without any slew
	slewPPM  float64       // extra rate of the slew in progress (0 = none)
	slewEnd  time.Time     // when the slew in progress ends
	slewStop func() bool   // cancels the timer that ends it
	slewGen  uint64        // counts slews begun or cancelled: a timer of an older one is stale
	slewLeft time.Duration // offset the slew in progress still has to apply, as of slewFrom
	slewFrom time.Time
	steps    uint64        // number of steps made
	hist     []segment     // correction history, oldest first, never empty
	status   *SyncStatus   // a sync status to pass with the next frequency (SetSyncStatus)
	statusAt time.Time     // when it was given
	lastLag  time.Duration // how long after it was asked for the driver's last change took effect (effectiveLocked)
	// sentSynced: the last status this layer sent the driver said
	// synchronized.
	sentSynced bool
	// driverEnds: the last change was a slew (until slewEnd) that the
	// driver ends (TimedFrequencySetter), not a timer of this layer, as
	// every routine update through the privileged parent is; its end is
	// already in hist, as a segment starting at slewEnd. The end may
	// have passed (settleLocked): a slew of a fraction of a microsecond
	// ends within a millisecond, before the update's status is given.
	driverEnds bool
}

// driverEndMaxPPM is the fastest slew a TimedFrequencySetter ends: every
// millisecond its end comes late (the request's way to the parent, the
// parent's timer) moves the clock at most 1 µs too far, which this layer
// does not see. Faster slews (the first correction of a large offset)
// end by this layer's timer, whose lateness it measures and takes back.
const driverEndMaxPPM = 1000

// settleLocked forgets a slew the driver ended by now.
func (c *Clock) settleLocked(now time.Time) {
	if c.driverEnds && !now.Before(c.slewEnd) {
		c.slewPPM, c.slewLeft = 0, 0
	}
}

// NewClock wraps d. The driver's current frequency is taken as the base
// frequency, so a correction left by an earlier run is kept until the
// discipline (or the drift file) says otherwise.
func NewClock(d Driver, opt ClockOptions) (*Clock, error) {
	if opt.Timers == nil {
		opt.Timers = RealTimers{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.MaxFrequencyPPM <= 0 {
		opt.MaxFrequencyPPM = 500
	}
	if opt.MaxSlewPPM <= 0 {
		opt.MaxSlewPPM = 83333
	}
	f, err := d.Frequency()
	if err != nil {
		return nil, fmt.Errorf("read frequency from %s driver: %w", d.Name(), err)
	}
	c := &Clock{d: d, opt: opt, log: opt.Logger, basePPM: f, corrected: true}
	switch opt.TimeBase {
	case TimeBaseOscillator:
		c.corrected = false
	case TimeBaseAuto:
		if r, ok := opt.Timers.(RateReporter); ok {
			c.corrected = r.CorrectedRate()
		}
	}
	c.hist = []segment{{from: opt.Timers.Now(), ppm: f}}
	return c, nil
}

// Driver returns the wrapped driver.
func (c *Clock) Driver() Driver { return c.d }

// Frequency reports the base frequency correction in ppm (without any slew
// in progress).
func (c *Clock) Frequency() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.basePPM
}

// MaxFrequency reports the largest base frequency correction SetFrequency
// sets, in ppm.
func (c *Clock) MaxFrequency() float64 { return c.opt.MaxFrequencyPPM }

// SetFrequency sets the base frequency correction, clamped to
// ±MaxFrequencyPPM. A slew in progress keeps the offset it still has to
// apply and its end time, re-planned on top of the new base (its rate is
// limited by the room the new base leaves). It reports the value actually
// set.
func (c *Clock) SetFrequency(ppm float64) (float64, error) {
	if math.IsNaN(ppm) || math.IsInf(ppm, 0) {
		return 0, fmt.Errorf("set frequency %v ppm: %w", ppm, ErrOutOfRange)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setFrequencyLocked(c.opt.Timers.Now(), ppm)
}

func (c *Clock) setFrequencyLocked(now time.Time, ppm float64) (float64, error) {
	c.settleLocked(now)
	ppm = clamp(ppm, c.opt.MaxFrequencyPPM)
	left, until := c.slewRemainingLocked(now), c.slewEnd.Sub(now)
	c.cancelSlewLocked(now)
	old := c.basePPM
	c.basePPM = ppm
	if err := c.applyLocked(now); err != nil {
		c.basePPM = old
		if left != 0 {
			_, _ = c.slewLocked(now, left, until)
		} else {
			_ = c.applyLocked(now)
		}
		return old, fmt.Errorf("set frequency %+.3f ppm: %w", ppm, err)
	}
	if left != 0 {
		if _, err := c.slewLocked(now, left, until); err != nil {
			c.log.Error("resuming slew after frequency change", "err", err)
		}
	}
	return ppm, nil
}

// Correct is SetFrequency(ppm) and then Slew(offset, minDuration) (the
// slew in progress is replaced, not resumed) with a single change of the
// driver's frequency instead of two, which for the privilege-separated
// engine is one request to the parent fewer per update. On any refusal it
// falls back to the two calls, and its results are theirs: the frequency
// set, the slew's duration, and each one's error.
func (c *Clock) Correct(ppm float64, offset, minDuration time.Duration) (got float64, dur time.Duration, ferr, serr error) {
	if math.IsNaN(ppm) || math.IsInf(ppm, 0) {
		dur, serr = c.Slew(offset, minDuration)
		return c.Frequency(), dur, fmt.Errorf("set frequency %v ppm: %w", ppm, ErrOutOfRange), serr
	}
	ppm = clamp(ppm, c.opt.MaxFrequencyPPM)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opt.Timers.Now()
	c.settleLocked(now)
	c.cancelSlewLocked(now)
	old := c.basePPM
	c.basePPM = ppm
	if dur, err := c.slewLocked(now, offset, minDuration); err == nil {
		return ppm, dur, nil, nil
	}
	c.basePPM = old
	got, ferr = c.setFrequencyLocked(now, ppm)
	c.cancelSlewLocked(now)
	dur, serr = c.slewLocked(now, offset, minDuration)
	return got, dur, ferr, serr
}

// SetSyncStatus tells a driver that keeps a sync status in the kernel
// (SyncStatusReporter; ErrUnsupported for others) whether the clock is
// synchronized and how well. During a slew that ends within
// maxStatusDelay, a driver that takes the status with a frequency
// (StatusFrequencySetter) gets it with the slew's end instead: the
// privilege-separated engine then asks its parent once per update, not
// twice. The kernel hears it that much later, as if the update had come
// at the end of its slew.
func (c *Clock) SetSyncStatus(synced bool, maxError, estError time.Duration) error {
	r, ok := c.d.(SyncStatusReporter)
	if !ok {
		return ErrUnsupported
	}
	st := SyncStatus{Synced: synced, MaxError: maxError, EstError: estError}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opt.Timers.Now()
	c.settleLocked(now)
	// Only a synchronized status is held: the loop sends one with every
	// update, so one lost with a failed request is replaced within a
	// minute, while an unsynchronized one is sent once per change.
	if _, ok := c.d.(StatusFrequencySetter); ok && synced && c.slewStop != nil &&
		c.slewEnd.Sub(now) <= maxStatusDelay {
		c.status, c.statusAt = &st, now
		return nil
	}
	// After a slew the driver ends, no request of this layer ends it:
	// the status goes with the next update's request, aged
	// (heldStatusLocked), also when that slew was so short that its end
	// has passed already. (A status is only ever held for a
	// StatusFrequencySetter.)
	// Only while the kernel already has a synchronized status from us:
	// the first one (which also ends the parent's first-step window)
	// goes at once.
	if _, ok := c.d.(StatusFrequencySetter); ok && synced && c.driverEnds && c.sentSynced {
		c.status, c.statusAt = &st, now
		return nil
	}
	c.status = nil
	if err := r.SetSyncStatus(synced, maxError, estError); err != nil {
		return err
	}
	c.sentSynced = synced
	return nil
}

// heldStatusLocked takes the held status, if any, aged to now: its
// maximum error grown as the kernel would have grown it had it been sent
// when given, so that a late report never understates the error.
func (c *Clock) heldStatusLocked(now time.Time) *SyncStatus {
	if c.status == nil {
		return nil
	}
	st := *c.status
	c.status = nil
	if age := now.Sub(c.statusAt); age > 0 {
		st.MaxError = min(st.MaxError+time.Duration(float64(age)*SyncErrorGrowth), MaxSyncError)
	}
	return &st
}

// maxStatusDelay is the longest SetSyncStatus holds a status for the end
// of a slew.
const maxStatusDelay = time.Second

// CorrectedTimeBase reports whether the Timers run at the corrected rate
// (TimeBaseCorrected).
func (c *Clock) CorrectedTimeBase() bool { return c.corrected }

// perTimerSecond converts a total correction in ppm into the seconds of
// correction applied per second of the Timers' clock.
func (c *Clock) perTimerSecond(ppm float64) float64 {
	r := ppm * 1e-6
	if c.corrected {
		return r / (1 + r)
	}
	return r
}

// slewPerTimerSecond is the part of perTimerSecond(base+slew) that is the
// slew's: with corrected timers, slew/(1 + base + slew) (chrony's
// sys_generic.c: (total − base)/(1 − total) in its sign convention).
func (c *Clock) slewPerTimerSecond(basePPM, slewPPM float64) float64 {
	if c.corrected {
		return slewPPM * 1e-6 / (1 + (basePPM+slewPPM)*1e-6)
	}
	return slewPPM * 1e-6
}

// maxSlewPPM is the fastest extra rate available on top of the base
// frequency with this driver.
func (c *Clock) maxSlewPPM() float64 {
	room := c.d.MaxFrequency() - math.Abs(c.basePPM)
	return math.Max(0, math.Min(c.opt.MaxSlewPPM, room))
}

// MaxSlewRate reports the fastest extra rate, in ppm, at which Slew can
// correct an offset with the present base frequency.
func (c *Clock) MaxSlewRate() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxSlewPPM()
}

// Slew starts correcting offset (positive = forward) as a temporary
// frequency change lasting at least minDuration, replacing any slew in
// progress: offset must be the whole correction still wanted, as measured
// now. The rate is limited by MaxSlewPPM and the driver; Slew reports how
// long the correction will take.
func (c *Clock) Slew(offset, minDuration time.Duration) (time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opt.Timers.Now()
	c.settleLocked(now)
	c.cancelSlewLocked(now)
	return c.slewLocked(now, offset, minDuration)
}

func (c *Clock) slewLocked(now time.Time, offset, minDuration time.Duration) (time.Duration, error) {
	if offset == 0 {
		return 0, c.applyLocked(now)
	}
	maxPPM := c.maxSlewPPM()
	if maxPPM <= 0 {
		_ = c.applyLocked(now)
		return 0, fmt.Errorf("slew %+.6f s: no frequency range left: %w", offset.Seconds(), ErrOutOfRange)
	}
	// The duration, on the Timers' clock, at the fastest rate; then the
	// rate that applies offset in exactly that (whole-nanosecond)
	// duration. With corrected timers a slew s on a base b applies
	// s/(1+b+s) per timer second, so D = O(1+b+s)/s and s = O(1+b)/(D−O).
	o := offset.Seconds()
	smax := math.Copysign(maxPPM*1e-6, o)
	b := c.basePPM * 1e-6
	per := c.slewPerTimerSecond(c.basePPM, smax*1e6)
	dur := time.Duration(math.Ceil(o / per * 1e9))
	if dur < minDuration {
		dur = minDuration
	}
	if dur <= 0 {
		dur = time.Nanosecond
	}
	d := dur.Seconds()
	if c.corrected {
		c.slewPPM = o * (1 + b) / (d - o) * 1e6
	} else {
		c.slewPPM = o / d * 1e6
	}
	c.slewLeft = offset
	// A slow slew is left to a driver that can end it (one request, no
	// timer here); if it refuses, this layer ends it, and the usual
	// request reports the refusal.
	var at time.Time
	err := ErrUnsupported
	_, timed := c.d.(TimedFrequencySetter)
	if timed && math.Abs(c.slewPPM) <= driverEndMaxPPM {
		at, err = c.changeLocked(now, dur)
	}
	driverEnds := err == nil
	if !driverEnds {
		if at, err = c.changeLocked(now, 0); err != nil {
			c.slewPPM, c.slewLeft = 0, 0
			_ = c.applyLocked(now)
			return 0, fmt.Errorf("slew %+.6f s: %w", offset.Seconds(), err)
		}
	}
	c.slewFrom, c.slewEnd = at, at.Add(dur)
	c.slewGen++
	if !driverEnds {
		gen := c.slewGen
		c.slewStop = c.opt.Timers.AfterFunc(c.slewEnd.Sub(c.opt.Timers.Now()), func() { c.endSlew(gen) })
	}
	c.log.Debug("slewing clock", "offset_seconds", offset.Seconds(), "duration_seconds", dur.Seconds(), "rate_ppm", c.slewPPM, "ended_by_driver", driverEnds)
	return dur, nil
}

// EndSlew ends the slew in progress now, leaving the base frequency; the
// part of its offset not yet applied stays unapplied. A process that must
// not exit with a slew running (timesync --once where the kernel cannot
// finish a slew on its own) waits for the slew, then calls EndSlew.
func (c *Clock) EndSlew() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opt.Timers.Now()
	c.settleLocked(now)
	c.cancelSlewLocked(now)
	return c.applyLocked(now)
}

// Correcting a late end of slew (endSlew).
const (
	// minOvershoot is the smallest overshoot corrected.
	minOvershoot = time.Microsecond
	// overshootPPM is the rate at which an overshoot is taken back: slow
	// enough that the timer of that correction being late by as much
	// again leaves only a few µs.
	overshootPPM = 500
)

// endSlew ends the slew in progress when its timer fires. A timer fires
// late (by milliseconds on a busy or virtual machine), and every
// millisecond late at 83,333 ppm moves the clock 83 µs too far: that
// overshoot, known exactly from the Timers' clock, is taken back by a
// slow slew, as chrony's generic layer carries it over in its offset
// register. gen is the slew the timer was set for: a timer that fired
// while a newer slew replaced its own (it could not be stopped any more)
// does nothing.
func (c *Clock) endSlew(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.slewGen {
		return
	}
	now := c.opt.Timers.Now()
	// The request that ends the slew takes effect some time after it
	// is made (effectiveLocked), as the last one did: the overshoot
	// includes that.
	over := time.Duration(float64(now.Add(c.lastLag).Sub(c.slewEnd)) * c.slewPerTimerSecond(c.basePPM, c.slewPPM))
	c.slewPPM, c.slewStop, c.slewLeft = 0, nil, 0
	if over.Abs() >= minOvershoot {
		back := time.Duration(math.Abs(float64(over)) / (overshootPPM * 1e-6))
		if _, err := c.slewLocked(now, -over, max(back, time.Second)); err == nil {
			c.log.Debug("slew ended late; taking the overshoot back", "overshoot_seconds", over.Seconds())
			return
		}
	}
	if err := c.applyLocked(now); err != nil {
		c.log.Error("ending slew", "err", err)
	}
}

// cancelSlewLocked stops the slew in progress, leaving the part of its
// offset not yet applied unapplied. The caller applies the new rate.
func (c *Clock) cancelSlewLocked(now time.Time) {
	c.slewGen++
	if c.slewStop != nil {
		c.slewStop()
		c.slewStop = nil
	}
	if c.driverEnds {
		// If its end has not come, it is not in the history any more:
		// the caller's next request replaces it at the driver.
		for len(c.hist) > 1 && c.hist[len(c.hist)-1].from.After(now) {
			c.hist = c.hist[:len(c.hist)-1]
		}
		c.driverEnds = false
	}
	c.slewPPM, c.slewLeft = 0, 0
}

// SlewRemaining reports the part of the slew in progress not yet applied.
func (c *Clock) SlewRemaining() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slewRemainingLocked(c.opt.Timers.Now())
}

func (c *Clock) slewRemainingLocked(now time.Time) time.Duration {
	if c.slewPPM == 0 || !now.Before(c.slewEnd) {
		return 0
	}
	done := time.Duration(float64(now.Sub(c.slewFrom)) * c.slewPerTimerSecond(c.basePPM, c.slewPPM))
	return c.slewLeft - done
}

// applyLocked hands the total correction to the driver and, if it took it,
// starts a new segment of the correction history when it took effect.
func (c *Clock) applyLocked(now time.Time) error {
	_, err := c.changeLocked(now, 0)
	return err
}

// changeLocked is applyLocked reporting when the change took effect; with
// endIn > 0 the driver, a TimedFrequencySetter, sets the base frequency
// itself endIn later, and that end goes into the history too. A held
// sync status goes with the change; refused, it stays held.
func (c *Clock) changeLocked(now time.Time, endIn time.Duration) (time.Time, error) {
	ppm := c.basePPM + c.slewPPM
	held, heldAt := c.status, c.statusAt
	st := c.heldStatusLocked(now)
	sent := false
	var err error
	switch sf, _ := c.d.(StatusFrequencySetter); {
	case endIn > 0:
		if err = c.d.(TimedFrequencySetter).SetFrequencyUntil(ppm, c.basePPM, endIn, st); err != nil {
			c.status, c.statusAt = held, heldAt
			return time.Time{}, err
		}
		sent = st != nil
	case st != nil: // held only for a StatusFrequencySetter
		if err = sf.SetFrequencyBaseStatus(ppm, c.basePPM, *st); err == nil {
			sent = true
		} else if err = sf.SetFrequencyBase(ppm, c.basePPM); err == nil {
			// Refused together: the frequency alone, then the status
			// alone, each judged on its own.
			if serr := sf.SetSyncStatus(st.Synced, st.MaxError, st.EstError); serr != nil {
				c.log.Error("reporting the sync status", "err", serr)
			} else {
				sent = true
			}
		}
	default:
		if b, ok := c.d.(BaseFrequencySetter); ok {
			err = b.SetFrequencyBase(ppm, c.basePPM)
		} else {
			err = c.d.SetFrequency(ppm)
		}
	}
	if err != nil {
		return time.Time{}, err
	}
	if sent {
		c.sentSynced = st.Synced
	}
	c.driverEnds = endIn > 0
	at := c.effectiveLocked(now)
	c.record(at, ppm, 0)
	if endIn > 0 {
		c.record(at.Add(endIn), c.basePPM, 0)
	}
	return at, nil
}

// effectiveLocked is when a change the driver was asked for at now, and
// which it has just made, took effect. A ChangeStamper says so itself;
// otherwise it is halfway to now. For a driver in this process the call
// takes microseconds; for the privilege-separated engine's it is a
// request to the parent, milliseconds on a busy or virtual machine, and
// at the 83,333 ppm of a fast slew every millisecond is 83 µs: accounted
// from the time of asking, the end of such a slew looked like a phase
// jump in the history, which a young history read as a slope (a VM start
// learned a frequency 90 ppm off, then 130 ppm off). Halfway is a guess
// that fails when the reply is heard late: an engine busy starting up
// heard one 42 ms after asking instead of about 14, and the guess was
// 1.7 ms of phase off (about 20 ms at 83,333 ppm; the VM test then took
// minutes to converge); the parent's stamp is not a guess.
func (c *Clock) effectiveLocked(now time.Time) time.Time {
	// The stamp first, then the Timers' now at once: a pause between
	// the two would move the change early by as much.
	var ago time.Duration
	stamped := false
	if cs, ok := c.d.(ChangeStamper); ok {
		ago, stamped = cs.SinceChange()
	}
	end := c.opt.Timers.Now()
	took := end.Sub(now)
	if took <= 0 {
		c.lastLag = 0
		return now
	}
	at := now.Add(took / 2)
	// A stamp outside the call is not believed (another clock, or the
	// stamp of another change).
	if s := end.Add(-ago); stamped && !s.Before(now) && !s.After(end) {
		at = s
	}
	c.lastLag = at.Sub(now)
	return at
}

// record starts a new history segment at now with rate ppm, after a step
// of stepSeconds.
func (c *Clock) record(now time.Time, ppm, stepSeconds float64) {
	last := &c.hist[len(c.hist)-1]
	if now.Before(last.from) {
		now = last.from
	}
	applied := last.applied + c.perTimerSecond(last.ppm)*now.Sub(last.from).Seconds() + stepSeconds
	if now.Equal(last.from) {
		last.applied, last.ppm = applied, ppm
		return
	}
	if len(c.hist) == historyLen {
		copy(c.hist, c.hist[1:])
		c.hist = c.hist[:historyLen-1]
	}
	c.hist = append(c.hist, segment{from: now, applied: applied, ppm: ppm})
}

// AppliedAt reports the correction, in seconds (positive = forward), that
// this layer had applied to the clock from NewClock up to t (a time of
// the Timers): the integral of the frequency corrections it set over the
// oscillator's own time, in the Timers' time base (see TimeBase), plus
// its steps (a step made exactly at t counts). ok is false when t is older than the history kept (some
// dozens of rate changes back). The difference between two readings is
// how much this layer moved the clock in between, so an offset measured at
// t1 is, in the terms of the clock at t2, the measured offset minus
// AppliedAt(t2) − AppliedAt(t1).
func (c *Clock) AppliedAt(t time.Time) (seconds float64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.hist) - 1; i >= 0; i-- {
		s := c.hist[i]
		if !t.Before(s.from) {
			return s.applied + c.perTimerSecond(s.ppm)*t.Sub(s.from).Seconds(), true
		}
	}
	return 0, false
}

// Steps reports how many steps the clock has made; a measurement whose
// exchange spans a step is meaningless.
func (c *Clock) Steps() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.steps
}

// Step moves the clock by offset at once, cancelling any slew in progress,
// and logs the step as a warning with its size.
func (c *Clock) Step(offset time.Duration) error {
	if c.opt.MaxStep > 0 && (offset > c.opt.MaxStep || offset < -c.opt.MaxStep) {
		return fmt.Errorf("step %+.6f s exceeds the limit of %v: %w", offset.Seconds(), c.opt.MaxStep, ErrOutOfRange)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opt.Timers.Now()
	c.settleLocked(now)
	if c.slewPPM != 0 || c.slewStop != nil {
		// Only a slew in progress needs ending; otherwise the driver's
		// frequency is left exactly as it is.
		c.cancelSlewLocked(now)
		if err := c.applyLocked(now); err != nil {
			return fmt.Errorf("end slew before step: %w", err)
		}
	}
	if err := c.d.Step(offset); err != nil {
		return fmt.Errorf("step clock by %+.6f s: %w", offset.Seconds(), err)
	}
	c.steps++
	c.driverEnds = false
	c.record(now, c.basePPM, offset.Seconds())
	c.log.Warn(fmt.Sprintf("clock stepped by %+.6f s", offset.Seconds()), "driver", c.d.Name())
	return nil
}

func clamp(v, limit float64) float64 {
	return math.Max(-limit, math.Min(limit, v))
}
