package idlegc

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestLimit(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		name                                 string
		total, released, free, objects, live uint64
		want                                 int64
	}{
		// Before the first collection the objects stand for the live heap.
		{"small, before any collection", 10 * mb, 4 * mb, 1 * mb, 2 * mb, 0, 3*mb + 2*mb + Headroom},
		{"small heap: the floor", 10 * mb, 4 * mb, 1 * mb, 2 * mb, 1 * mb, 3*mb + 1*mb + Headroom},
		// Unswept garbage counts neither as live nor as the rest.
		{"garbage not swept yet", 20 * mb, 0, 2 * mb, 15 * mb, 1 * mb, 3*mb + 1*mb + Headroom},
		{"large heap: as much again", 60 * mb, 2 * mb, 3 * mb, 50 * mb, 40 * mb, 5*mb + 80*mb},
		{"figures that do not add up", 5 * mb, 4 * mb, 2 * mb, 1 * mb, 1 * mb, 1*mb + Headroom},
	} {
		if got := limit(c.total, c.released, c.free, c.objects, c.live); got != c.want {
			t.Errorf("%s: limit = %d MiB + %d, want %d MiB + %d", c.name, got/mb, got%mb, c.want/mb, c.want%mb)
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
		if debug.SetGCPercent(100) != 100 {
			t.Error("the collector was changed although the environment sets it")
		}
		return
	}
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Fatalf("GC percent %d after Enable, want -1 (off, and with it the forced collections)", p)
	}
	first := debug.SetMemoryLimit(-1)
	if first <= 0 || first == 1<<63-1 {
		t.Fatalf("memory limit %d after Enable, want one set", first)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gcs := ms.NumGC
	// 256 MiB of garbage, a live heap of 32 MiB kept for a while.
	live := make([][]byte, 32)
	for i := range 256 {
		b := make([]byte, 1<<20)
		if i%8 == 0 {
			live[(i/8)%32] = b
		}
		sink = b
	}
	runtime.ReadMemStats(&ms)
	if ms.NumGC == gcs {
		t.Fatal("no collection while 256 MiB of garbage were made")
	}
	// The finalizer that follows the last collection is asynchronous:
	// another collection, and the limit must have followed the heap.
	runtime.GC()
	for range 100 {
		runtime.Gosched()
		if debug.SetMemoryLimit(-1) != first {
			break
		}
		runtime.GC()
	}
	after := debug.SetMemoryLimit(-1)
	if after <= first {
		t.Errorf("memory limit %d after collections with a 32 MiB live heap, want it raised from %d", after, first)
	}
	if after > 4*32<<20+64<<20 {
		t.Errorf("memory limit %d MiB for a 32 MiB live heap: far more than twice it", after>>20)
	}
	if ms.HeapSys > 160<<20 {
		t.Errorf("heap grew to %d MiB for a 32 MiB live heap", ms.HeapSys>>20)
	}
	runtime.KeepAlive(live)
}
