// Package sim is a deterministic simulation of a machine's clock and its
// network to time servers, which drives the real engine, discipline and
// poll loop (service/loop) through the interfaces the service uses: the
// clock is a platform.Driver under platform.Clock, the exchanges are a
// loop.Exchanger (and an engine.Querier), and timers run on virtual time.
// Nothing of the algorithm is copied here.
//
// Time: the scheduler keeps true time, by which the network's packets
// travel and the statistics are taken, and the machine's monotonic clock,
// by which its timers fire and platform.Clock times its slews. As on Linux
// (and in clknetsim, where chrony's reference figures come from), the
// monotonic clock runs at the disciplined rate: the oscillator's frequency
// error and every correction, slews included, speed it up or slow it down;
// steps do not move it. This is always so, not an option: it is the time
// base a Linux daemon really has. The disciplined clock, whose error
// x(t) = clock − true time is what the statistics measure, is what NTP
// timestamps are read from. One simulated day runs in well under a second.
//
// What is modelled: the oscillator (frequency error, random-walk wander),
// the kernel's frequency correction (range and 2⁻¹⁶ ppm resolution of the
// profile), the disciplined monotonic clock, one-way delays (fixed plus
// exponential queueing per packet), loss, outages, servers with offsets,
// steps, glitches, timestamp noise and kiss-o'-death. What is not: the
// kernel's PLL/FLL (timesync does not use it), the tick granularity and
// the delay between a frequency call and its effect, interrupt and
// scheduling latency of timestamps, asymmetric paths, temperature.
//
// Every run is seeded: the wander and the network draw from independent
// PCG streams of the seed, so a seed reproduces a run exactly.
package sim

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/discipline"
	"github.com/timesync/timesync/service/discipline/driftfile"
	"github.com/timesync/timesync/service/loop"
)

// Scenario is one simulated setup.
type Scenario struct {
	// Duration is the simulated time; StatsFrom starts the statistics
	// window (the convergence figures use the whole run).
	Duration, StatsFrom time.Duration
	// Start is the true time at which the run begins; default Epoch.
	Start   time.Time
	Clock   ClockConfig
	Network NetworkConfig
	// Servers is how many servers there are, of which the last
	// Falsetickers have a wrong clock (alternately +100 ms, −150 ms,
	// +200 ms, …). ServerConfigs, if set, replaces both.
	Servers, Falsetickers int
	ServerConfigs         []ServerConfig
	// ServerNoise is every generated server's Noise.
	ServerNoise time.Duration
	// MinPoll and MaxPoll are the client's poll exponents; IBurst its
	// start burst.
	MinPoll, MaxPoll int
	IBurst           bool
	MinSources       int
	// UpdateInterval and UpdateDeadband are the loop's (loop.Options):
	// how often a synchronized clock is corrected at least, with polls
	// shorter than that.
	UpdateInterval time.Duration
	UpdateDeadband float64
	// Discipline, if set, replaces discipline.DefaultConfig().
	Discipline *discipline.Config
	// Drift is given to the loop, which saves the frequency to it.
	Drift loop.DriftStore
	// DriftFile, if set, is the contents of a drift file the run starts
	// from, read as the service reads one (driftfile.Parse): chrony's
	// "freq_ppm skew_ppm", freq_ppm being the clock's own frequency error
	// (positive: the uncorrected clock runs fast), so for FreqPPM 100 a
	// correct file says 100. See DriftFileFor.
	DriftFile string
	// Passive runs no client at all: the clock keeps its errors (the
	// simulator's honesty check).
	Passive bool
	// Trace keeps x(t) and the frequency error per second in the result.
	Trace bool
	// Setup, if set, is called before the run starts, e.g. to schedule
	// actions (an administrator's confirmation) on the scheduler.
	Setup func(r *Rig)
	// Logger receives the loop's logs; default: discarded.
	Logger *slog.Logger
}

// ScenarioA is the anchor scenario of issue 3: one perfect server, poll
// 64 s, 100 ppm frequency error with a 1e-9/s random walk, 1 ms + Exp(1 ms)
// per leg, 100,000 s with statistics from 10,000 s.
func ScenarioA(startOffset time.Duration) Scenario {
	return Scenario{
		Duration:  100000 * time.Second,
		StatsFrom: 10000 * time.Second,
		Clock:     ClockConfig{Profile: ProfileLinux, StartOffset: startOffset, FreqPPM: 100, Wander: 1e-9},
		Network:   NetworkConfig{Delay: time.Millisecond, JitterMean: time.Millisecond},
		Servers:   1,
		MinPoll:   6,
		MaxPoll:   6,
	}
}

// DriftFileFor returns the contents of a drift file that says the clock's
// own frequency error is errPPM (positive: fast), with the given skew,
// in chrony's format and sign.
func DriftFileFor(errPPM, skewPPM float64) string {
	return string(driftfile.Format(discipline.Drift{FrequencyPPM: -errPPM, SkewPPM: skewPPM}))
}

// Rig is a simulation being set up or run: its parts, for Setup hooks and
// tests.
type Rig struct {
	Sched   *Scheduler
	Clock   *Clock
	PClock  *platform.Clock
	Network *Network
	Loop    *loop.Loop // nil when Passive
	trace   *trace
}

// trace keeps x and the frequency error at every whole second from 0 to
// the end of the run (exclusive). It is attached to the clock before
// anything can move it, so that second 0 is recorded even when building
// the loop already sets the frequency (a drift file).
type trace struct {
	n    int
	x, f []float64
}

func (t *trace) observe(sec int64, x, fppm float64) {
	if sec < int64(t.n) {
		t.x = append(t.x, x)
		t.f = append(t.f, fppm)
	}
}

// Result is the outcome of one run.
type Result struct {
	Seed  uint64 `json:"seed"`
	Stats Stats  `json:"stats"`
	// X and FreqPPM are the per-second trace, with Scenario.Trace.
	X       []float64 `json:"-"`
	FreqPPM []float64 `json:"-"`
	// Steps is how often the clock was stepped; Final the loop's status
	// at the end; Requests how many requests each server received.
	Steps    int            `json:"steps"`
	Final    loop.Status    `json:"-"`
	Requests map[string]int `json:"-"`
}

// ServerAddress is the address of the i-th simulated server (from 0).
func ServerAddress(i int) string { return fmt.Sprintf("10.0.0.%d:123", i+1) }

// servers returns the scenario's server configurations.
func (sc Scenario) servers() []ServerConfig {
	if len(sc.ServerConfigs) > 0 {
		return sc.ServerConfigs
	}
	n := max(sc.Servers, 1)
	out := make([]ServerConfig, n)
	for i := range out {
		out[i].Address = ServerAddress(i)
		out[i].Noise = sc.ServerNoise
		if j := i - (n - sc.Falsetickers); j >= 0 {
			off := time.Duration(j+2) * 50 * time.Millisecond
			if j%2 == 1 {
				off = -off
			}
			out[i].Offset = off
		}
	}
	return out
}

// Build assembles a run's parts without running it.
func Build(sc Scenario, seed uint64) (*Rig, error) {
	log := sc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := sc.Start
	if start.IsZero() {
		start = Epoch
	}
	s := NewSchedulerAt(start)
	clk, err := NewClock(s, sc.Clock, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		return nil, err
	}
	n := max(int(sc.Duration/time.Second), 0)
	tr := &trace{n: n, x: make([]float64, 0, n), f: make([]float64, 0, n)}
	clk.observe = tr.observe
	pc, err := platform.NewClock(clk, platform.ClockOptions{Timers: s, Logger: log})
	if err != nil {
		return nil, err
	}
	srv := sc.servers()
	net, err := NewNetwork(s, clk, sc.Network, rand.New(rand.NewPCG(seed, 2)), srv)
	if err != nil {
		return nil, err
	}
	r := &Rig{Sched: s, Clock: clk, PClock: pc, Network: net, trace: tr}
	if sc.Passive {
		return r, nil
	}
	dc := discipline.DefaultConfig()
	if sc.Discipline != nil {
		dc = *sc.Discipline
	}
	if sc.DriftFile != "" {
		dr, err := driftfile.Parse([]byte(sc.DriftFile))
		if err != nil {
			return nil, fmt.Errorf("drift file: %w", err)
		}
		dc.Drift = &dr
	}
	opt := loop.Options{
		Timers:     s,
		Exchanger:  net,
		Clock:      pc,
		Discipline: dc,
		MinSources: sc.MinSources,
		Drift:      sc.Drift,

		UpdateInterval: sc.UpdateInterval,
		UpdateDeadband: sc.UpdateDeadband,
		Logger:         log,
	}
	for _, c := range srv {
		opt.Servers = append(opt.Servers, loop.Server{Address: c.Address, MinPoll: sc.MinPoll, MaxPoll: sc.MaxPoll, IBurst: sc.IBurst})
	}
	if r.Loop, err = loop.New(opt); err != nil {
		return nil, err
	}
	return r, nil
}

// Run runs the scenario with seed and computes its statistics.
func Run(sc Scenario, seed uint64) (*Result, error) {
	if sc.Duration <= 0 {
		return nil, fmt.Errorf("duration %v: must be positive", sc.Duration)
	}
	r, err := Build(sc, seed)
	if err != nil {
		return nil, err
	}
	r.Clock.advanceTo(r.Sched.now)
	if sc.Setup != nil {
		sc.Setup(r)
	}
	if r.Loop != nil {
		r.Loop.Start()
	}
	r.Sched.Run(sc.Duration)
	res := &Result{Seed: seed, Steps: r.Clock.StepCount(), Requests: map[string]int{}}
	if r.Loop != nil {
		res.Final = r.Loop.Status()
		r.Loop.Stop()
	}
	for a, sv := range r.Network.servers {
		res.Requests[a] = sv.requests
	}
	x, f := r.trace.x, r.trace.f
	res.Stats = ComputeStats(x, f, int(sc.StatsFrom/time.Second))
	if sc.Trace {
		res.X, res.FreqPPM = x, f
	}
	return res, nil
}
