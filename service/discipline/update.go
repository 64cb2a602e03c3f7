package discipline

import (
	"fmt"
	"math"
	"time"

	"github.com/timesync/timesync/service/engine"
)

// Action is what an update did to the clock.
type Action int

// Actions.
const (
	// ActionNone: nothing to do (no estimate).
	ActionNone Action = iota
	// ActionSlew: the offset is being slewed away; the frequency set.
	ActionSlew
	// ActionStep: the clock was stepped.
	ActionStep
	// ActionSpike: the offset is beyond the step threshold but has not
	// persisted for the stepout interval; nothing was changed.
	ActionSpike
	// ActionRefused: the offset is beyond the panic threshold; nothing
	// was changed and the correction waits for Confirm.
	ActionRefused
)

func (a Action) String() string {
	switch a {
	case ActionSlew:
		return "slew"
	case ActionStep:
		return "step"
	case ActionSpike:
		return "spike"
	case ActionRefused:
		return "refused"
	default:
		return "none"
	}
}

// Update is the outcome of one clock update.
type Update struct {
	Time   time.Time
	Action Action
	// Offset is the combined offset (reference − local) the update
	// found; OffsetSD its standard error.
	Offset   time.Duration
	OffsetSD time.Duration
	// FrequencyPPM is the frequency correction in force after the update,
	// SkewPPM the standard error of its estimate.
	FrequencyPPM float64
	SkewPPM      float64
	// Distance is the combined root distance; Jitter the combined jitter.
	Distance time.Duration
	Jitter   time.Duration
	// Sources is how many estimates were combined.
	Sources int
	// Err is set when the clock refused a change.
	Err error
}

// Update combines the estimates of the selected sources (as returned by
// Estimate at now) with engine.Combine, the rule timesync --once uses too,
// and corrects the clock: the frequency correction is set to the combined
// estimate and the offset slewed away, or stepped, or held, by the tinker
// rules. The first correction may always step (with FirstStep): neither
// the stepout nor the panic threshold applies to it.
func (d *Discipline) Update(now time.Time, ests []Estimate) Update {
	u := Update{Time: now}
	if len(ests) == 0 {
		return u
	}
	c := Combine(ests)
	u.Offset, u.OffsetSD, u.Distance, u.Jitter, u.Sources = c.Offset, c.OffsetSD, c.Distance, c.Jitter, len(ests)
	off := c.Offset
	abs := off
	if abs < 0 {
		abs = -abs
	}

	first := d.applied == 0 && d.cfg.FirstStep
	// The panic threshold: after the first correction, never applied
	// without a confirmation.
	if d.cfg.Panic > 0 && abs > d.cfg.Panic && !d.confirmed && !first {
		if !d.hasPending {
			d.log.Error(fmt.Sprintf("clock offset %+.6f s exceeds the panic threshold of %v: refusing to correct it; confirm the step through the service (timesync sync --confirm) or set tinker panic 0",
				off.Seconds(), d.cfg.Panic))
		}
		d.pending, d.hasPending = off, true
		u.Action = ActionRefused
		u.FrequencyPPM, u.SkewPPM = d.freqPPM, d.skewPPM
		d.last = u
		return u
	}
	d.hasPending = false

	step := false
	if d.cfg.Step > 0 && abs > d.cfg.Step {
		switch {
		case d.confirmed, first, d.stepOnce, d.cfg.Stepout <= 0:
			step = true
		case d.spikeSince.IsZero():
			d.spikeSince = now
		case now.Sub(d.spikeSince) >= d.cfg.Stepout:
			step = true
		}
		if !step {
			d.log.Info("offset beyond the step threshold held as a spike", "offset_seconds", off.Seconds(),
				"since", d.spikeSince, "stepout", d.cfg.Stepout)
			u.Action = ActionSpike
			u.FrequencyPPM, u.SkewPPM = d.freqPPM, d.skewPPM
			d.last = u
			return u
		}
	}
	d.spikeSince = time.Time{}
	d.confirmed, d.stepOnce = false, false

	routine := time.Duration(math.Abs(float64(off)) / (d.cfg.RoutineSlewPPM * 1e-6))
	slewFor := min(routine, d.cfg.MaxSlewTime)
	cr, combined := d.clock.(corrector)
	combined = combined && c.HasFrequency && !step
	switch {
	case !c.HasFrequency:
		// No estimate gives a frequency: keep the one in force.
	case combined:
		got, _, ferr, serr := cr.Correct(c.FrequencyPPM, off, slewFor)
		if ferr != nil {
			u.Err = fmt.Errorf("set frequency: %w", ferr)
		} else {
			d.freqPPM, d.skewPPM = got, c.SkewPPM
		}
		if serr != nil {
			u.Err = fmt.Errorf("slew: %w", serr)
		}
	default:
		if got, err := d.clock.SetFrequency(c.FrequencyPPM); err != nil {
			u.Err = fmt.Errorf("set frequency: %w", err)
		} else {
			d.freqPPM, d.skewPPM = got, c.SkewPPM
		}
	}
	u.FrequencyPPM, u.SkewPPM = d.freqPPM, d.skewPPM

	if step {
		if err := d.clock.Step(off); err != nil {
			u.Err = fmt.Errorf("step: %w", err)
			d.last = u
			return u
		}
		u.Action = ActionStep
	} else {
		if !combined {
			if _, err := d.clock.Slew(off, slewFor); err != nil {
				u.Err = fmt.Errorf("slew: %w", err)
			}
		}
		u.Action = ActionSlew
	}
	d.applied++
	d.last = u
	d.log.Debug("clock update", "action", u.Action.String(), "offset_seconds", off.Seconds(),
		"offset_sd_seconds", c.OffsetSD.Seconds(), "frequency_ppm", u.FrequencyPPM, "skew_ppm", u.SkewPPM,
		"sources", len(ests), "used", ests[0].Used, "samples", ests[0].Samples, "bounded", ests[0].Bounded)
	return u
}

// Combine combines the estimates of the selected sources with
// engine.Combine, as Update does before it corrects the clock; the loop
// uses it to judge whether an update is worth making now.
func Combine(ests []Estimate) engine.Combined {
	ce := make([]engine.Estimate, len(ests))
	for i, e := range ests {
		ce[i] = e.Combinable()
	}
	return engine.Combine(ce)
}

// Confirm allows the refused correction (beyond the panic threshold) to be
// applied at the next update, by a step. It fails when nothing waits.
func (d *Discipline) Confirm() error {
	if !d.hasPending {
		return ErrNothingPending
	}
	d.confirmed = true
	return nil
}

// SetThresholds changes the step, stepout and panic thresholds of a
// running discipline (the configuration's tinker line), keeping its
// estimates. A correction already held past the panic threshold is
// dropped if the new threshold no longer holds it back (the next update
// decides afresh), and a held spike is judged by the new stepout.
func (d *Discipline) SetThresholds(step, stepout, panic time.Duration) {
	d.cfg.Step, d.cfg.Stepout, d.cfg.Panic = step, stepout, panic
	if d.hasPending && (panic <= 0 || d.pending.Abs() <= panic) {
		d.hasPending, d.pending = false, 0
	}
}

// AllowStep lets the next correction step, once, whatever the stepout
// (the machine resumed from sleep, or the clock was set behind the
// service's back). The panic threshold still holds.
func (d *Discipline) AllowStep() { d.stepOnce = true }

// Pending reports the correction refused at the panic threshold, if any.
func (d *Discipline) Pending() (time.Duration, bool) { return d.pending, d.hasPending }

// Last returns the latest update.
func (d *Discipline) Last() Update { return d.last }

// Frequency reports the frequency correction in force as estimated, and
// its skew, in ppm: what the drift file keeps.
func (d *Discipline) Frequency() Drift { return Drift{FrequencyPPM: d.freqPPM, SkewPPM: d.skewPPM} }
