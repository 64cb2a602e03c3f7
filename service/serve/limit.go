package serve

// limit.go: "restrict … limited" — per-client rate limiting with ntpd's
// rules (ntp_monitor.c), in a fixed-size MRU table: the memory is
// allocated once, at construction, and a flood of spoofed source
// addresses only recycles the least recently seen entries.

import (
	"hash/maphash"
	"sync"
	"time"
)

// ntpd's rate limits ("discard minimum 2 average 3").
const (
	// LimitMinimum is the least spacing between two requests of one
	// client; as ntpd, with 1 s of grace.
	LimitMinimum = 2 * time.Second
	// LimitHeadway is the average spacing a client must keep (2^3 s); a
	// client may run ahead of it by up to limitDepth headways.
	LimitHeadway = 8 * time.Second
	limitDepth   = 8 // NTP_SHIFT
	limitGrace   = time.Second
	leakGrace    = 2 * time.Second
)

// DefaultMRUSize is the number of clients the rate limiter remembers.
// ntpd's default MRU list keeps at most about as many (mru maxdepth).
const DefaultMRUSize = 16384

// Verdicts of Limiter.Check.
type limitVerdict uint8

const (
	limitOK       limitVerdict = iota // within the limits
	limitExceeded                     // over the limits: stay silent
	limitKoD                          // over the limits: a KoD may be sent
)

// Limiter is the MRU table of clients under "limited". Safe for
// concurrent use.
type Limiter struct {
	mu    sync.Mutex
	seed  maphash.Seed
	ents  []mruEntry // fixed: len == capacity
	slots []int32    // open addressing, linear probing: index+1 into ents, 0 empty
	mask  uint32
	n     int32 // entries in use
	head  int32 // most recently seen, -1 if none
	tail  int32 // least recently seen
	evict uint64
}

type mruEntry struct {
	addr       [16]byte
	last       time.Duration // monotonic time of the last request
	leak       time.Duration // ntpd's "leak" counter: credit used up
	prev, next int32         // MRU list, -1 at the ends
}

// NewLimiter returns a table for size clients (DefaultMRUSize if size
// <= 0). Its memory does not change afterwards.
func NewLimiter(size int) *Limiter {
	if size <= 0 {
		size = DefaultMRUSize
	}
	nslots := 1
	for nslots < 2*size {
		nslots <<= 1
	}
	return &Limiter{
		seed:  maphash.MakeSeed(),
		ents:  make([]mruEntry, size),
		slots: make([]int32, nslots),
		mask:  uint32(nslots - 1),
		head:  -1,
		tail:  -1,
	}
}

// Len returns how many clients the table holds; Cap its fixed size.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.n)
}

// Cap returns the table's fixed size.
func (l *Limiter) Cap() int { return len(l.ents) }

// Evictions returns how many entries were recycled for new clients.
func (l *Limiter) Evictions() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.evict
}

// Check records a request from addr at now (a monotonic reading) and
// judges it with ntpd's rules: a new client is always served; otherwise
// the request must come at least LimitMinimum (less 1 s of grace) after
// the previous one, and the client's leaky bucket — filled by a headway
// per request, drained by the time between requests — must stay under
// limitDepth headways. Over the limits the bucket is topped up past the
// limit and a KoD is allowed once; further excess stays silent until the
// bucket drains below the limit again, so KoDs are themselves limited to
// about one per headway per client.
func (l *Limiter) Check(addr [16]byte, now time.Duration) limitVerdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, found := l.lookup(addr)
	if !found {
		l.insert(addr, now)
		return limitOK
	}
	e := &l.ents[i]
	interval := now - e.last
	e.last = now
	l.touch(i)
	e.leak = max(e.leak-interval, 0)
	leak := e.leak + LimitHeadway
	const limit = limitDepth * LimitHeadway
	switch {
	case interval+limitGrace >= LimitMinimum && leak < limit:
		e.leak = leak - leakGrace
		return limitOK
	case e.leak < limit:
		e.leak = limit + LimitHeadway
		return limitKoD
	}
	return limitExceeded
}

func (l *Limiter) hash(a [16]byte) uint32 {
	return uint32(maphash.Bytes(l.seed, a[:]))
}

// lookup returns the entry index for a.
func (l *Limiter) lookup(a [16]byte) (int32, bool) {
	for s := l.hash(a) & l.mask; ; s = (s + 1) & l.mask {
		v := l.slots[s]
		if v == 0 {
			return 0, false
		}
		if l.ents[v-1].addr == a {
			return v - 1, true
		}
	}
}

// insert adds a new client, recycling the least recently seen entry when
// the table is full.
func (l *Limiter) insert(a [16]byte, now time.Duration) {
	var i int32
	if int(l.n) < len(l.ents) {
		i = l.n
		l.n++
	} else {
		i = l.tail
		l.unlink(i)
		l.removeSlot(l.ents[i].addr)
		l.evict++
	}
	l.ents[i] = mruEntry{addr: a, last: now, prev: -1, next: -1}
	l.pushFront(i)
	s := l.hash(a) & l.mask
	for l.slots[s] != 0 {
		s = (s + 1) & l.mask
	}
	l.slots[s] = i + 1
}

// removeSlot deletes a's slot with backward-shift deletion (no
// tombstones, so the probe sequences stay short however many clients
// come and go).
func (l *Limiter) removeSlot(a [16]byte) {
	s := l.hash(a) & l.mask
	for l.ents[l.slots[s]-1].addr != a {
		s = (s + 1) & l.mask
	}
	for {
		l.slots[s] = 0
		j := s
		for {
			j = (j + 1) & l.mask
			v := l.slots[j]
			if v == 0 {
				return
			}
			home := l.hash(l.ents[v-1].addr) & l.mask
			// Move v into the hole at s unless its home lies cyclically
			// in (s, j].
			if (j > s && (home <= s || home > j)) || (j < s && home <= s && home > j) {
				l.slots[s] = v
				s = j
				break
			}
		}
	}
}

func (l *Limiter) touch(i int32) {
	if l.head == i {
		return
	}
	l.unlink(i)
	l.pushFront(i)
}

func (l *Limiter) unlink(i int32) {
	e := &l.ents[i]
	if e.prev >= 0 {
		l.ents[e.prev].next = e.next
	} else {
		l.head = e.next
	}
	if e.next >= 0 {
		l.ents[e.next].prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = -1, -1
}

func (l *Limiter) pushFront(i int32) {
	e := &l.ents[i]
	e.prev, e.next = -1, l.head
	if l.head >= 0 {
		l.ents[l.head].prev = i
	}
	l.head = i
	if l.tail < 0 {
		l.tail = i
	}
}
