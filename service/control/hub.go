package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/timesync/timesync/platform"
)

// Hub fans events out to the /v1/watch streams. Each kind of event is a
// full snapshot, so a subscriber only ever needs the latest of each
// kind: a slow client gets the newest state, never an unbounded queue,
// and the memory per subscriber is bounded by the number of kinds.
type Hub struct {
	mu     sync.Mutex
	seq    uint64
	last   map[string]Event                // latest event of each kind
	keys   map[string]string               // fingerprint of the latest of each kind
	lazy   map[string]func() (any, string) // newest of a kind not yet marshalled (PublishLazy)
	gen    map[string]uint64               // values published of each kind, lazy or not
	subs   map[*sub]struct{}
	closed bool
}

type sub struct {
	mu      sync.Mutex
	pending map[string]Event
	notify  chan struct{} // capacity 1: "something is pending"
	done    chan struct{} // closed when the hub closes
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{last: map[string]Event{}, keys: map[string]string{}, lazy: map[string]func() (any, string){}, gen: map[string]uint64{}, subs: map[*sub]struct{}{}}
}

// Publish sends v (marshalled to JSON) as an event of kind to every
// subscriber, unless key equals the key of the previous event of that
// kind: nothing changed, so no event. key is the part of the state that
// matters (e.g. a status without its ageing fields); empty means v's
// JSON. It reports whether an event was sent.
func (h *Hub) Publish(kind string, v any, key string) (bool, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return false, fmt.Errorf("event %s: %w", kind, err)
	}
	if key == "" {
		key = string(data)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false, nil
	}
	delete(h.lazy, kind) // this value is newer
	h.gen[kind]++
	ev, changed := h.record(kind, data, key)
	if !changed {
		return false, nil
	}
	for s := range h.subs {
		s.put(ev)
	}
	return true, nil
}

// record makes data the latest event of kind unless its key is the
// previous one's. Called with mu held.
func (h *Hub) record(kind string, data []byte, key string) (Event, bool) {
	if old, ok := h.keys[kind]; ok && old == key {
		return Event{}, false
	}
	h.seq++
	ev := Event{ID: h.seq, Kind: kind, Data: data}
	h.keys[kind], h.last[kind] = key, ev
	return ev, true
}

// PublishLazy is Publish for a value that costs something to marshal and
// fingerprint, published often (the status after every exchange): while
// nobody watches, only fn is kept — the newest replacing the one before —
// and it is called when a watcher arrives; with watchers, at once. This
// keeps an unwatched service from doing that work every poll.
func (h *Hub) PublishLazy(kind string, fn func() (v any, key string)) (bool, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return false, nil
	}
	if len(h.subs) == 0 {
		h.lazy[kind] = fn
		h.gen[kind]++
		h.mu.Unlock()
		return false, nil
	}
	h.mu.Unlock()
	v, key := fn()
	return h.Publish(kind, v, key)
}

// flushLazyLocked turns the kept lazy values into events. It is called
// with mu held and returns with it held, but calls the functions (which
// may wait: the daemon's status asks the clock driver) with mu released,
// so Publish and other subscribers do not wait behind them. A value
// published while mu was released wins over the lazy one it replaced;
// a lazy value kept meanwhile is flushed in the next pass. After a few
// passes (a publisher that never pauses) the rest are flushed under mu.
func (h *Hub) flushLazyLocked() {
	type taken struct {
		kind string
		gen  uint64
		fn   func() (any, string)
		data []byte
		key  string
	}
	for pass := 0; len(h.lazy) > 0; pass++ {
		var ts []taken
		for kind, fn := range h.lazy {
			ts = append(ts, taken{kind: kind, gen: h.gen[kind], fn: fn})
		}
		build := func() {
			for i := range ts {
				v, key := ts[i].fn()
				data, err := json.Marshal(v)
				if err != nil {
					continue // Publish reports such errors; a lazy value was valid when kept
				}
				if key == "" {
					key = string(data)
				}
				ts[i].data, ts[i].key = data, key
			}
		}
		if pass < 3 {
			func() {
				h.mu.Unlock()
				defer h.mu.Lock() // also if fn panics: the caller unlocks
				build()
			}()
		} else {
			build()
		}
		for _, t := range ts {
			if h.gen[t.kind] != t.gen {
				// Published again meanwhile, or built by another
				// watcher who came at the same time: that value
				// is newer, or as new and already sent.
				continue
			}
			delete(h.lazy, t.kind)
			h.gen[t.kind]++
			if t.data == nil {
				continue
			}
			if ev, changed := h.record(t.kind, t.data, t.key); changed {
				for s := range h.subs { // who subscribed meanwhile
					s.put(ev)
				}
			}
		}
	}
}

// Subscribers reports how many watch streams are open.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (s *sub) put(ev Event) {
	s.mu.Lock()
	s.pending[ev.Kind] = ev
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// take returns the pending events in publication order.
func (s *sub) take() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := make([]Event, 0, len(s.pending))
	for k, ev := range s.pending {
		evs = append(evs, ev)
		delete(s.pending, k)
	}
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].ID < evs[j-1].ID; j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
	return evs
}

// subscribe registers a subscriber that starts with the latest event of
// every kind.
func (h *Hub) subscribe() *sub {
	s := &sub{pending: map[string]Event{}, notify: make(chan struct{}, 1), done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.done)
		return s
	}
	h.flushLazyLocked()
	if h.closed { // while the lazy values were being built
		close(s.done)
		return s
	}
	for _, ev := range h.last {
		s.put(ev)
	}
	h.subs[s] = struct{}{}
	return s
}

func (h *Hub) unsubscribe(s *sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.done)
	}
}

// closeAll ends every stream (at shutdown).
func (h *Hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		delete(h.subs, s)
		close(s.done)
	}
}

// getWatch streams server-sent events: "status" and "config", each a
// full snapshot, first the latest of each, then one whenever it changes.
// Nothing is sent while nothing changes.
func (s *Server) getWatch(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		return errorf(http.StatusInternalServerError, "streaming is not supported")
	}
	rc := http.NewResponseController(w)
	sb := s.hub.subscribe()
	defer s.hub.unsubscribe(sb)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	var buf bytes.Buffer
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-sb.done:
			return nil
		case <-sb.notify:
		}
		buf.Reset()
		for _, ev := range sb.take() {
			fmt.Fprintf(&buf, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Kind, ev.Data)
		}
		// A client that stops reading must not hold this goroutine
		// (and its connection) for ever: a write that takes longer
		// than watchWriteTimeout ends the stream.
		if !s.writeEvent(w, rc, buf.Bytes()) {
			return nil // the client went away or stopped reading
		}
	}
}

// writeEvent writes b to a watch stream and flushes it, within
// watchWriteTimeout. The time limit is a platform.RealTimers timer that
// sets a write deadline in the past when it fires, not a deadline set
// before each write: a deadline is a Go runtime timer, which stays in
// the runtime's heap after it is cleared and wakes the idle service when
// it would have passed (10 s after every event, with a tray watching);
// a deadline in the past is set without a timer.
func (s *Server) writeEvent(w http.ResponseWriter, rc *http.ResponseController, b []byte) bool {
	var mu sync.Mutex
	done, expired := false, false
	stop := eventTimers.AfterFunc(s.watchWriteTimeout, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			expired = true
			rc.SetWriteDeadline(time.Unix(1, 0))
		}
	})
	_, err := w.Write(b)
	if err == nil {
		err = rc.Flush()
	}
	stop()
	mu.Lock()
	done = true
	mu.Unlock()
	// Once expired, the deadline stays in the past: the stream ends
	// even if this write made it.
	return err == nil && !expired
}

// eventTimers times the watch streams' writes.
var eventTimers platform.RealTimers
