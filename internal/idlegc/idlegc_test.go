package idlegc

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		name                                 string
		total, released, free, objects, live uint64
		want                                 int64
	}{
		// Before the first collection the objects stand for the live
		// heap: budget 2+2 MiB, the runtime's 1 MiB on top, 3 MiB rest.
		{"small, before any collection", 10 * mb, 4 * mb, 1 * mb, 2 * mb, 0, 8 * mb},
		{"small heap: the floor", 10 * mb, 4 * mb, 1 * mb, 2 * mb, 1 * mb, 7 * mb},
		// Unswept garbage counts neither as live nor as the rest.
		{"garbage not swept yet", 20 * mb, 0, 2 * mb, 15 * mb, 1 * mb, 7 * mb},
		// Budget 80 MiB; the runtime keeps 3 % of the goal's base.
		{"large heap: as much again", 60 * mb, 2 * mb, 3 * mb, 50 * mb, 40 * mb, 5*mb + 80*mb/97*100},
		{"figures that do not add up", 5 * mb, 4 * mb, 2 * mb, 1 * mb, 1 * mb, 4 * mb},
	} {
		if got := limit(c.total, c.released, c.free, c.objects, c.live); got != c.want {
			t.Errorf("%s: limit = %d, want %d", c.name, got, c.want)
		}
	}
}

// TestLimitGivesTheBudget checks limit against the runtime's heap goal
// under a memory limit, as Go 1.26's memoryLimitHeapGoal computes it: the
// goal must be the live heap plus max(live, Headroom), to within the
// integer divisions.
func TestLimitGivesTheBudget(t *testing.T) {
	runtimeGoal := func(limit, nonHeap uint64) uint64 {
		goal := limit - nonHeap
		headroom := max(goal/100*3, 1<<20)
		return goal - headroom
	}
	const other = 3 << 20
	for _, live := range []uint64{0, 1, 100 << 10, 1 << 20, 2 << 20, 5 << 20, 33 << 20, 1 << 30, 10 << 30} {
		objects := live + 7<<20 // some garbage not swept yet
		l := limit(other+objects+(1<<20), 0, 1<<20, objects, live)
		want := live + max(live, Headroom)
		if live == 0 {
			want = objects + max(objects, Headroom)
		}
		got := runtimeGoal(uint64(l), other)
		if d := int64(got) - int64(want); d < -200 || d > 200 {
			t.Errorf("live %d: the runtime's goal would be %d, want %d (%+d)", live, got, want, d)
		}
	}
}

// sink keeps the compiler from dropping the garbage made below.
var sink []byte

// TestEnable runs in a child process, whose garbage collector it may
// change: GOGC and GOMEMLIMIT unset, the collector must go over to the
// memory limit, collect as the heap grows, and keep the heap bounded.
func TestEnable(t *testing.T) {
	if os.Getenv("IDLEGC_CHILD") == "1" {
		child(t)
		return
	}
	for _, env := range [][]string{nil, {"GOGC=100"}, {"GOMEMLIMIT=1GiB"}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnable$", "-test.v")
		cmd.Env = append(cleanEnv(), "IDLEGC_CHILD=1")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child with %v: %v\n%s", env, err, out)
		}
		want := "enabled=true"
		if env != nil {
			want = "enabled=false"
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("child with %v: no %q in\n%s", env, want, out)
		}
	}
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "IDLEGC_CHILD=") {
			env = append(env, kv)
		}
	}
	return env
}

func child(t *testing.T) {
	ok := Enable()
	t.Logf("enabled=%v", ok)
	if !ok {
		// The environment rules: nothing changed.
		if p := debug.SetGCPercent(100); os.Getenv("GOGC") != "" && p != 100 {
			t.Errorf("GC percent %d, want GOGC's 100", p)
		}
		if l := debug.SetMemoryLimit(-1); os.Getenv("GOMEMLIMIT") != "" && l != 1<<30 {
			t.Errorf("memory limit %d, want GOMEMLIMIT's %d", l, 1<<30)
		}
		// Nor does Collect collect.
		n := numGC()
		Collect()
		if numGC() != n {
			t.Error("Collect collected with the environment's collector in charge")
		}
		return
	}
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Fatalf("GC percent %d after Enable, want -1 (off, and with it the forced collections)", p)
	}
	if l := debug.SetMemoryLimit(-1); l <= 0 || l == 1<<63-1 {
		t.Fatalf("memory limit %d after Enable, want one set", l)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gcs := ms.NumGC
	// A live heap of 32 MiB, then 256 MiB of garbage.
	const mb = 1 << 20
	live := make([][]byte, 32)
	for i := range live {
		live[i] = make([]byte, mb)
	}
	for range 256 {
		sink = make([]byte, mb)
	}
	runtime.ReadMemStats(&ms)
	if ms.NumGC == gcs {
		t.Fatal("no collection while 256 MiB of garbage were made")
	}
	// Bounded: without a collection the heap would hold 288 MiB. The heap
	// the process holds (less what it gave back) is what the limit
	// governs; the limit only catches up with the live heap at each
	// collection's finalizer, and the runtime caps the collector's CPU, so
	// on a loaded machine the heap overshoots (175 MiB of HeapSys once in
	// CI, with 160 the bound then).
	if held := ms.HeapSys - ms.HeapReleased; held > 200*mb {
		t.Errorf("the heap grew to %d MiB held for a 32 MiB live heap", held/mb)
	}
	// After a collection (and its finalizer, which runs on another
	// goroutine) the limit gives the heap as much again as it has live:
	// 64 MiB, plus the rest of the runtime's memory and its headroom.
	n := limitsSet()
	waitForLimit(n, func() { runtime.GC(); runtime.Gosched() })
	l := debug.SetMemoryLimit(-1)
	t.Logf("memory limit %d MiB with 32 MiB live", l/mb)
	if l < 64*mb || l > 64*mb+32*mb {
		t.Errorf("memory limit %d MiB with 32 MiB live: want 64 MiB plus the runtime's own (a few MiB)", l/mb)
	}
	runtime.KeepAlive(live)
	// Collect (start-up is over) collects, and the limit follows.
	live = nil
	n = limitsSet()
	gcs = numGC()
	Collect()
	if numGC() == gcs {
		t.Error("Collect made no collection")
	}
	// And gave the free memory back at once, not leaving it to the
	// background scavenger: the 32 MiB dropped are not held. (Not all of
	// it: each P's page cache, 512 KiB, stays out of the scavenger's
	// reach, and the lowered limit may start another collection after
	// the release; a runtime.GC alone left 40 MiB here.)
	runtime.ReadMemStats(&ms)
	if held := ms.HeapIdle - ms.HeapReleased; held > 16*mb {
		t.Errorf("%d MiB of free heap still held after Collect, want it returned to the system", held/mb)
	}
	waitForLimit(n, func() { runtime.Gosched(); time.Sleep(time.Millisecond) })
	if l := debug.SetMemoryLimit(-1); l >= 64*mb {
		t.Errorf("memory limit %d MiB after Collect with the 32 MiB dropped, want it lowered", l/mb)
	}
}

// limitsSet is how many limits update has set.
func limitsSet() int {
	mu.Lock()
	defer mu.Unlock()
	return updates
}

// waitForLimit calls kick until a limit is set after the n-th (the
// finalizer's, on another goroutine), at most 1000 times.
func waitForLimit(n int, kick func()) {
	for i := 0; i < 1000 && limitsSet() <= n; i++ {
		kick()
	}
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}
