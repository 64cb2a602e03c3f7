// Package idlegc keeps the Go garbage collector from waking an idle
// daemon every two minutes.
//
// With GOGC on (the default), once the runtime has collected garbage at
// all it collects again at least every two minutes, whether or not the
// heap grew (runtime.forcegcperiod; sysmon checks for it once a minute).
// The service allocates a few kilobytes a poll round: its first
// collection comes after an hour or two, and from then on a collection
// every two minutes is nearly all of its garbage collection, at 0.6 to
// 0.9 ms of CPU each here (GODEBUG=gctrace=1) — a fifth to a third of
// what the idle service costs in all.
//
// Enable turns the proportional collector off (debug.SetGCPercent(-1),
// which also ends the forced collections) and collects through the
// runtime's memory limit instead. After every collection the limit is set
// to the memory then in use (live heap, stacks, the runtime's own) plus as
// much again as the live heap, and at least Headroom: the pace of
// GOGC=100 with a floor, without the collections that find nothing to
// do. A heap that grows (many clients of the control API) raises the
// limit with it at each collection, so the collector never runs back to
// back against a limit the program has outgrown.
package idlegc

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Headroom is the least the heap may grow between two collections. Half
// the runtime's own minimum heap goal (4 MB): the service's heap is about
// 1 MB live and grows by a few kilobytes a poll round, so 2 MiB is a
// collection every hour or so, with a smaller peak heap than GOGC's.
const Headroom = 2 << 20

var (
	once    sync.Once
	enabled bool
	mu      sync.Mutex
	samples = []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
)

// Enable switches the process to collections paced by the memory limit
// (see the package comment) and reports whether it did: not when GOGC or
// GOMEMLIMIT is set in the environment, which then rule as usual.
func Enable() bool {
	once.Do(func() {
		if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
			return
		}
		enabled = true
		// The limit first, then the proportional collector off: the
		// heap is never without a goal.
		update()
		debug.SetGCPercent(-1)
		watch()
	})
	return enabled
}

// update sets the memory limit from the runtime's present figures.
func update() {
	mu.Lock()
	defer mu.Unlock()
	metrics.Read(samples)
	v := func(i int) uint64 {
		if samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return samples[i].Value.Uint64()
	}
	debug.SetMemoryLimit(limit(v(0), v(1), v(2), v(3), v(4)))
}

// limit is the memory limit for a process whose runtime holds total
// bytes of memory, released of them returned to the system, free of them
// free heap not returned yet and objects of them heap objects (garbage not
// yet swept included); live is the heap the last collection found live (0
// before the first). The rest (stacks, the runtime's own structures, the
// unused room in the heap's spans) is counted as it is now; the heap is
// given live plus max(live, Headroom), which is what the runtime's heap
// goal comes to under this limit. (The heap's figures now would not do:
// unswept garbage counted as in use would raise the limit at every
// collection.)
func limit(total, released, free, objects, live uint64) int64 {
	other := total - min(total, released+free+objects)
	if live == 0 {
		live = objects // before the first collection: an upper bound
	}
	return int64(other + live + max(live, Headroom))
}

// sentinel is garbage on purpose: its finalizer runs after each
// collection (on the runtime's finalizer goroutine), and sets the limit
// for the next one. It holds a pointer and is larger than the tiny
// allocator's blocks, whose finalizers may never run.
type sentinel struct {
	p *sentinel
	_ [16]byte
}

func watch() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		update()
		watch()
	})
}
