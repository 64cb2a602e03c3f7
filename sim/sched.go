package sim

import (
	"container/heap"
	"time"
)

// Epoch is the true time at which every simulation starts. It lies well
// inside NTP era 0 and after engine's plausibility floor.
var Epoch = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// Scheduler is the simulation's virtual time and event queue. It
// implements platform.Timers on true time: the simulated machine's timers
// fire by a perfect monotonic clock, the way a real kernel's monotonic
// clock is disciplined only by frequency and never stepped. Events at the
// same instant run in the order they were scheduled, so a run is
// deterministic.
//
// A Scheduler is used by one goroutine: callbacks run inside Run.
type Scheduler struct {
	now    time.Duration // true time since Epoch
	seq    uint64
	events eventHeap
	// advance, if set, is called with the new true time before each event
	// runs (the simulated clock integrates up to it).
	advance func(to time.Duration)
}

type event struct {
	at   time.Duration
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
func NewScheduler() *Scheduler { return &Scheduler{} }

// Elapsed reports the true time since Epoch.
func (s *Scheduler) Elapsed() time.Duration { return s.now }

// Now reports the true time.
func (s *Scheduler) Now() time.Time { return Epoch.Add(s.now) }

// AfterFunc schedules f to run d from now (at once, after the events
// already due now, if d ≤ 0). The returned stop reports whether it
// prevented f from running.
func (s *Scheduler) AfterFunc(d time.Duration, f func()) func() bool {
	return s.At(s.now+max(d, 0), f)
}

// At schedules f at true time t since Epoch (not before now).
func (s *Scheduler) At(t time.Duration, f func()) func() bool {
	s.seq++
	e := &event{at: max(t, s.now), seq: s.seq, f: f}
	heap.Push(&s.events, e)
	return func() bool {
		if e.dead || e.idx < 0 {
			return false
		}
		e.dead = true
		heap.Remove(&s.events, e.idx)
		return true
	}
}

// Run executes events in time order until the queue is empty or the next
// one is later than until; virtual time then stands at until.
func (s *Scheduler) Run(until time.Duration) {
	for len(s.events) > 0 && s.events[0].at <= until {
		e := heap.Pop(&s.events).(*event)
		e.dead = true
		s.moveTo(e.at)
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
