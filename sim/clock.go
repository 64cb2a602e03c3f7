package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/timesync/timesync/platform"
)

// Profile names the real clock driver a simulated clock emulates: its
// frequency range and resolution.
type Profile string

// Profiles.
const (
	// ProfileLinux emulates platform/linux: ADJ_TICK combined with
	// ADJ_FREQUENCY, ±83333.333 ppm in all (chrony's maxslewrate), in
	// steps of 2⁻¹⁶ ppm.
	ProfileLinux Profile = "linux"
	// ProfileFreqOnly emulates a driver limited to the kernel's
	// ADJ_FREQUENCY range, ±500 ppm, in steps of 2⁻¹⁶ ppm.
	ProfileFreqOnly Profile = "freq-only"
)

// MaxFrequency reports the profile's limit in ppm.
func (p Profile) MaxFrequency() (float64, error) {
	switch p {
	case ProfileLinux, "":
		return 83333.333, nil
	case ProfileFreqOnly:
		return 500, nil
	}
	return 0, fmt.Errorf("unknown clock profile %q (want linux or freq-only)", p)
}

// freqResolutionPPM is the resolution of ADJ_FREQUENCY (16-bit fraction).
const freqResolutionPPM = 1.0 / 65536

// ClockConfig describes a simulated clock.
type ClockConfig struct {
	Profile Profile
	// StartOffset is the clock's error at the start: clock − true time
	// (positive: ahead).
	StartOffset time.Duration
	// FreqPPM is the oscillator's frequency error (positive: runs fast).
	FreqPPM float64
	// Wander is the standard deviation of the normal step added to the
	// oscillator's frequency error once per simulated second
	// (dimensionless: 1e-9 is 0.001 ppm), a random walk of the frequency.
	Wander float64
	// FreqStepPPM is added to the oscillator's frequency error at the
	// whole true second FreqStepAt (truncated): a change the discipline
	// must notice, as when the temperature changes or a virtual machine
	// moves to another host. 0: none.
	FreqStepAt  time.Duration
	FreqStepPPM float64
}

// Clock is the simulated machine's clock and implements platform.Driver.
// It has a true time (the scheduler's), an error x(t) = clock − true time
// and a rate made of the oscillator's frequency error f (initial error
// plus random walk) and the correction c set through the driver, as a
// kernel applies it: the oscillator runs at 1 + f, and the kernel
// multiplies its ticks by 1 + c, so the clock runs at (1 + f)(1 + c). The
// machine's monotonic clock (the scheduler's Now and timers) runs at that
// same rate, as Linux CLOCK_MONOTONIC does, and is never stepped. Between
// events both are integrated exactly: the rate is piecewise constant,
// changing only at whole seconds (wander) and at driver calls. Step
// applies at once, to the clock only.
type Clock struct {
	s       *Scheduler
	cfg     ClockConfig
	maxPPM  float64
	rng     *rand.Rand
	at      time.Duration // true time x refers to
	x       float64       // clock − true time, seconds
	mono    float64       // the monotonic clock's reading, seconds since the start
	osc     float64       // oscillator frequency error (dimensionless)
	corrPPM float64       // correction set through the driver
	nextSec time.Duration // next whole second: observe, then wander
	steps   int
	// observe, if set, is called for every whole true second with x and
	// the frequency error (ppm) in force from then on (after the second's
	// wander step and whatever was done at that instant).
	observe   func(sec int64, x, freqPPM float64)
	pending   bool          // a whole second awaits observation
	pendingAt time.Duration // which
	pendingX  float64       // x then
}

// NewClock attaches a simulated clock to s: from now on it integrates up
// to every event's time. rng drives the wander.
func NewClock(s *Scheduler, cfg ClockConfig, rng *rand.Rand) (*Clock, error) {
	maxPPM, err := cfg.Profile.MaxFrequency()
	if err != nil {
		return nil, err
	}
	if cfg.Profile == "" {
		cfg.Profile = ProfileLinux
	}
	c := &Clock{s: s, cfg: cfg, maxPPM: maxPPM, rng: rng, at: s.now, x: cfg.StartOffset.Seconds(), osc: cfg.FreqPPM * 1e-6}
	c.nextSec = (s.now + time.Second - 1).Truncate(time.Second)
	s.advance = c.advanceTo
	s.mono = c
	return c, nil
}

// excess is the clock's rate minus one: (1 + f)(1 + c) − 1, written so
// that no precision is lost to the cancellation.
func (c *Clock) excess() float64 {
	corr := c.corrPPM * 1e-6
	return c.osc + corr + c.osc*corr
}

func (c *Clock) monoNow() float64 {
	c.advanceTo(c.s.now)
	return c.mono
}

func (c *Clock) monoRate() float64 { return 1 + c.excess() }

// advanceTo integrates x up to true time t, stepping the wander at each
// whole second crossed (including t itself). Each whole second is
// observed with x at that second and the frequency error in force from
// then on, once time has moved past it: so everything done at that very
// instant (the frequency a drift file sets while the loop is built, at
// second 0) is in the frequency observed for it.
func (c *Clock) advanceTo(t time.Duration) {
	if c.pending && t > c.pendingAt {
		c.flush()
	}
	for c.nextSec <= t {
		c.integrate((c.nextSec - c.at).Seconds())
		c.at = c.nextSec
		if c.cfg.Wander != 0 {
			c.osc += c.cfg.Wander * c.rng.NormFloat64()
		}
		if c.cfg.FreqStepPPM != 0 && c.at == c.cfg.FreqStepAt.Truncate(time.Second) {
			c.osc += c.cfg.FreqStepPPM * 1e-6
		}
		c.pending, c.pendingAt, c.pendingX = true, c.at, c.x
		c.nextSec += time.Second
		if t > c.at {
			c.flush()
		}
	}
	if t > c.at {
		c.integrate((t - c.at).Seconds())
		c.at = t
	}
}

// flush observes the pending whole second.
func (c *Clock) flush() {
	c.pending = false
	if c.observe != nil {
		c.observe(int64(c.pendingAt/time.Second), c.pendingX, c.excess()*1e6)
	}
}

func (c *Clock) integrate(dt float64) {
	e := c.excess()
	c.x += e * dt
	c.mono += dt + e*dt
}

// Offset reports x now: clock − true time, seconds.
func (c *Clock) Offset() float64 {
	c.advanceTo(c.s.now)
	return c.x
}

// OscillatorPPM reports the oscillator's own frequency error now.
func (c *Clock) OscillatorPPM() float64 { return c.osc * 1e6 }

// FrequencyErrorPPM reports the clock's frequency error now, oscillator
// and correction together: ((1 + f)(1 + c) − 1)·10⁶.
func (c *Clock) FrequencyErrorPPM() float64 { return c.excess() * 1e6 }

// Read returns the clock's reading now (what the simulated machine's
// time stamps say).
func (c *Clock) Read() time.Time {
	return c.s.start.Add(c.s.now + time.Duration(math.Round(c.Offset()*1e9)))
}

// StepCount reports how many times the clock was stepped.
func (c *Clock) StepCount() int { return c.steps }

// Name implements platform.Driver.
func (c *Clock) Name() string { return "sim-" + string(c.cfg.Profile) }

// Frequency implements platform.Driver.
func (c *Clock) Frequency() (float64, error) { return c.corrPPM, nil }

// SetFrequency implements platform.Driver, with the emulated driver's
// range and resolution.
func (c *Clock) SetFrequency(ppm float64) error {
	if math.IsNaN(ppm) || math.Abs(ppm) > c.maxPPM {
		return fmt.Errorf("%s: frequency %+.3f ppm beyond ±%.3f ppm: %w", c.Name(), ppm, c.maxPPM, platform.ErrOutOfRange)
	}
	c.advanceTo(c.s.now)
	c.corrPPM = math.Round(ppm/freqResolutionPPM) * freqResolutionPPM
	return nil
}

// MaxFrequency implements platform.Driver.
func (c *Clock) MaxFrequency() float64 { return c.maxPPM }

// Step implements platform.Driver: the clock jumps by offset at once.
func (c *Clock) Step(offset time.Duration) error {
	c.advanceTo(c.s.now)
	c.x += offset.Seconds()
	c.steps++
	return nil
}
