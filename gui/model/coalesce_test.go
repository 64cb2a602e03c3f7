package model

import (
	"errors"
	"testing"
	"time"

	"github.com/timesync/timesync/service/control"
)

func TestCoalescerHandsOnTheNewestOfABurst(t *testing.T) {
	var timers []func()
	var delays []time.Duration
	var got []Update
	c := &Coalescer{
		Delay:     200 * time.Millisecond,
		Apply:     func(up Update) { got = append(got, up) },
		AfterFunc: func(d time.Duration, f func()) { delays, timers = append(delays, d), append(timers, f) },
	}
	st := func(n int) Update { return Update{Status: &control.Status{Updates: n}} }

	// A burst of three: one timer, and only the third is applied.
	c.Put(st(1))
	c.Put(st(2))
	c.Put(st(3))
	if len(timers) != 1 || delays[0] != 200*time.Millisecond {
		t.Fatalf("timers after a burst: %d (delays %v), want one of 200ms", len(timers), delays)
	}
	if len(got) != 0 {
		t.Fatalf("applied before the delay: %v", got)
	}
	timers[0]()
	if len(got) != 1 || got[0].Status.Updates != 3 {
		t.Fatalf("applied %+v, want only the newest (3)", got)
	}

	// The next update starts a new burst; an error is handed on like a status.
	c.Put(st(4))
	c.Put(Update{Err: errors.New("gone")})
	if len(timers) != 2 {
		t.Fatalf("timers: %d, want a second one for the second burst", len(timers))
	}
	timers[1]()
	if len(got) != 2 || got[1].Err == nil || got[1].Status != nil {
		t.Fatalf("second burst applied %+v, want the error alone", got[1:])
	}
}
