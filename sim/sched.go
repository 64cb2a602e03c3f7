package sim

import (
	"container/heap"
	"math"
	"time"
)

// Epoch is the true time at which every simulation starts. It lies well
// inside NTP era 0 and after engine's plausibility floor. Scenario.Start
// moves a run elsewhere (past the era rollover of 2036, say).
var Epoch = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// Scheduler is the simulation's virtual time and event queue. It keeps
// two time bases, as a Linux machine does:
//
//   - true time (Elapsed, At): the network's delays, the statistics and
//     the scenario's own actions run on it;
//   - the machine's monotonic clock (Now, AfterFunc): the platform.Timers
//     the loop and platform.Clock run on. With a Clock attached it runs at
//     the disciplined rate, as Linux CLOCK_MONOTONIC does: the
//     oscillator's frequency error and every frequency correction set
//     through the driver (a slew included) speed it up or slow it down;
//     only steps leave it alone. Its timers fire when it reaches their
//     deadline, whatever the rate did meanwhile (clknetsim does the same
//     for chrony). Without a Clock it is true time.
//
// Events at the same instant run in the order they were scheduled, so a
// run is deterministic. A Scheduler is used by one goroutine: callbacks
// run inside Run.
type Scheduler struct {
	now    time.Duration // true time since start
	start  time.Time     // true time at now == 0
	seq    uint64
	events eventHeap // true-time events
	timers eventHeap // monotonic-clock events, keyed by deadline
	// advance, if set, is called with the new true time before each event
	// runs (the simulated clock integrates up to it).
	advance func(to time.Duration)
	// mono, if set, is the monotonic clock: its reading (seconds since
	// the start) and rate (monotonic seconds per true second), both as of
	// the last advance; the rate stays constant until the next whole true
	// second or the next event.
	mono monoClock
}

type monoClock interface {
	monoNow() float64
	monoRate() float64
}

type event struct {
	at   time.Duration // true time, or monotonic deadline for timers
	seq  uint64
	f    func()
	dead bool
	idx  int
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *eventHeap) Push(x any)   { e := x.(*event); e.idx = len(*h); *h = append(*h, e) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.idx = -1
	return e
}

// NewScheduler returns a scheduler at true time 0 (Epoch).
func NewScheduler() *Scheduler { return NewSchedulerAt(Epoch) }

// NewSchedulerAt returns a scheduler whose true time 0 is start.
func NewSchedulerAt(start time.Time) *Scheduler { return &Scheduler{start: start} }

// Start reports the true time at which the run began.
func (s *Scheduler) Start() time.Time { return s.start }

// Elapsed reports the true time since the start.
func (s *Scheduler) Elapsed() time.Duration { return s.now }

// Mono reports the monotonic clock's reading: the time since the start by
// the machine's monotonic clock.
func (s *Scheduler) Mono() time.Duration {
	if s.mono == nil {
		return s.now
	}
	return time.Duration(math.Round(s.mono.monoNow() * 1e9))
}

// Now implements platform.Timers: the monotonic clock as a time.Time
// (start + Mono()).
func (s *Scheduler) Now() time.Time { return s.start.Add(s.Mono()) }

// CorrectedRate implements platform.RateReporter: the monotonic clock
// runs at the disciplined rate, as Linux CLOCK_MONOTONIC does.
func (s *Scheduler) CorrectedRate() bool { return true }

// AfterFunc implements platform.Timers: f runs when the monotonic clock
// has advanced by d (at once, after the events already due now, if
// d ≤ 0). The returned stop reports whether it prevented f from running.
func (s *Scheduler) AfterFunc(d time.Duration, f func()) func() bool {
	return s.push(&s.timers, s.Mono()+max(d, 0), f)
}

// At schedules f at true time t since the start (not before now).
func (s *Scheduler) At(t time.Duration, f func()) func() bool {
	return s.push(&s.events, max(t, s.now), f)
}

func (s *Scheduler) push(h *eventHeap, at time.Duration, f func()) func() bool {
	s.seq++
	e := &event{at: at, seq: s.seq, f: f}
	heap.Push(h, e)
	return func() bool {
		if e.dead || e.idx < 0 {
			return false
		}
		e.dead = true
		heap.Remove(h, e.idx)
		return true
	}
}

// timerDue returns the true time at which the earliest timer falls due if
// the monotonic clock keeps its present rate, never before now.
func (s *Scheduler) timerDue() time.Duration {
	e := s.timers[0]
	if s.mono == nil {
		return max(e.at, s.now)
	}
	left := e.at.Seconds() - s.mono.monoNow()
	if left <= 0 {
		return s.now
	}
	return s.now + time.Duration(math.Ceil(left/s.mono.monoRate()*1e9))
}

// Run executes events in time order until none is left or the next one
// is later than until; true time then stands at until. A timer's true
// time is found from the monotonic clock's rate, which may change at
// every whole true second (wander) and at every event (a driver call):
// Run therefore never looks further ahead than the next whole second.
func (s *Scheduler) Run(until time.Duration) {
	for {
		var next time.Duration
		var h *eventHeap
		if len(s.events) > 0 {
			next, h = s.events[0].at, &s.events
		}
		if len(s.timers) > 0 {
			if t := s.timerDue(); h == nil || t < next || t == next && s.timers[0].seq < s.events[0].seq {
				next, h = t, &s.timers
			}
		}
		if h == nil || next > until {
			break
		}
		if h == &s.timers && s.mono != nil {
			if sec := (s.now/time.Second + 1) * time.Second; next > sec {
				// The rate may change at the whole second: go there and
				// look again.
				s.moveTo(sec)
				continue
			}
		}
		e := heap.Pop(h).(*event)
		e.dead = true
		s.moveTo(next)
		e.f()
	}
	s.moveTo(until)
}

func (s *Scheduler) moveTo(t time.Duration) {
	if t < s.now {
		return
	}
	if s.advance != nil {
		s.advance(t)
	}
	s.now = t
}
