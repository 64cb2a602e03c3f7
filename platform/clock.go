package platform

import (
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"
)

// Timers is the source of time for the shared layer: real time in the
// service, the simulator's virtual time in sim/. Now must be monotonic with
// respect to the intervals AfterFunc waits.
type Timers interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// RealTimers is the Timers of the running service.
type RealTimers struct{}

// Now returns time.Now().
func (RealTimers) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (RealTimers) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// ClockOptions configures a Clock. Zero values take the defaults.
type ClockOptions struct {
	// Timers defaults to RealTimers.
	Timers Timers
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

// Clock is the shared layer above a Driver: it keeps the base frequency,
// slews offsets as a temporary frequency change ended by a timer, clamps
// every request to safe limits and logs every step with its size.
type Clock struct {
	d   Driver
	opt ClockOptions
	log *slog.Logger

	mu       sync.Mutex
	basePPM  float64       // frequency correction without any slew
	slewPPM  float64       // extra rate of the slew in progress (0 = none)
	slewEnd  time.Time     // when the slew in progress ends
	slewStop func() bool   // cancels the timer that ends it
	slewLeft time.Duration // offset the slew in progress still has to apply, as of slewFrom
	slewFrom time.Time
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
	return &Clock{d: d, opt: opt, log: opt.Logger, basePPM: f}, nil
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

// SetFrequency sets the base frequency correction, clamped to
// ±MaxFrequencyPPM; a slew in progress keeps its rate on top of it. It
// reports the value actually set.
func (c *Clock) SetFrequency(ppm float64) (float64, error) {
	if math.IsNaN(ppm) || math.IsInf(ppm, 0) {
		return 0, fmt.Errorf("set frequency %v ppm: %w", ppm, ErrOutOfRange)
	}
	ppm = clamp(ppm, c.opt.MaxFrequencyPPM)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.d.SetFrequency(ppm + c.slewPPM); err != nil {
		return c.basePPM, fmt.Errorf("set frequency %+.3f ppm: %w", ppm, err)
	}
	c.basePPM = ppm
	return ppm, nil
}

// maxSlewPPM is the fastest extra rate available on top of the base
// frequency with this driver.
func (c *Clock) maxSlewPPM() float64 {
	room := c.d.MaxFrequency() - math.Abs(c.basePPM)
	return math.Max(0, math.Min(c.opt.MaxSlewPPM, room))
}

// Slew starts correcting offset (positive = forward) as a temporary
// frequency change lasting at least minDuration, replacing any slew in
// progress: offset must be the whole correction still wanted, as measured
// now. The rate is limited by MaxSlewPPM and the driver; Slew reports how
// long the correction will take.
func (c *Clock) Slew(offset, minDuration time.Duration) (time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancelSlewLocked()
	if offset == 0 {
		return 0, c.applyLocked()
	}
	maxPPM := c.maxSlewPPM()
	if maxPPM <= 0 {
		return 0, fmt.Errorf("slew %+.6f s: no frequency range left: %w", offset.Seconds(), ErrOutOfRange)
	}
	dur := time.Duration(math.Abs(float64(offset)) / (maxPPM * 1e-6))
	if dur < minDuration {
		dur = minDuration
	}
	if dur <= 0 {
		dur = time.Nanosecond
	}
	c.slewPPM = float64(offset) / float64(dur) * 1e6
	now := c.opt.Timers.Now()
	c.slewFrom, c.slewEnd, c.slewLeft = now, now.Add(dur), offset
	if err := c.applyLocked(); err != nil {
		c.slewPPM = 0
		return 0, fmt.Errorf("slew %+.6f s: %w", offset.Seconds(), err)
	}
	c.slewStop = c.opt.Timers.AfterFunc(dur, c.endSlew)
	c.log.Debug("slewing clock", "offset_seconds", offset.Seconds(), "duration_seconds", dur.Seconds(), "rate_ppm", c.slewPPM)
	return dur, nil
}

func (c *Clock) endSlew() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slewPPM, c.slewStop, c.slewLeft = 0, nil, 0
	if err := c.applyLocked(); err != nil {
		c.log.Error("ending slew", "err", err)
	}
}

// cancelSlewLocked stops the slew in progress, leaving the part of its
// offset not yet applied unapplied.
func (c *Clock) cancelSlewLocked() {
	if c.slewStop != nil {
		c.slewStop()
		c.slewStop = nil
	}
	c.slewPPM, c.slewLeft = 0, 0
}

// SlewRemaining reports the part of the slew in progress not yet applied.
func (c *Clock) SlewRemaining() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.slewPPM == 0 {
		return 0
	}
	now := c.opt.Timers.Now()
	if !now.Before(c.slewEnd) {
		return 0
	}
	done := time.Duration(float64(now.Sub(c.slewFrom)) * c.slewPPM * 1e-6)
	return c.slewLeft - done
}

func (c *Clock) applyLocked() error {
	return c.d.SetFrequency(c.basePPM + c.slewPPM)
}

// Step moves the clock by offset at once, cancelling any slew in progress,
// and logs the step as a warning with its size.
func (c *Clock) Step(offset time.Duration) error {
	if c.opt.MaxStep > 0 && (offset > c.opt.MaxStep || offset < -c.opt.MaxStep) {
		return fmt.Errorf("step %+.6f s exceeds the limit of %v: %w", offset.Seconds(), c.opt.MaxStep, ErrOutOfRange)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancelSlewLocked()
	if err := c.applyLocked(); err != nil {
		return fmt.Errorf("end slew before step: %w", err)
	}
	if err := c.d.Step(offset); err != nil {
		return fmt.Errorf("step clock by %+.6f s: %w", offset.Seconds(), err)
	}
	c.log.Warn(fmt.Sprintf("clock stepped by %+.6f s", offset.Seconds()), "driver", c.d.Name())
	return nil
}

func clamp(v, limit float64) float64 {
	return math.Max(-limit, math.Min(limit, v))
}
