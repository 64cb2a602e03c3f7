package sim

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/beevik/ntp"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/engine"
)

func TestSchedulerOrder(t *testing.T) {
	s := NewScheduler()
	var got []string
	s.AfterFunc(2*time.Second, func() { got = append(got, "b") })
	s.AfterFunc(time.Second, func() {
		got = append(got, "a")
		s.AfterFunc(0, func() { got = append(got, "a2") }) // same instant, after a
	})
	stop := s.AfterFunc(1500*time.Millisecond, func() { got = append(got, "never") })
	s.AfterFunc(2*time.Second, func() { got = append(got, "c") }) // same time as b: after it
	s.AfterFunc(5*time.Second, func() { got = append(got, "late") })
	if !stop() {
		t.Error("stop of a pending timer: got false, want true")
	}
	if stop() {
		t.Error("second stop: got true, want false")
	}
	s.Run(3 * time.Second)
	want := []string{"a", "a2", "b", "c"}
	if len(got) != len(want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ran %v, want %v", got, want)
		}
	}
	if s.Elapsed() != 3*time.Second || !s.Now().Equal(Epoch.Add(3*time.Second)) {
		t.Errorf("time after Run(3s): got %v", s.Elapsed())
	}
}

// TestPassiveClockHonesty: a clock nobody corrects keeps exactly the
// configured frequency error and a random walk whose per-second steps are
// N(0, wander²).
func TestPassiveClockHonesty(t *testing.T) {
	const (
		dur    = 200000
		freq   = 100.0 // ppm
		wander = 1e-9
	)
	sc := Scenario{
		Duration: dur * time.Second,
		Clock:    ClockConfig{Profile: ProfileLinux, StartOffset: 100 * time.Millisecond, FreqPPM: freq, Wander: wander},
		Network:  NetworkConfig{Delay: time.Millisecond, JitterMean: time.Millisecond},
		Servers:  1,
		Passive:  true,
		Trace:    true,
	}
	res, err := Run(sc, 7)
	if err != nil {
		t.Fatal(err)
	}
	x, f := res.X, res.FreqPPM
	if len(x) != dur {
		t.Fatalf("trace length: got %d, want %d", len(x), dur)
	}
	if x[0] != 0.1 || math.Abs(f[0]-freq) > 1e-2 {
		t.Errorf("start: got x=%v f=%v, want 0.1 s and %v ppm", x[0], f[0], freq)
	}
	// The phase integrates the frequency exactly: x(k+1) − x(k) = f(k)·1 s
	// (to the rounding of x, some 20 s at the end).
	for k := 0; k+1 < len(x); k++ {
		if d := x[k+1] - x[k] - f[k]*1e-6; math.Abs(d) > 1e-14 {
			t.Fatalf("second %d: phase step %v differs from the frequency %v ppm by %v s", k, x[k+1]-x[k], f[k], d)
		}
	}
	// The per-second frequency steps are N(0, wander²).
	n := float64(len(f) - 1)
	var sum, sum2, sum4 float64
	within := 0
	for k := 0; k+1 < len(f); k++ {
		d := (f[k+1] - f[k]) * 1e-6 / wander // in units of σ
		sum += d
		sum2 += d * d
		sum4 += d * d * d * d
		if math.Abs(d) < 1 {
			within++
		}
	}
	mean, variance := sum/n, sum2/n
	if math.Abs(mean) > 4/math.Sqrt(n) {
		t.Errorf("wander step mean: got %.4f σ, want 0 ± %.4f", mean, 4/math.Sqrt(n))
	}
	if math.Abs(variance-1) > 0.015 {
		t.Errorf("wander step variance: got %.4f σ², want 1 ± 0.015", variance)
	}
	if kurt := sum4 / n / (variance * variance); math.Abs(kurt-3) > 0.1 {
		t.Errorf("wander step kurtosis: got %.3f, want 3 ± 0.1 (normal)", kurt)
	}
	if frac := float64(within) / n; math.Abs(frac-0.6827) > 0.005 {
		t.Errorf("wander steps within 1σ: got %.4f, want 0.6827 ± 0.005", frac)
	}
	// Over the whole run the frequency stays near 100 ppm: a random walk
	// of 200000 steps has σ = 1e-9·√200000 = 0.45 ppm·1e-3.
	if got := f[len(f)-1]; math.Abs(got-freq) > 5*wander*1e6*math.Sqrt(n) {
		t.Errorf("final frequency: got %v ppm, want %v ± %v", got, freq, 5*wander*1e6*math.Sqrt(n))
	}
	// Nobody stepped, and the statistics see the drift: |x| grows to ~20 s.
	if res.Steps != 0 || res.Stats.MaxAbsOffset < 19 {
		t.Errorf("got %d steps and max |x| %v s, want 0 and about 20 s", res.Steps, res.Stats.MaxAbsOffset)
	}
}

func TestClockProfiles(t *testing.T) {
	tests := []struct {
		profile Profile
		ppm     float64
		wantErr bool
	}{
		{ProfileLinux, 83333, false},
		{ProfileLinux, -83333.333, false},
		{ProfileLinux, 83334, true},
		{ProfileFreqOnly, 500, false},
		{ProfileFreqOnly, -500.1, true},
	}
	for _, tt := range tests {
		s := NewScheduler()
		c, err := NewClock(s, ClockConfig{Profile: tt.profile}, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		err = c.SetFrequency(tt.ppm)
		if tt.wantErr != (err != nil) {
			t.Errorf("%s SetFrequency(%v): got %v, want error %v", tt.profile, tt.ppm, err, tt.wantErr)
		}
		if err != nil && !errors.Is(err, platform.ErrOutOfRange) {
			t.Errorf("%s SetFrequency(%v): got %v, want ErrOutOfRange", tt.profile, tt.ppm, err)
		}
	}
	if _, err := NewClock(NewScheduler(), ClockConfig{Profile: "vax"}, nil); err == nil {
		t.Error("unknown profile: got nil error")
	}
	// The resolution is ADJ_FREQUENCY's 2⁻¹⁶ ppm, and a step is exact.
	s := NewScheduler()
	c, _ := NewClock(s, ClockConfig{}, rand.New(rand.NewPCG(1, 1)))
	_ = c.SetFrequency(1.0 / 3)
	if got, _ := c.Frequency(); got != math.Round(65536.0/3)/65536 {
		t.Errorf("frequency 1/3 ppm: got %v, want %v", got, math.Round(65536.0/3)/65536)
	}
	s.Run(1000 * time.Second)
	_ = c.Step(-250 * time.Millisecond)
	f, _ := c.Frequency()
	if want := f*1e-6*1000 - 0.25; math.Abs(c.Offset()-want) > 1e-15 {
		t.Errorf("offset: got %v, want %v", c.Offset(), want)
	}
}

func TestComputeStatsHandTrace(t *testing.T) {
	// x in ms: seconds 0..9. Window from second 5: 0.5, −0.2, 0.3, −0.4, 0.1.
	x := []float64{5, 3, 0.5, 2, 0.9, 0.5, -0.2, 0.3, -0.4, 0.1}
	for i := range x {
		x[i] *= 1e-3
	}
	f := []float64{9, 9, 9, 9, 9, 1, -1, 2, -2, 0}
	st := ComputeStats(x, f, 5)
	// RMS = √((0.25+0.04+0.09+0.16+0.01)/5) = √0.11 ms.
	want := Stats{
		RMSOffset:     math.Sqrt(0.11) * 1e-3,
		MaxAbsOffset:  0.5e-3,
		P50AbsOffset:  0.3e-3, // sorted |x|: 0.1 0.2 0.3 0.4 0.5; ⌈2.5⌉ = 3rd
		P95AbsOffset:  0.5e-3, // ⌈4.75⌉ = 5th
		P99AbsOffset:  0.5e-3,
		MeanOffset:    0.06e-3,
		RMSFreqError:  math.Sqrt(10.0 / 5),
		FirstBelow1ms: 2, // 0.5 ms at second 2
		Converged1ms:  4, // last ≥ 1 ms is 2 ms at second 3
	}
	check := func(name string, got, want float64) {
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	check("rms", st.RMSOffset, want.RMSOffset)
	check("max", st.MaxAbsOffset, want.MaxAbsOffset)
	check("p50", st.P50AbsOffset, want.P50AbsOffset)
	check("p95", st.P95AbsOffset, want.P95AbsOffset)
	check("p99", st.P99AbsOffset, want.P99AbsOffset)
	check("mean", st.MeanOffset, want.MeanOffset)
	check("rms freq", st.RMSFreqError, want.RMSFreqError)
	check("first below", st.FirstBelow1ms, want.FirstBelow1ms)
	check("converged", st.Converged1ms, want.Converged1ms)

	// Never converged: still above at the end.
	if st := ComputeStats([]float64{0, 2e-3}, nil, 0); st.Converged1ms != -1 || st.FirstBelow1ms != 0 {
		t.Errorf("ending above 1 ms: got converged %v first %v, want -1 and 0", st.Converged1ms, st.FirstBelow1ms)
	}
	// Always below: converged at 0.
	if st := ComputeStats([]float64{1e-4, -1e-4}, nil, 0); st.Converged1ms != 0 {
		t.Errorf("always below: got converged %v, want 0", st.Converged1ms)
	}

	sum := Summarize([]Stats{{RMSOffset: 1, Converged1ms: 10}, {RMSOffset: 3, Converged1ms: 30}})
	if sum.RMSOffset != 2 || sum.Min.RMSOffset != 1 || sum.Max.RMSOffset != 3 || sum.Converged1ms != 20 {
		t.Errorf("Summarize: got %+v", sum)
	}
	if sum := Summarize([]Stats{{Converged1ms: 10}, {Converged1ms: -1}}); sum.Converged1ms != -1 {
		t.Errorf("Summarize with a run that never converged: got %v, want -1", sum.Converged1ms)
	}
}

// newNet builds a clock and network for direct exchanges.
func newNet(t *testing.T, cfg NetworkConfig, servers ...ServerConfig) (*Scheduler, *Clock, *Network) {
	t.Helper()
	s := NewScheduler()
	c, err := NewClock(s, ClockConfig{StartOffset: 50 * time.Millisecond, FreqPPM: 20}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) == 0 {
		servers = []ServerConfig{{Address: "srv:123"}}
	}
	n, err := NewNetwork(s, c, cfg, rand.New(rand.NewPCG(1, 2)), servers)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, n
}

// TestNetworkDelays: per leg base + Exp(mean), independent: the round
// trip's extra delay has mean 2·mean, the offset error mean 0 and
// variance mean²/2.
func TestNetworkDelays(t *testing.T) {
	s, c, n := newNet(t, NetworkConfig{Delay: time.Millisecond, JitterMean: time.Millisecond})
	const N = 40000
	var sumD, sumE, sumE2 float64
	minD := math.Inf(1)
	for i := 0; i < N; i++ {
		var got *ntp.Response
		xStart := c.Offset()
		n.Exchange("srv:123", func(r *ntp.Response, err error) {
			if err != nil {
				t.Fatal(err)
			}
			got = r
		})
		start := s.Elapsed()
		s.Run(start + time.Second)
		smp, err := engine.Validate(got, engine.ValidateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		extra := smp.Delay.Seconds() - 2e-3
		sumD += extra
		minD = math.Min(minD, extra)
		// The true offset is −x (x moves by 20 ppm × a few ms, 0.1 µs,
		// during the exchange).
		e := smp.Offset.Seconds() + xStart
		sumE += e
		sumE2 += e * e
	}
	if m := sumD / N; math.Abs(m-2e-3) > 0.03e-3 {
		t.Errorf("mean extra round-trip delay: got %v s, want 2 ms ± 0.03", m)
	}
	if minD < 0 {
		t.Errorf("an exchange was faster than the fixed delay: %v s", minD)
	}
	if m := sumE / N; math.Abs(m) > 0.015e-3 {
		t.Errorf("mean offset error: got %v s, want 0 ± 15 µs", m)
	}
	if v := sumE2 / N; math.Abs(v-0.5e-6) > 0.03e-6 {
		t.Errorf("offset error variance: got %v s², want 0.5 ms² ± 0.03", v)
	}
}

func TestNetworkLossAndOutage(t *testing.T) {
	count := func(n *Network, s *Scheduler, tries int, gap time.Duration) (ok, lost int) {
		for i := 0; i < tries; i++ {
			n.Exchange("srv:123", func(_ *ntp.Response, err error) {
				if errors.Is(err, engine.ErrNoReply) {
					lost++
				} else if err == nil {
					ok++
				}
			})
			s.Run(s.Elapsed() + gap)
		}
		return ok, lost
	}
	s, _, n := newNet(t, NetworkConfig{Delay: time.Millisecond, Loss: 0.2})
	ok, lost := count(n, s, 10000, 3*time.Second)
	// Two packets, each lost with 0.2: success 0.64.
	if frac := float64(ok) / 10000; math.Abs(frac-0.64) > 0.02 || ok+lost != 10000 {
		t.Errorf("with 20%% loss per packet: %d answered, %d lost; want 64%% ± 2", ok, lost)
	}
	s, _, n = newNet(t, NetworkConfig{Delay: time.Millisecond, OutageUp: 100 * time.Second, OutagePeriod: 400 * time.Second})
	ok, lost = count(n, s, 4000, 10*time.Second)
	if frac := float64(ok) / 4000; math.Abs(frac-0.25) > 0.01 {
		t.Errorf("network up 100 s of 400: %d answered, %d lost; want 25%% ± 1", ok, lost)
	}
	if _, err := NewNetwork(s, nil, NetworkConfig{OutageUp: 5, OutagePeriod: 2}, nil, nil); err == nil {
		t.Error("outage UP > PERIOD: got nil error")
	}
}

func TestServerKiss(t *testing.T) {
	s, _, n := newNet(t, NetworkConfig{Delay: time.Millisecond},
		ServerConfig{Address: "rate:123", Kiss: "RATE", MinInterval: 100 * time.Second},
		ServerConfig{Address: "deny:123", Kiss: "DENY"})
	ask := func(addr string) error {
		var got error
		n.Exchange(addr, func(r *ntp.Response, err error) {
			if err == nil {
				_, err = engine.Validate(r, engine.ValidateOptions{})
			}
			got = err
		})
		s.Run(s.Elapsed() + 10*time.Second)
		return got
	}
	var kiss *engine.KissError
	if err := ask("rate:123"); err != nil {
		t.Errorf("first request to a RATE server: got %v, want an answer", err)
	}
	if err := ask("rate:123"); !errors.As(err, &kiss) || !kiss.RateLimited() {
		t.Errorf("request 10 s later: got %v, want a RATE kiss", err)
	}
	s.Run(s.Elapsed() + 200*time.Second)
	if err := ask("rate:123"); err != nil {
		t.Errorf("request after 200 s: got %v, want an answer", err)
	}
	if err := ask("deny:123"); !errors.As(err, &kiss) || !kiss.Drop() {
		t.Errorf("DENY server: got %v, want a DENY kiss", err)
	}
	if err := ask("nosuch:123"); !errors.Is(err, engine.ErrNoReply) {
		t.Errorf("unknown server: got %v, want ErrNoReply", err)
	}
	if n.Requests("rate:123") != 3 || n.Requests("deny:123") != 1 {
		t.Errorf("requests: got %d and %d, want 3 and 1", n.Requests("rate:123"), n.Requests("deny:123"))
	}
}

// TestQuerier: the engine.Querier face answers at once and agrees with
// the event-driven exchange on the offset.
func TestQuerier(t *testing.T) {
	_, c, n := newNet(t, NetworkConfig{Delay: 2 * time.Millisecond})
	var q engine.Querier = n
	r, err := q.Query(context.Background(), "srv:123")
	if err != nil {
		t.Fatal(err)
	}
	smp, err := engine.Validate(r, engine.ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := -c.Offset(); math.Abs(smp.Offset.Seconds()-want) > 1e-6 {
		t.Errorf("offset: got %v, want %v (symmetric fixed delays)", smp.Offset.Seconds(), want)
	}
	if smp.Delay < 4*time.Millisecond || smp.Delay > 4*time.Millisecond+20*time.Microsecond {
		t.Errorf("delay: got %v, want 4 ms", smp.Delay)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Query(ctx, "srv:123"); !errors.Is(err, engine.ErrNoReply) {
		t.Errorf("cancelled context: got %v, want ErrNoReply", err)
	}
}

// The machine's monotonic clock runs at the disciplined rate, as Linux
// CLOCK_MONOTONIC does: the oscillator's error and the correction speed it
// up, a step leaves it alone, and its timers fire by it.
func TestMonotonicClockRunsAtDisciplinedRate(t *testing.T) {
	s := NewScheduler()
	clk, err := NewClock(s, ClockConfig{Profile: ProfileLinux, FreqPPM: 100}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := clk.SetFrequency(50000); err != nil {
		t.Fatal(err)
	}
	var firedAt time.Duration
	s.AfterFunc(1050*time.Millisecond, func() { firedAt = s.Elapsed() })
	s.Run(500 * time.Millisecond)
	if err := clk.Step(time.Hour); err != nil {
		t.Fatal(err)
	}
	s.Run(2 * time.Second)
	// (1 + 100e-6)(1 + 0.05) per true second: 1.05 s of it take 1/1.000100 s.
	want := time.Duration(math.Ceil(1.05 / (1.0001 * 1.05) * 1e9))
	if d := firedAt - want; d < -time.Nanosecond || d > time.Nanosecond {
		t.Errorf("timer of 1.05 s fired at true %v, want %v", firedAt, want)
	}
	if got, want := s.Mono().Seconds(), 2*1.0001*1.05; math.Abs(got-want) > 1e-9 {
		t.Errorf("monotonic clock after 2 true seconds: got %.9f s, want %.9f s", got, want)
	}
	if got, want := clk.Offset(), 3600+2*(1.0001*1.05-1); math.Abs(got-want) > 1e-9 {
		t.Errorf("clock error: got %.9f s, want %.9f s", got, want)
	}
}

// A 100 ms slew at the fastest rate, timed by platform.Clock on that
// monotonic clock, lands exactly.
func TestSlewLandsOnDisciplinedMonotonic(t *testing.T) {
	s := NewScheduler()
	clk, err := NewClock(s, ClockConfig{Profile: ProfileLinux, FreqPPM: 250}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := platform.NewClock(clk, platform.ClockOptions{Timers: s})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.SetFrequency(-250); err != nil {
		t.Fatal(err)
	}
	x0 := clk.Offset()
	if _, err := pc.Slew(100*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	s.Run(10 * time.Second)
	// The base cancels the oscillator to 2⁻¹⁶ ppm and a second order term.
	base := ((1+250e-6)*(1+clk.corrPPM*1e-6) - 1) * 10
	if got := clk.Offset() - x0 - base; math.Abs(got-0.1) > 100e-9 {
		t.Errorf("slewed %.9f s, want 0.100000000 s", got)
	}
}

// The trace starts at second 0 even when building the loop already moves
// the clock's frequency (a drift file), and has one entry per second.
func TestTraceWithDriftFileStartsAtZero(t *testing.T) {
	sc := ScenarioA(100 * time.Millisecond)
	sc.Duration, sc.StatsFrom, sc.Trace = 300*time.Second, 100*time.Second, true
	sc.DriftFile = DriftFileFor(100, 0.01)
	res, err := Run(sc, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.X) != 300 || len(res.FreqPPM) != 300 {
		t.Fatalf("trace of %d/%d seconds, want 300", len(res.X), len(res.FreqPPM))
	}
	if res.X[0] != 0.1 {
		t.Errorf("x at second 0: got %v, want the start offset 0.1", res.X[0])
	}
	// The drift file set the correction at once: the frequency error at
	// second 0 is the residual of a correct file, not 100 ppm.
	if math.Abs(res.FreqPPM[0]) > 0.01 {
		t.Errorf("frequency error at second 0: got %v ppm, want ~0 (the file corrects it)", res.FreqPPM[0])
	}
}

// A frequency step changes the oscillator's rate at its whole second and
// not before: +5 ppm at 10.5 s (truncated to 10 s) on a clock with no
// error of its own leaves 50 µs after 20 s.
func TestClockFrequencyStep(t *testing.T) {
	s := NewScheduler()
	c, err := NewClock(s, ClockConfig{FreqStepAt: 10500 * time.Millisecond, FreqStepPPM: 5}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	s.Run(10 * time.Second)
	if got := c.Offset(); got != 0 {
		t.Errorf("at 10 s: offset %v, want 0", got)
	}
	s.Run(20 * time.Second)
	if got := c.Offset(); math.Abs(got-50e-6) > 1e-15 {
		t.Errorf("at 20 s: offset %v, want 50 µs", got)
	}
	if got := c.OscillatorPPM(); math.Abs(got-5) > 1e-12 {
		t.Errorf("oscillator: %v ppm, want 5", got)
	}
}
