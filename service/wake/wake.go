// Package wake notices when the machine resumed from sleep or the wall
// clock was changed behind the service's back, by comparing the wall clock
// with clocks nobody can set: the monotonic clock, which stops while the
// machine sleeps, and the boot-time clock, which does not (Linux
// CLOCK_BOOTTIME, macOS CLOCK_MONOTONIC, Windows interrupt time). The
// service answers either event with a burst of measurements and by allowing
// one step. The logic (Watcher) is pure and takes its readings from
// outside; the per-OS readers are in reader_*.go. It never changes a clock.
package wake

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Reading is one simultaneous look at the three clocks.
type Reading struct {
	// Wall is the wall clock (time.Now without its monotonic part).
	Wall time.Time
	// Mono is the monotonic clock: it stops while the machine sleeps. On
	// Linux it is slewed together with the wall clock (adjtimex), so only
	// steps make the two differ there.
	Mono time.Duration
	// Boot is a monotonic clock that goes on counting through sleep; equal
	// to Mono where the OS has none (then a resume looks like a forward
	// jump of the wall clock, which still triggers a re-measurement).
	Boot time.Duration
}

// Kind says what happened.
type Kind int

// Kinds of events.
const (
	// Resumed: the machine slept for Event.Slept and woke up.
	Resumed Kind = iota + 1
	// ClockJumped: the wall clock moved by Event.Jump more than the
	// clocks nobody can set say it should have (someone set it).
	ClockJumped
)

// Event is one thing noticed between two readings.
type Event struct {
	Kind  Kind
	Slept time.Duration // Resumed: time spent asleep
	Jump  time.Duration // ClockJumped: the unexplained change, positive = forward
	Wall  time.Time     // the wall clock when it was noticed
}

func (e Event) String() string {
	switch e.Kind {
	case Resumed:
		return fmt.Sprintf("resumed after %v asleep", e.Slept.Round(time.Millisecond))
	case ClockJumped:
		sign := "+"
		if e.Jump < 0 {
			sign = ""
		}
		return fmt.Sprintf("clock jumped by %s%.6f s behind our back", sign, e.Jump.Seconds())
	}
	return fmt.Sprintf("wake event %d", int(e.Kind))
}

// Defaults of a Watcher.
const (
	// DefaultThreshold is the smallest wall-clock jump reported: well above
	// the scatter of reading three clocks one after another (microseconds,
	// a few milliseconds when preempted), well below any step worth a
	// re-measurement.
	DefaultThreshold = 50 * time.Millisecond
	// DefaultSleepThreshold is the shortest sleep reported.
	DefaultSleepThreshold = time.Second
)

// Watcher compares each reading with the one before. Its methods may be
// called from several goroutines.
type Watcher struct {
	// Threshold is the smallest jump reported (DefaultThreshold if 0).
	Threshold time.Duration
	// SlewPPM is how fast the wall clock may legitimately drift from Mono
	// through slewing, in ppm (0 on Linux, where both are slewed alike;
	// the driver's largest rate where the monotonic clock is not slewed).
	SlewPPM float64
	// SleepThreshold is the shortest sleep reported (DefaultSleepThreshold if 0).
	SleepThreshold time.Duration

	mu      sync.Mutex
	prev    Reading
	have    bool
	pending time.Duration // a step the service made itself, not yet seen
	ttl     int           // readings left for pending to show up
}

// Expect tells the watcher that the service itself steps the wall clock by
// step, so that the next readings do not report it. Call it just before or
// just after the step; it expires after two readings.
func (w *Watcher) Expect(step time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending += step
	w.ttl = 2
}

// Observe takes the next reading and returns what happened since the
// previous one (nothing for the first).
func (w *Watcher) Observe(r Reading) []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.have {
		w.prev, w.have = r, true
		return nil
	}
	p := w.prev
	w.prev = r
	dMono := r.Mono - p.Mono
	dBoot := r.Boot - p.Boot
	if dBoot < dMono { // a clock without sleep tracking: trust Mono
		dBoot = dMono
	}
	var evs []Event
	sleepThr := w.SleepThreshold
	if sleepThr == 0 {
		sleepThr = DefaultSleepThreshold
	}
	if slept := dBoot - dMono; slept >= sleepThr {
		evs = append(evs, Event{Kind: Resumed, Slept: slept, Wall: r.Wall})
	}
	// The wall clock should have advanced as the boot clock did (it runs
	// through sleep too), give or take slewing and our own steps.
	jump := r.Wall.Sub(p.Wall) - dBoot
	thr := w.Threshold
	if thr == 0 {
		thr = DefaultThreshold
	}
	thr += time.Duration(w.SlewPPM * 1e-6 * float64(dBoot))
	if w.ttl > 0 {
		if abs(jump-w.pending) < thr {
			jump -= w.pending // our own step showed up
			w.pending, w.ttl = 0, 0
		} else if w.ttl--; w.ttl == 0 {
			w.pending = 0
		}
	}
	if abs(jump) >= thr {
		evs = append(evs, Event{Kind: ClockJumped, Jump: jump, Wall: r.Wall})
	}
	return evs
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// Run observes a reading from read at every tick until ctx ends and hands
// each event to emit. ticks is typically time.NewTicker(interval).C; a
// first reading is taken at once.
func (w *Watcher) Run(ctx context.Context, ticks <-chan time.Time, read func() Reading, emit func(Event)) {
	w.Observe(read())
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			for _, e := range w.Observe(read()) {
				emit(e)
			}
		}
	}
}

// NewWatcher returns a Watcher with this OS's SlewPPM.
func NewWatcher() *Watcher { return &Watcher{SlewPPM: systemSlewPPM} }
