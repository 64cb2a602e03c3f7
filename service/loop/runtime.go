package loop

// runtime.go: changes to a running loop that the service's control API
// makes (servers added and removed, minsources), kept apart from the
// poll logic in loop.go.

import (
	"errors"
	"fmt"
	"time"

	"github.com/timesync/timesync/service/engine"
)

// ErrUnknownServer: RemoveServer was given an address the loop does not
// poll.
var ErrUnknownServer = errors.New("loop: no such server")

// AddServer starts polling s (at once; with a burst if s.IBurst) without
// disturbing the other sources. Its address must be new.
func (l *Loop) AddServer(s Server) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.Address == "" {
		return errors.New("loop: server with an empty address")
	}
	for _, p := range l.peers {
		if p.cfg.Address == s.Address {
			return fmt.Errorf("loop: server %s configured twice", s.Address)
		}
	}
	if s.MinPoll == 0 {
		s.MinPoll = 6
	}
	if s.MaxPoll == 0 {
		s.MaxPoll = max(10, s.MinPoll)
	}
	p := &peer{
		cfg:    s,
		src:    engine.NewSource(s.Address, s.Prefer),
		poll:   engine.NewPollControl(s.MinPoll, s.MaxPoll),
		state:  engine.StateUnreachable,
		reason: "no reply yet",
	}
	l.peers = append(l.peers, p)
	if l.running {
		if s.IBurst {
			p.burst = l.opt.BurstCount
		}
		l.schedule(p, l.opt.Timers.Now())
	}
	return nil
}

// RemoveServer stops polling the server at address and forgets its
// measurements; an exchange in flight is ignored when it ends. If it was
// the system peer, the reference is cleared until the next update.
func (l *Loop) RemoveServer(address string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, p := range l.peers {
		if p.cfg.Address != address {
			continue
		}
		p.stopped = true
		if p.timer != nil {
			p.timer()
			p.timer = nil
		}
		l.peers = append(l.peers[:i], l.peers[i+1:]...)
		p.track.Reset()
		if l.ref == p {
			l.ref = nil
		}
		// A round may have been waiting for its answer.
		if l.running {
			l.roundEnded(l.opt.Timers.Now())
		} else {
			l.refreshStates(l.opt.Timers.Now(), nil)
		}
		return nil
	}
	return fmt.Errorf("%w: %s", ErrUnknownServer, address)
}

// Servers returns the servers the loop polls, in order.
func (l *Loop) Servers() []Server {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Server, len(l.peers))
	for i, p := range l.peers {
		out[i] = p.cfg
	}
	return out
}

// SetMinSources changes how many sources must agree before the clock is
// corrected (at least 1); it applies from the next update.
func (l *Loop) SetMinSources(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.opt.MinSources = max(n, 1)
}

// SetTinker changes the discipline's step, stepout and panic thresholds
// without restarting the loop: measurements and the frequency estimate
// are kept.
func (l *Loop) SetTinker(step, stepout, panic time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.disc.SetThresholds(step, stepout, panic)
}

// AllowStep lets the next correction step the clock, once, whatever the
// stepout (the machine resumed from sleep or the clock was set behind
// the service's back). The measurements held so far span the jump and
// describe a clock that no longer exists, so every source's history
// starts afresh (from the frequency in force), and the discipline may
// step at its next update (discipline.AllowStep). The panic threshold
// still holds.
func (l *Loop) AllowStep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.disc.AllowStep()
	for _, p := range l.peers {
		p.track.Reset()
		p.src.Filter().Reset()
	}
}
