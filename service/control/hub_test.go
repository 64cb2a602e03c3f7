package control

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// An unwatched lazy value is never marshalled or fingerprinted; the newest
// one is, once a watcher arrives; with watchers it is published at once.
func TestPublishLazy(t *testing.T) {
	h := NewHub()
	calls := 0
	val := func(n int) func() (any, string) {
		return func() (any, string) {
			calls++
			return map[string]int{"n": n}, ""
		}
	}
	for n := 1; n <= 3; n++ {
		if sent, err := h.PublishLazy(EventStatus, val(n)); sent || err != nil {
			t.Fatalf("no watcher: sent %v err %v, want nothing sent", sent, err)
		}
	}
	if calls != 0 {
		t.Fatalf("%d marshals with nobody watching, want 0", calls)
	}
	s := h.subscribe()
	evs := s.take()
	if calls != 1 || len(evs) != 1 {
		t.Fatalf("after subscribing: %d calls, %d events; want 1 and 1", calls, len(evs))
	}
	var got map[string]int
	if err := json.Unmarshal(evs[0].Data, &got); err != nil || got["n"] != 3 {
		t.Errorf("event %s, want the newest value (n 3)", evs[0].Data)
	}
	if sent, _ := h.PublishLazy(EventStatus, val(4)); !sent || calls != 2 {
		t.Errorf("with a watcher: sent %v after %d calls, want sent at once", sent, calls)
	}
	if sent, _ := h.PublishLazy(EventStatus, val(4)); sent {
		t.Error("an unchanged value was sent again")
	}
	h.unsubscribe(s)
}

// A lazy value is built with the hub unlocked: while the first watcher
// waits for it (the daemon's status can wait on the clock driver),
// publishing goes on, and a value published meanwhile wins over the lazy
// one it replaces.
func TestLazyBuiltOutsideTheLock(t *testing.T) {
	h := NewHub()
	entered, release := make(chan struct{}), make(chan struct{})
	h.PublishLazy(EventStatus, func() (any, string) {
		close(entered)
		<-release
		return map[string]int{"n": 1}, ""
	})
	subscribed := make(chan *sub)
	go func() { subscribed <- h.subscribe() }()
	<-entered

	// Both would wait for release if the lazy value were built under the
	// hub's lock. (The bound below only keeps a failure from hanging.)
	published := make(chan error, 1)
	go func() {
		_, err := h.Publish(EventConfig, map[string]string{"c": "x"}, "")
		if err == nil {
			_, err = h.Publish(EventStatus, map[string]int{"n": 2}, "")
		}
		published <- err
	}()
	select {
	case err := <-published:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		close(release)
		t.Fatal("Publish waited for a lazy value being built for a watcher")
	}
	close(release)
	s := <-subscribed
	defer h.unsubscribe(s)

	got := map[string]string{}
	for _, ev := range s.take() {
		got[ev.Kind] = string(ev.Data)
	}
	if got[EventStatus] != `{"n":2}` || got[EventConfig] != `{"c":"x"}` {
		t.Errorf("the new watcher got %v; want the status published while the lazy one was built (n 2) and the config", got)
	}
	if h.Subscribers() != 1 {
		t.Errorf("%d subscribers, want 1", h.Subscribers())
	}
}

// Two watchers who come at once may both build the kept value; the one
// recorded first is the one both get, and later watchers too: a second,
// older build never replaces it.
func TestLazyTwoWatchersAtOnce(t *testing.T) {
	h := NewHub()
	entered := make(chan int)
	release := []chan struct{}{make(chan struct{}), make(chan struct{})}
	calls := 0
	h.PublishLazy(EventStatus, func() (any, string) {
		h.mu.Lock() // the builds run with the hub unlocked; count safely
		n := calls
		calls++
		h.mu.Unlock()
		entered <- n
		<-release[n]
		return map[string]int{"n": n}, ""
	})
	subs := make(chan *sub, 2)
	go func() { subs <- h.subscribe() }()
	first := <-entered
	go func() { subs <- h.subscribe() }()
	second := <-entered
	// The second build ends first; then the first, which is older.
	close(release[second])
	s1 := <-subs
	close(release[first])
	s2 := <-subs
	late := h.subscribe()
	for i, s := range []*sub{s1, s2, late} {
		evs := s.take()
		if len(evs) != 1 || string(evs[0].Data) != fmt.Sprintf(`{"n":%d}`, second) {
			var got []string
			for _, ev := range evs {
				got = append(got, string(ev.Data))
			}
			t.Errorf("watcher %d got %v, want only the build recorded first ({\"n\":%d})", i, got, second)
		}
		h.unsubscribe(s)
	}
}
