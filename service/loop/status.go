package loop

import (
	"time"

	"github.com/timesync/timesync/service/engine"
)

// State is the clock's synchronization state. The strings are part of
// the JSON contract (DESIGN.md, "status --json").
type State string

// States.
const (
	// StateSynchronized: the clock follows a trustworthy reference.
	StateSynchronized State = "synchronized"
	// StateSyncing: measurements arrive and a correction is under way.
	StateSyncing State = "syncing"
	// StateUnsynchronized: no reference (yet, any more, or a correction
	// beyond the panic threshold awaits confirmation).
	StateUnsynchronized State = "unsynchronized"
)

// Status is a snapshot of the loop for the control API.
type Status struct {
	State State
	// Reason says in words why the state is not synchronized.
	Reason string
	// Offset is the offset (reference − local) found at the last update,
	// OffsetSD its standard error.
	Offset   time.Duration
	OffsetSD time.Duration
	// FrequencyPPM is the frequency correction in force (positive:
	// faster), SkewPPM the standard error of its estimate.
	FrequencyPPM float64
	SkewPPM      float64
	// Reference is the system peer's address, Stratum ours (its + 1).
	Reference string
	Stratum   uint8
	// LastSync is the time of the last correction (zero: never), by the
	// loop's Timers.
	LastSync time.Time
	// RootDistance is the estimated maximum error now.
	RootDistance time.Duration
	// PendingStep is the correction refused at the panic threshold, valid
	// when StepPending.
	PendingStep time.Duration
	StepPending bool
	// Updates counts corrections made.
	Updates int
	Sources []SourceStatus
}

// SourceStatus is one server's line in the status.
type SourceStatus struct {
	Address string
	State   engine.State
	Reason  string
	// Offset is the source's present offset estimate (reference −
	// local), Delay its lowest recent round-trip delay, Jitter the spread
	// of its measurements.
	Offset  time.Duration
	Delay   time.Duration
	Jitter  time.Duration
	Stratum uint8
	// Poll is the present poll interval, Reach the reachability register.
	Poll    time.Duration
	Reach   uint8
	Samples int
}

// Updates returns what the history keeps of the last correction without
// the rest of a Status (no selection, no per-source lines): how many
// corrections there have been, the last one's time (zero: never) and
// offset, and the frequency correction in force.
func (l *Loop) Updates() (n int, last time.Time, offset time.Duration, frequencyPPM float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.updates, l.lastUpdate, l.disc.Last().Offset, l.opt.Clock.Frequency()
}

// Status returns a snapshot.
func (l *Loop) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opt.Timers.Now()
	if l.statesStale {
		l.refreshStates(now, nil)
	}
	st := Status{Updates: l.updates, LastSync: l.lastUpdate}
	st.State, st.Reason = l.state(now)
	last := l.disc.Last()
	st.Offset, st.OffsetSD = last.Offset, last.OffsetSD
	d := l.disc.Frequency()
	st.FrequencyPPM, st.SkewPPM = l.opt.Clock.Frequency(), d.SkewPPM
	if l.updates > 0 {
		st.RootDistance = l.errorBound(now)
	}
	if l.ref != nil && st.State != StateUnsynchronized {
		st.Reference, st.Stratum = l.ref.cfg.Address, l.refStratum
	} else {
		st.Stratum = engine.MaxStratum
	}
	st.PendingStep, st.StepPending = l.disc.Pending()
	for _, p := range l.peers {
		s := SourceStatus{
			Address: p.cfg.Address,
			State:   p.state,
			Reason:  p.reason,
			Poll:    l.interval(p),
			Reach:   p.src.Reach(),
			Samples: p.track.Samples(),
		}
		if e, ok := l.disc.Estimate(&p.track, now); ok {
			s.Offset, s.Delay, s.Jitter, s.Stratum = e.Offset, e.Delay, e.Jitter, e.Stratum
		} else if smp, ok := p.src.Last(); ok {
			s.Offset, s.Delay, s.Stratum = smp.Offset, smp.Delay, smp.Stratum
		}
		if p.stopped {
			s.Poll = 0
		}
		st.Sources = append(st.Sources, s)
	}
	return st
}
