// Package idlegc keeps the Go garbage collector from waking an idle
// daemon every two minutes.
//
// With GOGC on (the default), once the runtime has collected garbage at
// all it collects again at least every two minutes, whether or not the
// heap grew (runtime.forcegcperiod; sysmon checks for it once a minute).
// The service allocates a few kilobytes a poll round: its first
// collection comes after an hour or so, and from then on a collection
// every two minutes is nearly all of its garbage collection, at 0.4 to
// 1.0 ms of CPU each here (GODEBUG=gctrace=1); two idle services side by
// side, each made to collect once, took 2.67 ms a minute without this
// package and 1.99 with it (README).
//
// Enable turns the proportional collector off (debug.SetGCPercent(-1),
// which also ends the forced collections) and collects through the
// runtime's memory limit instead. After every collection the limit is set
// so that the runtime's heap goal is the live heap plus max(live heap,
// Headroom): the pace of GOGC=100 with a floor, without the collections
// that find nothing to do (the runtime starts a collection, as with GOGC,
// some way before the goal: after 70–95 % of the way). A heap that grows
// (many clients of the control API) raises the limit with it at each
// collection, so the collector does not go on running against a limit the
// program has outgrown; it may run once or twice early while the limit
// catches up (the figures are read when the finalizer runs, maybe before
// the sweep has finished: garbage found later in spans still in use then
// counts against the limit, and shortens the next runway), and the limit
// is only as current as the runtime's finalizer goroutine, which it
// shares with the os package's files.
package idlegc

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Headroom is the least heap goal above the live heap. Half the runtime's
// own minimum heap goal (4 MB): the service's heap is about 1 MB live and
// grows by a few kilobytes a poll round, so a collection comes every hour
// or two, with a smaller peak heap than GOGC's.
const Headroom = 2 << 20

var (
	once    sync.Once
	enabled atomic.Bool
	mu      sync.Mutex
	updates int // limits set (guarded by mu)
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
		enabled.Store(true)
		// The limit first, then the proportional collector off: the
		// heap is never without a goal.
		update()
		debug.SetGCPercent(-1)
		watch()
	})
	return enabled.Load()
}

// Collect collects garbage now, if Enable switched the process to its
// collections: the service calls it once, when start-up is over (the
// first clock correction made and the start's bursts done). Start-up
// (configuration, name lookups, the first bursts, the first status) leaves
// most of a megabyte of garbage, which without this would be collected
// some minutes later, by then at the limit Enable set from the figures of
// a process just started; after this collection the limit is set from a
// settled live heap, and the next collection waits for the heap to grow
// by Headroom (README, *Start-up's garbage, and fewer system calls*).
// The free memory goes back to the system at once (debug.FreeOSMemory):
// left to the runtime's background scavenger, it went back in bursts of
// madvise calls at the system monitor's next wake (up to a minute later
// in the idle service), which kicks the scavenger, each burst a wake-up
// of two of the idle process's threads, paced by a timer of its own. The
// scavenger is still kicked once after this, and finds nothing to do. It
// blocks for the collection and the release (a few milliseconds).
func Collect() {
	if enabled.Load() {
		debug.FreeOSMemory()
	}
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
	updates++
}

// limit is the memory limit for a process whose runtime holds total
// bytes of memory, released of them returned to the system, free of them
// free heap not returned yet and objects of them heap objects (garbage not
// yet swept included); live is the heap the last collection found live (0
// before the first). The rest (stacks, the runtime's own structures, the
// unused room in the heap's spans) is counted as it is now; the heap's
// budget is live plus max(live, Headroom). Under a memory limit the
// runtime's heap goal is the limit less that rest, less its own headroom
// of max(3 %, 1 MiB) (memoryLimitHeapGoal in runtime/mgcpacer.go), which
// is added back so that the goal is the budget. (The heap's figures now
// would not do: unswept garbage counted as in use would raise the limit
// at every collection.)
func limit(total, released, free, objects, live uint64) int64 {
	other := total - min(total, released+free+objects)
	if live == 0 {
		live = objects // before the first collection: an upper bound
	}
	budget := live + max(live, Headroom)
	return int64(other + max(budget+runtimeHeadroom, budget/97*100))
}

// runtimeHeadroom is the least the runtime keeps between a memory limit's
// heap goal and the limit (memoryLimitMinHeapGoalHeadroom).
const runtimeHeadroom = 1 << 20

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
