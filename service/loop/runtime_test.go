package loop_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/timesync/timesync/service/loop"
	"github.com/timesync/timesync/sim"
)

func TestAddRemoveServerWhileRunning(t *testing.T) {
	servers := []sim.ServerConfig{{Address: "a:123", Stratum: 2}, {Address: "b:123", Stratum: 2}}
	r := newRig(t, goodNet, servers, loop.Options{Servers: []loop.Server{{Address: "a:123", MinPoll: 6, MaxPoll: 6}}})
	r.loop.Start()
	r.sched.Run(10 * 64 * time.Second)
	if n := len(r.ex.at["b:123"]); n != 0 {
		t.Fatalf("b polled %d times before it was added", n)
	}
	if err := r.loop.AddServer(loop.Server{Address: "b:123", MinPoll: 6, MaxPoll: 6, IBurst: true}); err != nil {
		t.Fatal(err)
	}
	if err := r.loop.AddServer(loop.Server{Address: "b:123"}); err == nil {
		t.Error("adding b twice: got nil error")
	}
	r.sched.Run(r.sched.Elapsed() + 64*time.Second)
	if n := len(r.ex.at["b:123"]); n < 4 {
		t.Errorf("b polled %d times in the first 64 s after it was added with iburst, want ≥ 4", n)
	}
	if err := r.loop.RemoveServer("a:123"); err != nil {
		t.Fatal(err)
	}
	if err := r.loop.RemoveServer("a:123"); !errors.Is(err, loop.ErrUnknownServer) {
		t.Errorf("removing a twice: got %v, want ErrUnknownServer", err)
	}
	na := len(r.ex.at["a:123"])
	r.sched.Run(r.sched.Elapsed() + 10*64*time.Second)
	if n := len(r.ex.at["a:123"]); n != na {
		t.Errorf("a polled %d more times after removal", n-na)
	}
	st := r.loop.Status()
	if len(st.Sources) != 1 || st.Sources[0].Address != "b:123" {
		t.Fatalf("sources %+v, want only b", st.Sources)
	}
	if st.State != loop.StateSynchronized || st.Reference != "b:123" {
		t.Errorf("state %s reference %q (%s), want synchronized to b", st.State, st.Reference, st.Reason)
	}
	if got := r.loop.Servers(); len(got) != 1 || got[0].Address != "b:123" {
		t.Errorf("Servers() = %+v, want only b", got)
	}
}

func TestAllowStepStartsAfreshFromTheFrequency(t *testing.T) {
	r := newRig(t, goodNet, []sim.ServerConfig{{Address: "a:123", Stratum: 2}}, loop.Options{})
	r.loop.Start()
	r.sched.Run(20 * 64 * time.Second)
	before := r.loop.Status()
	if before.Sources[0].Samples == 0 {
		t.Fatal("no samples before AllowStep")
	}
	r.loop.AllowStep()
	after := r.loop.Status()
	if after.Sources[0].Samples != 0 {
		t.Errorf("samples after AllowStep = %d, want 0 (a fresh history)", after.Sources[0].Samples)
	}
	if math.Abs(after.FrequencyPPM-before.FrequencyPPM) > 1e-9 {
		t.Errorf("frequency %.6f ppm after AllowStep, want %.6f kept", after.FrequencyPPM, before.FrequencyPPM)
	}
	r.loop.SyncNow()
	r.sched.Run(r.sched.Elapsed() + 2*64*time.Second)
	if st := r.loop.Status(); st.State != loop.StateSynchronized {
		t.Errorf("after AllowStep and a burst: %s (%s), want synchronized", st.State, st.Reason)
	}
}

// After a jump behind the loop's back, AllowStep makes the next update
// step back at once; without it the offset is held as a spike for the
// stepout interval (900 s).
func TestAllowStepStepsBackAJump(t *testing.T) {
	for _, allow := range []bool{false, true} {
		r := newRig(t, goodNet, []sim.ServerConfig{{Address: "a:123", Stratum: 2}}, loop.Options{})
		r.loop.Start()
		r.sched.Run(20 * 64 * time.Second)
		if err := r.clock.Clock.Step(time.Second); err != nil { // someone sets the clock 1 s ahead
			t.Fatal(err)
		}
		steps := r.clock.StepCount()
		if allow {
			r.loop.AllowStep()
		}
		r.loop.SyncNow()
		r.sched.Run(r.sched.Elapsed() + 30*time.Second)
		stepped := r.clock.StepCount() > steps
		if stepped != allow {
			t.Errorf("allow %v: stepped %v (offset now %+.6f s)", allow, stepped, r.clock.Offset())
		}
		if allow && math.Abs(r.clock.Offset()) > 0.01 {
			t.Errorf("after the allowed step the clock is %+.6f s off, want within 10 ms", r.clock.Offset())
		}
	}
}
