package model

import (
	"sync"
	"time"
)

// Coalescer hands on only the newest of the updates that arrive within
// Delay of the first one. The service publishes a status event for each
// exchange, and the servers of one poll answer within a millisecond or
// two of each other: a window that laid out and shaped its texts for
// each of them would do the work three times for the one frame that
// shows the last. Every Update carries the whole state (Follow keeps
// the newest status and configuration), so the newest replaces the
// others without losing anything.
type Coalescer struct {
	// Delay is how long the first update of a burst waits for newer ones.
	Delay time.Duration
	// Apply receives the newest update of each burst (on the goroutine
	// AfterFunc runs it on).
	Apply func(Update)
	// AfterFunc runs f after d; nil: time.AfterFunc (tests inject theirs).
	AfterFunc func(d time.Duration, f func())

	mu      sync.Mutex
	pending bool
	latest  Update
}

// Put takes an update; Apply gets it, or a newer one, after Delay.
func (c *Coalescer) Put(up Update) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.latest = up
	if c.pending {
		return
	}
	c.pending = true
	after := c.AfterFunc
	if after == nil {
		after = func(d time.Duration, f func()) { time.AfterFunc(d, f) }
	}
	after(c.Delay, c.flush)
}

func (c *Coalescer) flush() {
	c.mu.Lock()
	up := c.latest
	c.latest, c.pending = Update{}, false
	c.mu.Unlock()
	c.Apply(up)
}
