package sim

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/timesync/timesync/service/discipline"
	"github.com/timesync/timesync/service/engine"
	"github.com/timesync/timesync/service/loop"
)

// Numbered scenario tests in the manner of chrony's test/simulation: each
// runs the real loop, engine and discipline on the simulator and checks
// figures. The figures asserted leave room for the platform's floating
// point (FMA on arm64) but would catch any regression that matters.

const us = 1e-6

// runSeeds runs sc for seeds 1..n and summarizes.
func runSeeds(t *testing.T, sc Scenario, n int) (Summary, []*Result) {
	t.Helper()
	return runSeedRange(t, sc, 1, uint64(n))
}

// runSeedRange runs sc for seeds from..to and summarizes.
func runSeedRange(t *testing.T, sc Scenario, from, to uint64) (Summary, []*Result) {
	t.Helper()
	var stats []Stats
	var results []*Result
	for seed := from; seed <= to; seed++ {
		r, err := Run(sc, seed)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		stats = append(stats, r.Stats)
		results = append(results, r)
	}
	return Summarize(stats), results
}

func atMost(t *testing.T, name string, got, limit float64) {
	t.Helper()
	if !(got <= limit) {
		t.Errorf("%s: got %.6g, want at most %.6g", name, got, limit)
	}
}

// median returns the median of f over results.
func median(results []*Result, f func(Stats) float64) float64 {
	v := make([]float64, len(results))
	for i, r := range results {
		v[i] = f(r.Stats)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// 001: Scenario A, the anchor against chrony 4.3 (RMS 98.6 µs, max 402 µs,
// converged 202 s, measured by clknetsim) and ntpsec 1.2.2, on the
// realistic time base (the monotonic clock runs at the disciplined rate).
// Over the 50 seeds 11–60 of make bench-accuracy, none of which the
// discipline was tuned on. Fresh seeds 61–110 give the same RMS but a mean
// convergence of ~160-170 s: convergence is decided by the first three
// polls' noise, and a few seeds take 5-10 polls (see README).
func TestScenario001ScenarioA(t *testing.T) {
	for _, start := range []time.Duration{100 * time.Millisecond, time.Second} {
		t.Run(start.String(), func(t *testing.T) {
			t.Parallel()
			sum, results := runSeedRange(t, ScenarioA(start), 11, 60)
			t.Logf("RMS %.1f µs (median %.1f), max %.1f µs, p99 %.1f µs, mean %.2f µs, converged %.0f s (median %.0f, worst %.0f)",
				sum.RMSOffset/us, median(results, func(s Stats) float64 { return s.RMSOffset })/us, sum.MaxAbsOffset/us,
				sum.P99AbsOffset/us, sum.MeanOffset/us, sum.Converged1ms,
				median(results, func(s Stats) float64 { return s.Converged1ms }), sum.Max.Converged1ms)
			atMost(t, "mean RMS offset (s)", sum.RMSOffset, 90*us)
			atMost(t, "worst seed's RMS offset (s)", sum.Max.RMSOffset, 100*us)
			atMost(t, "mean max |offset| (s)", sum.MaxAbsOffset, 402*us)
			atMost(t, "mean p99 |offset| (s)", sum.P99AbsOffset, 259*us)
			atMost(t, "|mean offset| (s)", math.Abs(sum.MeanOffset), 10*us)
			atMost(t, "mean convergence (s)", sum.Converged1ms, 150)
			atMost(t, "median convergence (s)", median(results, func(s Stats) float64 { return s.Converged1ms }), 130)
			atMost(t, "worst convergence (s)", sum.Max.Converged1ms, 700)
			if sum.Min.Converged1ms < 0 {
				t.Error("a seed never converged")
			}
			for _, r := range results {
				wantSteps := 0
				if start > 128*time.Millisecond {
					wantSteps = 1 // the first update steps (ntpd -g)
				}
				if r.Steps != wantSteps {
					t.Errorf("seed %d: %d steps, want %d", r.Seed, r.Steps, wantSteps)
				}
				if r.Final.State != loop.StateSynchronized {
					t.Errorf("seed %d: final state %s (%s), want synchronized", r.Seed, r.Final.State, r.Final.Reason)
				}
				if math.Abs(r.Final.FrequencyPPM+100) > 1 {
					t.Errorf("seed %d: final frequency %v ppm, want about -100", r.Seed, r.Final.FrequencyPPM)
				}
			}
		})
	}
}

// 002: a large frequency error, 400 ppm, on Linux (fast slewing) and on a
// driver limited to ±500 ppm, where only 100 ppm are left to slew with.
func TestScenario002LargeFrequencyOffset(t *testing.T) {
	tests := []struct {
		profile  Profile
		freq     float64
		maxConv  float64
		maxRMSus float64
	}{
		{ProfileLinux, 400, 200, 90},
		{ProfileLinux, -400, 200, 90},
		{ProfileFreqOnly, 400, 1100, 90}, // 0.1 s at ≤ 100 ppm takes 1000 s
	}
	for _, tt := range tests {
		t.Run(string(tt.profile), func(t *testing.T) {
			sc := ScenarioA(100 * time.Millisecond)
			sc.Duration, sc.StatsFrom = 20000*time.Second, 4000*time.Second
			sc.Clock.Profile, sc.Clock.FreqPPM = tt.profile, tt.freq
			sum, results := runSeeds(t, sc, 5)
			atMost(t, "mean RMS offset (s)", sum.RMSOffset, tt.maxRMSus*us)
			atMost(t, "worst convergence (s)", sum.Max.Converged1ms, tt.maxConv)
			if sum.Min.Converged1ms < 0 {
				t.Error("a seed never converged")
			}
			for _, r := range results {
				if math.Abs(r.Final.FrequencyPPM+tt.freq) > 0.5 {
					t.Errorf("seed %d: frequency %v ppm, want %v", r.Seed, r.Final.FrequencyPPM, -tt.freq)
				}
			}
		})
	}
}

// 003: large offsets. 1 s is stepped at the first update; so is 2000 s,
// beyond the panic threshold: the first correction may always step (as
// ntpd -g), so a machine whose RTC lost the time needs no administrator.
// After that, a server that jumps by 2000 s is refused and reported until
// an administrator confirms the step, never given up on; with panic 0 it
// is stepped without asking.
func TestScenario003LargeOffsets(t *testing.T) {
	t.Run("1s", func(t *testing.T) {
		sc := ScenarioA(time.Second)
		sc.Duration, sc.StatsFrom = 5000*time.Second, 1000*time.Second
		sum, results := runSeeds(t, sc, 5)
		for _, r := range results {
			if r.Steps != 1 {
				t.Errorf("seed %d: %d steps, want 1", r.Seed, r.Steps)
			}
		}
		atMost(t, "first below 1 ms (s)", sum.Max.FirstBelow1ms, 2)
		atMost(t, "mean RMS offset (s)", sum.RMSOffset, 100*us)
	})
	t.Run("2000s at start", func(t *testing.T) {
		sc := ScenarioA(-2000 * time.Second)
		sc.Duration, sc.StatsFrom = 3000*time.Second, 1000*time.Second
		res, err := Run(sc, 2)
		if err != nil {
			t.Fatal(err)
		}
		if res.Steps != 1 || res.Stats.FirstBelow1ms < 0 || res.Stats.FirstBelow1ms > 2 {
			t.Errorf("got %d steps, first below 1 ms at %v s; want 1 step at once", res.Steps, res.Stats.FirstBelow1ms)
		}
	})
	jump := func(sc *Scenario) {
		sc.Duration, sc.StatsFrom = 5000*time.Second, 3000*time.Second
		sc.Trace = true
		sc.ServerConfigs = []ServerConfig{{Address: ServerAddress(0), StepAt: 1000 * time.Second, StepBy: 2000 * time.Second}}
	}
	t.Run("server jumps 2000s, confirmed", func(t *testing.T) {
		sc := ScenarioA(10 * time.Millisecond)
		jump(&sc)
		var before, after loop.Status
		var xBefore float64
		var confirmErr error
		sc.Setup = func(r *Rig) {
			r.Sched.At(1999*time.Second, func() { before, xBefore = r.Loop.Status(), r.Clock.Offset() })
			r.Sched.At(2000*time.Second, func() { confirmErr = r.Loop.ConfirmStep() })
			r.Sched.At(2100*time.Second, func() { after = r.Loop.Status() })
		}
		res, err := Run(sc, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !before.StepPending || before.State != loop.StateUnsynchronized {
			t.Errorf("before confirmation: got pending %v state %s, want pending, unsynchronized", before.StepPending, before.State)
		}
		if math.Abs(before.PendingStep.Seconds()-2000) > 0.1 {
			t.Errorf("pending step: got %v, want about +2000 s", before.PendingStep)
		}
		if math.Abs(xBefore) > 0.01 {
			t.Errorf("clock touched before confirmation: x = %v s, want about 0", xBefore)
		}
		if confirmErr != nil {
			t.Errorf("ConfirmStep: %v", confirmErr)
		}
		if res.Steps != 1 || after.StepPending {
			t.Errorf("after confirmation: %d steps, pending %v; want 1, false", res.Steps, after.StepPending)
		}
		// The clock follows the server: 2000 s ahead of true time.
		if x := res.X[len(res.X)-1]; math.Abs(x-2000) > 1e-3 {
			t.Errorf("at the end x = %v s, want 2000 s ± 1 ms", x)
		}
	})
	t.Run("server jumps 2000s, panic 0", func(t *testing.T) {
		sc := ScenarioA(10 * time.Millisecond)
		jump(&sc)
		dc := discipline.DefaultConfig()
		dc.Panic = 0
		sc.Discipline = &dc
		res, err := Run(sc, 2)
		if err != nil {
			t.Fatal(err)
		}
		if x := res.X[len(res.X)-1]; res.Steps != 1 || math.Abs(x-2000) > 1e-3 {
			t.Errorf("got %d steps, x = %v s at the end; want 1 step, 2000 s", res.Steps, x)
		}
	})
}

// 004: an intermittent network: up one hour in two, and 10 % of packets
// lost. During an outage the frequency is held and, once no source has
// answered for eight polls, the state says unsynchronized; it recovers
// without a step when the network returns.
func TestScenario004IntermittentNetwork(t *testing.T) {
	sc := ScenarioA(100 * time.Millisecond)
	sc.Duration, sc.StatsFrom = 50000*time.Second, 5000*time.Second
	sc.Network.OutageUp, sc.Network.OutagePeriod, sc.Network.Loss = 3600*time.Second, 7200*time.Second, 0.1
	type snap struct {
		st   loop.Status
		freq float64
	}
	snaps := map[string]*snap{}
	sc.Setup = func(r *Rig) {
		take := func(name string, at time.Duration) {
			s := &snap{}
			snaps[name] = s
			r.Sched.At(at, func() { s.st, s.freq = r.Loop.Status(), r.PClock.Frequency() })
		}
		take("outage start", 3*7200*time.Second+3600*time.Second)
		take("outage +200s", 3*7200*time.Second+3800*time.Second)
		take("outage +1000s", 3*7200*time.Second+4600*time.Second)
		take("outage end", 4*7200*time.Second-time.Second)
		take("back +600s", 4*7200*time.Second+600*time.Second)
	}
	sum, results := runSeeds(t, sc, 5)
	t.Logf("RMS %.1f µs, max %.1f µs, mean %.2f µs", sum.RMSOffset/us, sum.MaxAbsOffset/us, sum.MeanOffset/us)
	atMost(t, "mean RMS offset (s)", sum.RMSOffset, 200*us)
	atMost(t, "worst max |offset| (s)", sum.Max.MaxAbsOffset, 1000*us)
	for _, r := range results {
		if r.Steps != 0 {
			t.Errorf("seed %d: %d steps, want none", r.Seed, r.Steps)
		}
	}
	// The snapshots are of the last seed run.
	if s := snaps["outage +200s"]; s.st.State != loop.StateSynchronized {
		t.Errorf("200 s into an outage: state %s (%s), want still synchronized", s.st.State, s.st.Reason)
	}
	if s := snaps["outage +1000s"]; s.st.State != loop.StateUnsynchronized {
		t.Errorf("1000 s into an outage: state %s, want unsynchronized", s.st.State)
	}
	if a, b := snaps["outage start"].freq, snaps["outage end"].freq; a != b {
		t.Errorf("frequency changed during the outage: %v → %v ppm, want held", a, b)
	}
	if s := snaps["back +600s"]; s.st.State != loop.StateSynchronized {
		t.Errorf("600 s after the network returned: state %s (%s), want synchronized", s.st.State, s.st.Reason)
	}
}

// 005: five servers, two of them falsetickers (+100 ms, −150 ms): they
// are recognised and have no influence.
func TestScenario005Falsetickers(t *testing.T) {
	sc := ScenarioA(100 * time.Millisecond)
	sc.Duration, sc.StatsFrom = 20000*time.Second, 4000*time.Second
	sc.Servers, sc.Falsetickers = 5, 2
	sum, results := runSeeds(t, sc, 5)
	t.Logf("RMS %.1f µs, mean %.2f µs", sum.RMSOffset/us, sum.MeanOffset/us)
	atMost(t, "mean RMS offset (s)", sum.RMSOffset, 60*us)
	atMost(t, "|mean offset| (s)", math.Abs(sum.MeanOffset), 10*us)
	atMost(t, "first below 1 ms (s)", sum.Max.FirstBelow1ms, 2)
	for _, r := range results {
		if r.Steps != 0 {
			t.Errorf("seed %d: %d steps, want none", r.Seed, r.Steps)
		}
		for i, s := range r.Final.Sources {
			want := engine.StateSelected
			if i >= 3 {
				want = engine.StateFalseticker
			}
			if s.State != want {
				t.Errorf("seed %d: source %s is %s (%s), want %s", r.Seed, s.Address, s.State, s.Reason, want)
			}
		}
	}
}

// 006: kiss-o'-death. A server that wants requests at least 300 s apart
// sends RATE: the client backs off and stays synchronized. A server that
// sends DENY is never asked again; another server keeps the clock.
func TestScenario006KissOfDeath(t *testing.T) {
	t.Run("RATE", func(t *testing.T) {
		sc := ScenarioA(10 * time.Millisecond)
		sc.Duration, sc.StatsFrom = 30000*time.Second, 10000*time.Second
		sc.ServerConfigs = []ServerConfig{{Address: ServerAddress(0), Kiss: "RATE", MinInterval: 300 * time.Second}}
		res, err := Run(sc, 1)
		if err != nil {
			t.Fatal(err)
		}
		reqs := res.Requests[ServerAddress(0)]
		// After the first RATE the interval is max(2·64, 300) = 300 s.
		if reqs > 30000/300+5 {
			t.Errorf("requests: got %d, want about %d (one per 300 s)", reqs, 30000/300)
		}
		if p := res.Final.Sources[0].Poll; p < 300*time.Second {
			t.Errorf("poll interval: got %v, want at least 300 s", p)
		}
		if res.Final.State != loop.StateSynchronized {
			t.Errorf("state: %s (%s), want synchronized", res.Final.State, res.Final.Reason)
		}
		atMost(t, "RMS offset (s)", res.Stats.RMSOffset, 300*us)
	})
	t.Run("DENY", func(t *testing.T) {
		sc := ScenarioA(10 * time.Millisecond)
		sc.Duration, sc.StatsFrom = 20000*time.Second, 4000*time.Second
		sc.ServerConfigs = []ServerConfig{{Address: ServerAddress(0), Kiss: "DENY"}, {Address: ServerAddress(1)}}
		res, err := Run(sc, 1)
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Requests[ServerAddress(0)]; n != 1 {
			t.Errorf("requests to the DENY server: got %d, want 1", n)
		}
		if s := res.Final.Sources[0]; s.State != engine.StateKoD || s.Poll != 0 {
			t.Errorf("DENY source: state %s poll %v, want kod and no polling", s.State, s.Poll)
		}
		if s := res.Final.Sources[1]; s.State != engine.StateSelected {
			t.Errorf("good source: state %s (%s), want selected", s.State, s.Reason)
		}
		atMost(t, "RMS offset (s)", res.Stats.RMSOffset, 90*us)
	})
}

// TestIBurstAndAdaptivePoll: not part of Scenario A. With iburst the first
// correction comes from four quick samples; with maxpoll 10 a quiet clock
// polls less and less often. Fewer samples cost accuracy (a fixed 1024 s
// poll gives some 450 µs RMS on this network), hence the loose bound.
func TestIBurstAndAdaptivePoll(t *testing.T) {
	sc := ScenarioA(100 * time.Millisecond)
	sc.Duration, sc.StatsFrom = 40000*time.Second, 10000*time.Second
	sc.IBurst, sc.MaxPoll = true, 10
	res, err := Run(sc, 3)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Final.Sources[0].Poll; p <= 64*time.Second {
		t.Errorf("poll after 40000 s of a quiet clock: got %v, want more than 64 s", p)
	}
	if reqs := res.Requests[ServerAddress(0)]; reqs > 40000/64 {
		t.Errorf("requests: got %d, want fewer than at a fixed 64 s", reqs)
	}
	atMost(t, "RMS offset (s)", res.Stats.RMSOffset, 600*us)
	atMost(t, "max |offset| (s)", res.Stats.MaxAbsOffset, 2000*us)
	atMost(t, "first below 1 ms (s)", res.Stats.FirstBelow1ms, 10)
}

// 007: the server's time jumps by +20 ms (it corrected itself), and a
// single answer is 50 ms off (a glitch). The jump is followed after three
// measurements confirm it, without overshoot; the glitch is ignored.
func TestScenario007ServerJumpAndGlitch(t *testing.T) {
	sc := ScenarioA(10 * time.Millisecond)
	sc.Duration, sc.StatsFrom = 30000*time.Second, 15000*time.Second
	sc.Trace = true
	sc.ServerConfigs = []ServerConfig{{Address: ServerAddress(0),
		StepAt: 10000 * time.Second, StepBy: 20 * time.Millisecond,
		GlitchAt: 20000 * time.Second, GlitchBy: 50 * time.Millisecond}}
	for seed := uint64(1); seed <= 3; seed++ {
		res, err := Run(sc, seed)
		if err != nil {
			t.Fatal(err)
		}
		// x follows the server: x − 20 ms within 1 ms from the 5th poll
		// after the jump on, and never beyond it by more than 1 ms.
		for k := 10000; k < len(res.X); k++ {
			dev := res.X[k] - 0.020
			if dev > 1e-3 || (k >= 10000+5*64 && math.Abs(dev) > 1e-3) {
				t.Fatalf("seed %d: at %d s the clock is %.3f ms from the jumped server", seed, k, dev*1e3)
			}
		}
		if res.Steps != 0 {
			t.Errorf("seed %d: %d steps, want none (20 ms is slewed)", seed, res.Steps)
		}
		// The glitch at 20000 s moves nothing: the figures from 15000 s
		// are those of a quiet clock.
		atMost(t, "max |x − 20 ms| after 15000 s (s)", maxDev(res.X[15000:], 0.020), 400*us)
	}
}

func maxDev(x []float64, ref float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v-ref))
	}
	return m
}

// 008: a LAN (50 µs + Exp(20 µs) per leg), with a clean server and with
// one whose answers carry 100 µs of normal noise, which the bounds of the
// maximum-likelihood fit do not allow for: the discipline must notice and
// rely on the regression.
func TestScenario008LANAndNoisyServer(t *testing.T) {
	tests := []struct {
		noise  time.Duration
		maxRMS float64
	}{
		{0, 12 * us},
		{100 * time.Microsecond, 100 * us},
	}
	for _, tt := range tests {
		t.Run(tt.noise.String(), func(t *testing.T) {
			sc := ScenarioA(100 * time.Millisecond)
			sc.Duration, sc.StatsFrom = 30000*time.Second, 5000*time.Second
			sc.Network = NetworkConfig{Delay: 50 * time.Microsecond, JitterMean: 20 * time.Microsecond}
			sc.ServerNoise = tt.noise
			sum, _ := runSeeds(t, sc, 5)
			t.Logf("RMS %.1f µs, max %.1f µs", sum.RMSOffset/us, sum.MaxAbsOffset/us)
			atMost(t, "mean RMS offset (s)", sum.RMSOffset, tt.maxRMS)
			atMost(t, "|mean offset| (s)", math.Abs(sum.MeanOffset), 10*us)
		})
	}
}

// 009: the drift file is only the start (seeds 201–208, fresh). One that
// says the clock's error exactly (chrony's sign: 100 for a clock 100 ppm
// fast) converges at once; one 10 ppm stale costs at most 20 % of the RMS
// of a run without a file; one 200 ppm wrong still converges: max |x|
// under 5 ms after 10,000 s, no step.
func TestScenario009DriftFile(t *testing.T) {
	base := ScenarioA(100 * time.Millisecond)
	base.Duration, base.StatsFrom = 30000*time.Second, 10000*time.Second
	plain, _ := runSeedRange(t, base, 201, 208)
	tests := []struct {
		name     string
		filePPM  float64
		maxRMS   float64 // × the plain run's mean RMS
		maxConv  float64 // mean convergence, s
		maxAfter float64 // max |x| after 10,000 s
	}{
		{"correct", 100, 1.2, 120, 1e-3},
		{"10 ppm stale", 110, 1.2, 400, 1e-3},
		{"200 ppm wrong", -100, 1.2, 1000, 5e-3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := base
			sc.DriftFile = DriftFileFor(tt.filePPM, 0.01)
			sum, results := runSeedRange(t, sc, 201, 208)
			t.Logf("RMS %.1f µs (without a file %.1f µs), converged %.0f s (without %.0f s)",
				sum.RMSOffset/us, plain.RMSOffset/us, sum.Converged1ms, plain.Converged1ms)
			atMost(t, "mean RMS offset / without a file", sum.RMSOffset/plain.RMSOffset, tt.maxRMS)
			atMost(t, "mean convergence (s)", sum.Converged1ms, tt.maxConv)
			atMost(t, "worst max |offset| after 10,000 s (s)", sum.Max.MaxAbsOffset, tt.maxAfter)
			if sum.Min.Converged1ms < 0 {
				t.Error("a seed never converged")
			}
			if tt.filePPM == 100 && !(sum.Converged1ms < plain.Converged1ms) {
				t.Errorf("a correct drift file converges in %.0f s, without one %.0f s: want sooner", sum.Converged1ms, plain.Converged1ms)
			}
			for _, r := range results {
				if r.Steps != 0 {
					t.Errorf("seed %d: %d steps, want none", r.Seed, r.Steps)
				}
			}
		})
	}
}

// 010: three servers, one of them +100 ms off, the network down one hour
// in two and 20 % of packets lost (seeds 1–10). When the network returns,
// the first server to answer must not carry the clock alone: max |x|
// under 5 ms after the start in every seed (following the falseticker
// would mean tens of ms).
func TestScenario010FalsetickerAfterOutage(t *testing.T) {
	sc := ScenarioA(10 * time.Millisecond)
	sc.Duration, sc.StatsFrom = 50000*time.Second, 600*time.Second
	sc.Servers, sc.Falsetickers = 3, 1
	sc.Network.OutageUp, sc.Network.OutagePeriod, sc.Network.Loss = 3600*time.Second, 7200*time.Second, 0.2
	held := 0
	sc.Setup = func(r *Rig) {
		// Look at the status often during the first minutes after each
		// outage: a hold must be said.
		for k := 1; k < 7; k++ {
			for dt := time.Duration(0); dt < 600*time.Second; dt += 5 * time.Second {
				r.Sched.At(time.Duration(k)*7200*time.Second+dt, func() {
					if st := r.Loop.Status(); strings.Contains(st.Reason, "majority") {
						held++
					}
				})
			}
		}
	}
	sum, results := runSeeds(t, sc, 10)
	t.Logf("RMS %.1f µs, worst max %.1f µs; status said the clock was held %d times", sum.RMSOffset/us, sum.Max.MaxAbsOffset/us, held)
	for _, r := range results {
		if r.Stats.MaxAbsOffset >= 5e-3 {
			t.Errorf("seed %d: max |offset| %.3f ms, want under 5 ms", r.Seed, r.Stats.MaxAbsOffset*1e3)
		}
		if s := r.Final.Sources[2]; s.State == engine.StateSelected {
			t.Errorf("seed %d: the falseticker is selected at the end", r.Seed)
		}
	}
	if held == 0 {
		t.Error("the status never said the clock was held for want of a majority")
	}
}

// 011: a kiss-o'-death other than RATE/DENY/RSTR (INIT: the server is not
// synchronized yet) keeps the source polled on its normal schedule; the
// other server keeps the clock.
func TestScenario011KissINIT(t *testing.T) {
	sc := ScenarioA(10 * time.Millisecond)
	sc.Duration, sc.StatsFrom = 6400*time.Second, 3200*time.Second
	sc.ServerConfigs = []ServerConfig{{Address: ServerAddress(0), Kiss: "INIT"}, {Address: ServerAddress(1)}}
	res, err := Run(sc, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Requests[ServerAddress(0)]; n < 95 || n > 101 {
		t.Errorf("requests to the INIT server: got %d, want one per 64 s (100)", n)
	}
	s := res.Final.Sources[0]
	if s.State != engine.StateKoD || s.Poll != 64*time.Second || !strings.Contains(s.Reason, "INIT") {
		t.Errorf("INIT source: state %s poll %v reason %q, want kod, 64s, a reason naming INIT", s.State, s.Poll, s.Reason)
	}
	if res.Final.State != loop.StateSynchronized {
		t.Errorf("state: %s (%s), want synchronized", res.Final.State, res.Final.Reason)
	}
}

// 012: the scenarios do not depend on the date: Scenario A and the
// falseticker case run years away, past the NTP era rollover of
// 2036-02-07, give the very same figures as at Epoch. A test that aged
// anything with the machine's clock, or timestamps that broke across the
// era, would differ.
func TestScenario012AnyDate(t *testing.T) {
	for _, name := range []string{"A", "falseticker"} {
		t.Run(name, func(t *testing.T) {
			sc := ScenarioA(100 * time.Millisecond)
			sc.Duration, sc.StatsFrom = 20000*time.Second, 5000*time.Second
			if name == "falseticker" {
				sc.Servers, sc.Falsetickers = 5, 2
			}
			ref, err := Run(sc, 7)
			if err != nil {
				t.Fatal(err)
			}
			sc.Start = time.Date(2041, 3, 14, 15, 9, 26, 0, time.UTC)
			later, err := Run(sc, 7)
			if err != nil {
				t.Fatal(err)
			}
			if later.Stats != ref.Stats || later.Steps != ref.Steps {
				t.Errorf("in 2041: %+v, %d steps; at %v: %+v, %d steps; want the same", later.Stats, later.Steps, Epoch, ref.Stats, ref.Steps)
			}
			if later.Final.State != loop.StateSynchronized {
				t.Errorf("in 2041: final state %s (%s)", later.Final.State, later.Final.Reason)
			}
		})
	}
}

// 013: a start on one server over a jittery path (300 µs + Exp(300 µs)
// per leg, as the VM test's path under TCG): the burst's four answers,
// two seconds apart, give a young line whose slope may be far off. The
// answers of the next polls must correct it, not be held aside as
// inconsistent with it. Held, they left the clock uncorrected for five
// polls: seed 424 reached 7.65 ms and converged only after 87 s (worst
// of seeds 401-500; fresh seeds 1001-1300: 9.66 ms, 87 s). Now the
// consistency test allows for how few measurements the line has
// (studentT3): worst 1.71 ms and 39 s here (fresh: 2.31 ms, 55 s). And a
// young line's frequency, wrong by tens of ppm, carries the offset away
// between polls: the loop no longer skips an update whose offset is small
// now but may not be by the next one (mayWait). Mean RMS offset 145 µs
// before either change, 128 with the second alone, 116 with the first
// alone, 94.6 with both, 105 with mayWait's drift given the wrong sign
// (fresh seeds: 123.5 before, 105.5, 111.4, 88.8; worst max 1.56 ms).
func TestScenario013JitteryStartOneServer(t *testing.T) {
	sc := Scenario{
		Duration: 5 * time.Minute, StatsFrom: 30 * time.Second,
		Clock:   ClockConfig{Profile: ProfileLinux, StartOffset: -100 * time.Millisecond, FreqPPM: -40, Wander: 1e-9},
		Network: NetworkConfig{Delay: 300 * time.Microsecond, JitterMean: 300 * time.Microsecond},
		Servers: 1, MinPoll: 4, MaxPoll: 4, IBurst: true,
		UpdateInterval: loop.DefaultUpdateInterval, UpdateDeadband: loop.DefaultUpdateDeadband,
	}
	sum, _ := runSeedRange(t, sc, 401, 500)
	atMost(t, "worst max |offset| (s)", sum.Max.MaxAbsOffset, 3e-3)
	atMost(t, "worst convergence below 1 ms (s)", sum.Max.Converged1ms, 60)
	atMost(t, "mean RMS offset (s)", sum.RMSOffset, 100*us)
}
