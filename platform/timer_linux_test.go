package platform

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The kernel timers are in use here (a timerfd could be made), so the
// tests below test them and not time.AfterFunc.
func kernelTimersInUse(t *testing.T) {
	t.Helper()
	afterFunc(time.Hour, func() {})() // starts them
	if kt == nil {
		t.Fatal("no timerfd: RealTimers fell back to time.AfterFunc")
	}
}

// Each f runs once, not before its time, and the timers with the
// earliest times run first whatever order they were set in.
func TestKernelTimersFireOnceInTime(t *testing.T) {
	kernelTimersInUse(t)
	const n = 60
	var mu sync.Mutex
	var late []time.Duration
	fired := make([]int32, n)
	order := make(chan int, n)
	var wg sync.WaitGroup
	wg.Add(n)
	start := time.Now()
	for i := range n {
		// Set latest first: 2 ms apart, 118 ms down to 0.
		k := n - 1 - i
		d := time.Duration(k) * 2 * time.Millisecond
		afterFunc(d, func() {
			if e := time.Since(start); e < d {
				mu.Lock()
				late = append(late, e-d)
				mu.Unlock()
			}
			atomic.AddInt32(&fired[k], 1)
			order <- k
			wg.Done()
		})
	}
	wait(t, &wg, 10*time.Second)
	if len(late) > 0 {
		t.Errorf("%d timers ran early, by %v", len(late), late)
	}
	for k, c := range fired {
		if c != 1 {
			t.Errorf("timer %d ran %d times", k, c)
		}
	}
	// Those 2 ms apart start in order; allow a race among neighbours,
	// not a timer from much later first. Timers that fall due together
	// (the timerfd's goroutine was late: a loaded machine, as CI's) are
	// handed to their workers at once, and the scheduler starts the last
	// one handed over first: CI saw 14 after 17.
	prev := -1
	for range n {
		k := <-order
		if k < prev-6 {
			t.Errorf("timer %d ran after timer %d", k, prev)
		}
		prev = max(prev, k)
	}
}

// Stop before the time: true, and f never runs; Stop after: false.
func TestKernelTimersStop(t *testing.T) {
	kernelTimersInUse(t)
	var ran atomic.Int32
	stop := afterFunc(50*time.Millisecond, func() { ran.Add(1) })
	if !stop() {
		t.Error("Stop before the time reported false")
	}
	if stop() {
		t.Error("a second Stop reported true")
	}
	done := make(chan struct{})
	stop2 := afterFunc(10*time.Millisecond, func() { close(done) })
	<-done
	time.Sleep(100 * time.Millisecond)
	if ran.Load() != 0 {
		t.Error("a stopped timer ran")
	}
	if stop2() {
		t.Error("Stop after the timer ran reported true")
	}
}

// Stopping the earliest timer arms the timerfd for the next one (the
// process does not wake for a stopped timer), and a timer set earlier
// than the armed one re-arms it earlier. (Its own timerfd: other tests
// may have timers of their own pending on the shared one.)
func TestKernelTimersRearm(t *testing.T) {
	kernelTimersInUse(t)
	k := newKernelTimers()
	if k == nil {
		t.Fatal("no timerfd")
	}
	defer k.file.Close()
	armed := func() time.Time {
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.armed
	}
	k.started = true // no run goroutine: this timerfd is only armed
	before := time.Now()
	stopLate := k.add(before.Add(time.Hour), func() {})
	defer stopLate()
	stopEarly := k.add(before.Add(30*time.Minute), func() {})
	if a := armed(); !a.Equal(before.Add(30 * time.Minute)) {
		t.Errorf("armed %v from now, want 30 min", a.Sub(before))
	}
	stopEarly()
	if a := armed(); !a.Equal(before.Add(time.Hour)) {
		t.Errorf("after stopping the earliest, armed %v from now, want 1 h", a.Sub(before))
	}
	stopLate()
	if a := armed(); !a.IsZero() {
		t.Errorf("no timer left, yet armed %v from now", a.Sub(before))
	}
}

// After the earliest timer is stopped the next one still fires, on time.
func TestKernelTimersNextFiresAfterStop(t *testing.T) {
	kernelTimersInUse(t)
	start := time.Now()
	stop := afterFunc(20*time.Millisecond, func() { t.Error("a stopped timer ran") })
	done := make(chan time.Duration, 1)
	afterFunc(60*time.Millisecond, func() { done <- time.Since(start) })
	if !stop() {
		t.Fatal("Stop before the time reported false")
	}
	select {
	case e := <-done:
		if e < 60*time.Millisecond {
			t.Errorf("the next timer ran after %v, before its 60 ms", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the next timer never ran")
	}
}

// A blocked f does not hold up the others: each runs on its own worker.
func TestKernelTimersBlockedFuncDoesNotDelayOthers(t *testing.T) {
	kernelTimersInUse(t)
	release := make(chan struct{})
	defer close(release)
	afterFunc(0, func() { <-release })
	done := make(chan struct{})
	afterFunc(5*time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a timer waited for a blocked one")
	}
}

func wait(t *testing.T, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatal("timers did not all run")
	}
}

// Timers that fall due one after another, each set by the one before with
// little or no delay, all run: an expiry that comes between the run loop's
// read and its next wait is not lost (the loop waits without reading
// first, on the edge the poller kept).
func TestKernelTimersBackToBack(t *testing.T) {
	kernelTimersInUse(t)
	const n = 2000
	var count atomic.Int64
	done := make(chan struct{})
	var next func()
	next = func() {
		if count.Add(1) == n {
			close(done)
			return
		}
		afterFunc(time.Duration(count.Load()%3)*time.Microsecond, next)
	}
	afterFunc(0, next)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%d of %d back-to-back timers ran", count.Load(), n)
	}
}
