package discipline

import (
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/timesync/timesync/service/engine"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeClock is an ideal clock: slews apply at once, and it knows the
// oscillator's true error, so tests can measure x = clock − true time.
type fakeClock struct {
	now     time.Time
	freqPPM float64 // correction set
	applied float64 // correction applied up to at, seconds
	at      time.Time
	x0, osc float64 // oscillator: x(t) = x0 + osc·t + applied(t)
	steps   []time.Duration
	slews   []time.Duration
	hist    []struct {
		at      time.Time
		applied float64
		ppm     float64
	}
}

func newFakeClock(x0, oscPPM float64) *fakeClock {
	c := &fakeClock{now: t0, at: t0, x0: x0, osc: oscPPM * 1e-6}
	c.mark()
	return c
}

func (c *fakeClock) sync() {
	c.applied += c.freqPPM * 1e-6 * c.now.Sub(c.at).Seconds()
	c.at = c.now
}

func (c *fakeClock) mark() {
	c.sync()
	c.hist = append(c.hist, struct {
		at      time.Time
		applied float64
		ppm     float64
	}{c.now, c.applied, c.freqPPM})
}

func (c *fakeClock) advance(d time.Duration) { c.now = c.now.Add(d) }

// x is clock − true time now.
func (c *fakeClock) x() float64 {
	c.sync()
	return c.x0 + c.osc*c.now.Sub(t0).Seconds() + c.applied
}

func (c *fakeClock) Frequency() float64    { return c.freqPPM }
func (c *fakeClock) MaxFrequency() float64 { return 500 }
func (c *fakeClock) SetFrequency(ppm float64) (float64, error) {
	ppm = math.Max(-500, math.Min(500, ppm))
	c.sync()
	c.freqPPM = ppm
	c.mark()
	return ppm, nil
}
func (c *fakeClock) Slew(off, _ time.Duration) (time.Duration, error) {
	c.sync()
	c.applied += off.Seconds()
	c.slews = append(c.slews, off)
	c.mark()
	return 0, nil
}
func (c *fakeClock) Step(off time.Duration) error {
	c.sync()
	c.applied += off.Seconds()
	c.steps = append(c.steps, off)
	c.mark()
	return nil
}
func (c *fakeClock) AppliedAt(t time.Time) (float64, bool) {
	for i := len(c.hist) - 1; i >= 0; i-- {
		h := c.hist[i]
		if !t.Before(h.at) {
			return h.applied + h.ppm*1e-6*t.Sub(h.at).Seconds(), true
		}
	}
	return 0, false
}

func quietConfig() Config {
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	return cfg
}

// meas is a measurement and when it was taken.
type meas struct {
	at time.Time
	s  engine.Sample
}

// measure takes a noiseless measurement of the fake clock now, with the
// given round-trip delay.
func measure(c *fakeClock, delay time.Duration) meas {
	return meas{at: c.now, s: engine.Sample{Offset: seconds(-c.x()), Delay: delay, Stratum: 1}}
}

func add(d *Discipline, tr *Track, m meas) error { return d.Add(tr, m.at, m.s) }

func TestFitLineHandComputed(t *testing.T) {
	// With equal weights the least-squares line through (0,1), (1,3),
	// (2,6) has slope 2.5 and passes through the mean (1, 10/3), so its
	// value at t = 2 (tref) is 35/6.
	pts := []point{{0, 1, 1}, {1, 3, 1}, {2, 6, 1}}
	l, ok := fitLine(pts, 2, nil)
	if !ok {
		t.Fatal("fitLine: not ok")
	}
	if !near(l.b, 2.5, 1e-12) || !near(l.a, 35.0/6, 1e-12) {
		t.Errorf("fitLine: got a=%v b=%v, want a=%v b=2.5", l.a, l.b, 35.0/6)
	}
	// Var(b) = σ²/Σ(t−t̄)² = 1/2; residuals 1/6, −1/3, 1/6 → χ² = 1/6.
	if !near(l.cbb, 0.5, 1e-12) || !near(l.chi2, 1.0/6, 1e-12) {
		t.Errorf("fitLine: got var(b)=%v chi2=%v, want 0.5 and 1/6", l.cbb, l.chi2)
	}
	// A weight: making (2,6) ten times less certain moves the slope
	// toward 2.
	pts[2].v = 100
	l2, _ := fitLine(pts, 2, nil)
	if !(l2.b < 2.5 && l2.b > 2) {
		t.Errorf("weighted slope: got %v, want between 2 and 2.5", l2.b)
	}
	// One point needs the prior.
	if _, ok := fitLine(pts[:1], 0, nil); ok {
		t.Error("fitLine of one point without a prior: got ok")
	}
	l3, ok := fitLine(pts[:1], 0, &slopePrior{b0: 7, sd: 1})
	if !ok || l3.b != 7 || l3.a != 1 {
		t.Errorf("fitLine of one point with prior 7: got a=%v b=%v ok=%v, want 1, 7, true", l3.a, l3.b, ok)
	}
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestFitBounds(t *testing.T) {
	tests := []struct {
		name       string
		pts        []bpoint
		wantA      float64 // at tref = 20
		wantB      float64
		wantMargin float64
	}{
		{
			name:  "points on a line, equal bounds",
			pts:   []bpoint{{0, 1, 0.5}, {10, 1.1, 0.5}, {20, 1.2, 0.5}},
			wantA: 1.2, wantB: 0.01, wantMargin: 0.5,
		},
		{
			// Hand-solved: slope 0 is the only one keeping the gap at 1.
			name:  "middle point high",
			pts:   []bpoint{{0, 0, 1}, {10, 1, 1}, {20, 0, 1}},
			wantA: 0.5, wantB: 0, wantMargin: 0.5,
		},
		{
			// A tight point decides: the best margin, 0.1, needs the line
			// through (10, 0.3); slopes within ±0.16 keep the loose points
			// inside, and the middle of that flat maximum is 0.
			name:  "one tight bound",
			pts:   []bpoint{{0, 0, 2}, {10, 0.3, 0.1}, {20, 0, 2}},
			wantA: 0.3, wantB: 0, wantMargin: 0.1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, m := fitBounds(tt.pts, 20, -1, 1)
			if !near(a, tt.wantA, 1e-9) || !near(b, tt.wantB, 1e-9) || !near(m, tt.wantMargin, 1e-9) {
				t.Errorf("got a=%.9f b=%.9f margin=%.9f, want %v %v %v", a, b, m, tt.wantA, tt.wantB, tt.wantMargin)
			}
		})
	}
	// One point: every slope is as good; the middle of the range is taken.
	a, b, m := fitBounds([]bpoint{{5, 3, 1}}, 5, -0.2, 0.6)
	if !near(a, 3, 1e-12) || !near(b, 0.2, 1e-9) || !near(m, 1, 1e-12) {
		t.Errorf("one point: got a=%v b=%v margin=%v, want 3, 0.2, 1", a, b, m)
	}
}

func TestRunsOK(t *testing.T) {
	l := line{tref: 0}
	alternating := make([]point, 20)
	blocks := make([]point, 20)
	for i := range alternating {
		alternating[i] = point{t: float64(i), y: float64(1 - 2*(i%2)), v: 1}
		y := 1.0
		if i >= 10 {
			y = -1
		}
		blocks[i] = point{t: float64(i), y: y, v: 1}
	}
	if !runsOK(alternating, l) {
		t.Error("alternating residuals: got not ok, want ok")
	}
	if runsOK(blocks, l) {
		t.Error("two blocks of residuals: got ok, want not ok")
	}
	if !runsOK(blocks[:5], l) {
		t.Error("five points: got not ok, want ok (too few to judge)")
	}
}

func TestDelayFloor(t *testing.T) {
	tr := withDelays([]float64{5, 3, 4, 3.5, 10})
	dmin, spread, median := tr.delayFloor()
	// lowest 3; third lowest 4 → spread 1; median 4 → 0.75·1/√5 = 0.335.
	if dmin != 3 || !near(spread, 1, 1e-12) || median != 4 {
		t.Errorf("got dmin=%v spread=%v median=%v, want 3, 1 and 4", dmin, spread, median)
	}
	tr = withDelays([]float64{3, 3, 3, 9})
	_, spread, _ = tr.delayFloor()
	// third lowest − lowest = 0; median 3 → 0 too: no sign of spread.
	if spread != 0 {
		t.Errorf("clustered delays: got spread %v, want 0", spread)
	}
	tr = withDelays([]float64{3, 3.01, 3.02, 8, 9, 10})
	_, spread, median = tr.delayFloor()
	// median (3.02+8)/2 = 5.51 → 0.75·2.51/√6 = 0.7685 > 0.02.
	if !near(spread, 0.75*2.51/math.Sqrt(6), 1e-9) || !near(median, 5.51, 1e-12) {
		t.Errorf("few delays: got spread %v, want the median-based %v", spread, 0.75*2.51/math.Sqrt(6))
	}
}

// TestConvergesNoiseless drives the discipline with exact measurements of
// a clock 10 ms off with a 50 ppm frequency error: the frequency must be
// found and the offset removed.
func TestConvergesNoiseless(t *testing.T) {
	c := newFakeClock(0.010, 50)
	d := New(c, quietConfig(), t0)
	tr := &Track{}
	for i := 0; i < 20; i++ {
		if err := add(d, tr, measure(c, 2*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		e, ok := d.Estimate(tr, c.now)
		if !ok {
			t.Fatal("no estimate")
		}
		if u := d.Update(c.now, []Estimate{e}); u.Err != nil || u.Action != ActionSlew {
			t.Fatalf("update %d: got %v, %v; want a slew", i, u.Action, u.Err)
		}
		c.advance(64 * time.Second)
	}
	if got := c.x(); math.Abs(got) > 1e-9 {
		t.Errorf("clock error after 20 updates: got %v s, want ~0", got)
	}
	if got := c.Frequency(); !near(got, -50, 1e-6) {
		t.Errorf("frequency: got %v ppm, want -50", got)
	}
	if len(c.steps) != 0 {
		t.Errorf("steps: got %v, want none (10 ms is below the step threshold)", c.steps)
	}
}

// TestEstimateWithQueueing: measurements with exponential queueing on each
// leg; the estimate must land far closer than the raw samples' spread.
func TestEstimateWithQueueing(t *testing.T) {
	c := newFakeClock(0, 20)
	d := New(c, quietConfig(), t0)
	tr := &Track{}
	// A deterministic sequence of leg delays (ms) with a few near zero.
	legs := []float64{0.9, 0.1, 2.3, 0.4, 1.7, 0.05, 0.6, 1.1, 3.0, 0.2, 0.7, 1.4, 0.02, 0.8, 2.2, 0.3}
	for i := 0; i+1 < len(legs)*2; i++ {
		a, b := legs[i%len(legs)], legs[(i*7+3)%len(legs)]
		m := measure(c, time.Duration((2+a+b)*float64(time.Millisecond)))
		m.s.Offset += time.Duration((a - b) / 2 * float64(time.Millisecond))
		if err := add(d, tr, m); err != nil {
			t.Fatal(err)
		}
		c.advance(64 * time.Second)
	}
	c.advance(-64 * time.Second)
	e, ok := d.Estimate(tr, c.now)
	if !ok {
		t.Fatal("no estimate")
	}
	if !e.Bounded {
		t.Error("estimate did not use the bound fit")
	}
	if got := e.Offset.Seconds() + c.x(); math.Abs(got) > 100e-6 {
		t.Errorf("estimate error: got %v s, want within 100 µs (samples err up to 1.5 ms)", got)
	}
	if !near(e.FrequencyPPM, -20, 0.5) {
		t.Errorf("frequency: got %v ppm, want -20 ± 0.5", e.FrequencyPPM)
	}
}

func est(off time.Duration) []Estimate {
	return []Estimate{{Offset: off, OffsetSD: time.Microsecond, Distance: time.Millisecond, FrequencyPPM: 0, SkewPPM: 1}}
}

func TestTinker(t *testing.T) {
	type upd struct {
		after time.Duration // since the previous update
		off   time.Duration
		want  Action
	}
	tests := []struct {
		name string
		cfg  func(*Config)
		ups  []upd
	}{
		{"first update steps", nil, []upd{{0, time.Second, ActionStep}}},
		{"first update spikes without FirstStep", func(c *Config) { c.FirstStep = false },
			[]upd{{0, time.Second, ActionSpike}, {100 * time.Second, time.Second, ActionSpike}, {800 * time.Second, time.Second, ActionStep}}},
		{"later offset waits for stepout", nil,
			[]upd{{0, time.Millisecond, ActionSlew}, {64 * time.Second, 500 * time.Millisecond, ActionSpike},
				{64 * time.Second, 500 * time.Millisecond, ActionSpike}, {900 * time.Second, 500 * time.Millisecond, ActionStep}}},
		{"a spike that goes away resets stepout", nil,
			[]upd{{0, time.Millisecond, ActionSlew}, {64 * time.Second, 500 * time.Millisecond, ActionSpike},
				{64 * time.Second, 2 * time.Millisecond, ActionSlew}, {900 * time.Second, 500 * time.Millisecond, ActionSpike}}},
		{"step 0 never steps", func(c *Config) { c.Step = 0 }, []upd{{0, 100 * time.Second, ActionSlew}}},
		{"stepout 0 steps at once", func(c *Config) { c.Stepout = 0 },
			[]upd{{0, time.Millisecond, ActionSlew}, {64 * time.Second, -time.Second, ActionStep}}},
		{"panic refuses after the first correction", nil, []upd{{0, time.Millisecond, ActionSlew},
			{64 * time.Second, 2000 * time.Second, ActionRefused}, {64 * time.Second, -2000 * time.Second, ActionRefused}}},
		{"the first correction steps beyond panic (ntpd -g)", nil, []upd{{0, 2000 * time.Second, ActionStep},
			{64 * time.Second, -2000 * time.Second, ActionRefused}}},
		{"panic refuses the first correction without FirstStep", func(c *Config) { c.FirstStep = false },
			[]upd{{0, 2000 * time.Second, ActionRefused}}},
		{"panic 0 always steps", func(c *Config) { c.Panic = 0 }, []upd{{0, 1e6 * time.Second, ActionStep}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := quietConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			c := newFakeClock(0, 0)
			d := New(c, cfg, t0)
			for i, u := range tt.ups {
				c.advance(u.after)
				got := d.Update(c.now, est(u.off))
				if got.Action != u.want {
					t.Errorf("update %d (offset %v): got %v, want %v", i, u.off, got.Action, u.want)
				}
				if got.Action == ActionStep && c.steps[len(c.steps)-1] != u.off {
					t.Errorf("update %d: stepped by %v, want %v", i, c.steps[len(c.steps)-1], u.off)
				}
			}
		})
	}
}

func TestPanicConfirm(t *testing.T) {
	c := newFakeClock(0, 0)
	d := New(c, quietConfig(), t0)
	if err := d.Confirm(); !errors.Is(err, ErrNothingPending) {
		t.Errorf("Confirm with nothing pending: got %v, want ErrNothingPending", err)
	}
	if u := d.Update(c.now, est(time.Millisecond)); u.Action != ActionSlew {
		t.Fatalf("first update: got %v, want slew", u.Action)
	}
	c.slews, c.freqPPM = nil, 0
	off := 2500 * time.Second
	if u := d.Update(c.now, est(off)); u.Action != ActionRefused {
		t.Fatalf("got %v, want refused", u.Action)
	}
	if p, ok := d.Pending(); !ok || p != off {
		t.Errorf("Pending: got %v, %v; want %v, true", p, ok, off)
	}
	if len(c.steps)+len(c.slews) != 0 || c.freqPPM != 0 {
		t.Errorf("the clock was touched despite the refusal: steps %v slews %v freq %v", c.steps, c.slews, c.freqPPM)
	}
	if err := d.Confirm(); err != nil {
		t.Fatal(err)
	}
	c.advance(64 * time.Second)
	if u := d.Update(c.now, est(off+time.Millisecond)); u.Action != ActionStep {
		t.Fatalf("after Confirm: got %v, want step", u.Action)
	}
	if _, ok := d.Pending(); ok {
		t.Error("still pending after the confirmed step")
	}
	// The confirmation was for one step: a new huge offset is refused again.
	c.advance(64 * time.Second)
	if u := d.Update(c.now, est(-3000*time.Second)); u.Action != ActionRefused {
		t.Errorf("new offset beyond panic after a confirmed step: got %v, want refused", u.Action)
	}
}

func TestDriftPrior(t *testing.T) {
	c := newFakeClock(0, -12)
	cfg := quietConfig()
	cfg.Drift = &Drift{FrequencyPPM: 12.3, SkewPPM: 0.01}
	d := New(c, cfg, t0)
	tr := &Track{}
	if c.freqPPM != 12.3 {
		t.Errorf("frequency after New with a drift file: got %v, want 12.3", c.freqPPM)
	}
	if err := add(d, tr, measure(c, time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	e, _ := d.Estimate(tr, c.now)
	if !near(e.FrequencyPPM, 12.3, 1e-9) {
		t.Errorf("one sample with a drift prior: got %v ppm, want the prior 12.3", e.FrequencyPPM)
	}
}

func TestAddErrors(t *testing.T) {
	c := newFakeClock(0, 0)
	d := New(c, quietConfig(), t0)
	tr := &Track{}
	if err := d.Add(tr, t0.Add(-time.Hour), engine.Sample{Delay: time.Millisecond}); !errors.Is(err, ErrNoHistory) {
		t.Errorf("measurement before the clock's history: got %v, want ErrNoHistory", err)
	}
	c.advance(time.Second)
	if err := add(d, tr, measure(c, time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := add(d, tr, measure(c, time.Millisecond)); err == nil {
		t.Error("a measurement no newer than the last: got nil error")
	}
	if _, ok := d.Estimate(&Track{}, c.now); ok {
		t.Error("Estimate of an empty history: got ok")
	}
	tr.Reset()
	if tr.Samples() != 0 {
		t.Error("Reset kept samples")
	}
}

// TestOutlierAndJump: one measurement 10 ms off is held aside and does
// not move the estimate; three in a row that agree restart the history,
// keeping the frequency.
func TestOutlierAndJump(t *testing.T) {
	c := newFakeClock(0, 10)
	d := New(c, quietConfig(), t0)
	tr := &Track{}
	add := func(extra time.Duration) error {
		m := measure(c, 2*time.Millisecond)
		m.s.Offset += extra
		err := add(d, tr, m)
		c.advance(64 * time.Second)
		return err
	}
	for range 10 {
		if err := add(0); err != nil {
			t.Fatal(err)
		}
	}
	at := c.now
	before, _ := d.Estimate(tr, at)
	if err := add(10 * time.Millisecond); !errors.Is(err, ErrOutlier) {
		t.Fatalf("a measurement 10 ms off: got %v, want ErrOutlier", err)
	}
	after, _ := d.Estimate(tr, at)
	if tr.Samples() != 10 || (after.Offset-before.Offset).Abs() > time.Microsecond {
		t.Errorf("after an outlier: %d samples, offset %v; want 10 and unchanged %v", tr.Samples(), after.Offset, before.Offset)
	}
	if err := add(0); err != nil {
		t.Fatalf("a good measurement after the outlier: %v", err)
	}
	for i := range 3 {
		err := add(10 * time.Millisecond)
		if i < 2 && !errors.Is(err, ErrOutlier) {
			t.Fatalf("jump measurement %d: got %v, want ErrOutlier", i, err)
		}
		if i == 2 && err != nil {
			t.Fatalf("third jump measurement: got %v, want the history restarted", err)
		}
	}
	e, _ := d.Estimate(tr, c.now)
	want := seconds(-c.x()) + 10*time.Millisecond
	if tr.Samples() != 3 || (e.Offset-want).Abs() > 10*time.Microsecond {
		t.Errorf("after the jump: %d samples, offset %v; want 3 and %v", tr.Samples(), e.Offset, want)
	}
	if !near(e.FrequencyPPM, -10, 0.01) {
		t.Errorf("frequency after the restart: got %v ppm, want the old -10", e.FrequencyPPM)
	}
}

// noisyRun feeds n measurements 64 s apart with queueing on both legs
// (a deterministic sequence), updating the clock after each, and returns
// the last update.
func noisyRun(t *testing.T, c *fakeClock, d *Discipline, tr *Track, n int) Update {
	t.Helper()
	legs := []float64{0.9, 0.1, 2.3, 0.4, 1.7, 0.05, 0.6, 1.1, 3.0, 0.2, 0.7, 1.4, 0.02, 0.8, 2.2, 0.3}
	var u Update
	for i := range n {
		a, b := legs[i%len(legs)], legs[(i*7+3)%len(legs)]
		m := measure(c, time.Duration((2+a+b)*float64(time.Millisecond)))
		m.s.Offset += time.Duration((a - b) / 2 * float64(time.Millisecond))
		if err := add(d, tr, m); err != nil && !errors.Is(err, ErrOutlier) {
			t.Fatal(err)
		}
		if e, ok := d.Estimate(tr, c.now); ok {
			u = d.Update(c.now, []Estimate{e})
		}
		c.advance(64 * time.Second)
	}
	return u
}

// The drift file is only the start: a file 10 ppm stale with a tiny skew
// neither holds the frequency nor the clock once measurements disagree,
// and once the history is long it leaves no trace: the estimate is the
// one a run without a drift file makes from the same measurements (in
// raw terms they are the same whatever the corrections).
func TestDriftFileIsOnlyTheStart(t *testing.T) {
	run := func(drift *Drift) (Update, float64) {
		c := newFakeClock(0, 40) // needs a correction of −40 ppm
		cfg := quietConfig()
		cfg.Drift = drift
		d := New(c, cfg, t0)
		u := noisyRun(t, c, d, &Track{}, 40)
		return u, c.x()
	}
	u, x := run(&Drift{FrequencyPPM: -30, SkewPPM: 0.001})
	plain, _ := run(nil)
	if !near(u.FrequencyPPM, -40, 0.2) {
		t.Errorf("frequency after 40 measurements: got %v ppm, want -40 ± 0.2 (the file said -30)", u.FrequencyPPM)
	}
	if !near(u.FrequencyPPM, plain.FrequencyPPM, 1e-3) {
		t.Errorf("frequency with the stale file %v ppm, without %v ppm: want the same", u.FrequencyPPM, plain.FrequencyPPM)
	}
	if math.Abs(x) > 300e-6 {
		t.Errorf("clock error: got %v s, want within 300 µs", x)
	}
}

// No lock-out: a drift file 200 ppm wrong makes every early measurement
// disagree with the history's slope; enough measurements that agree with
// each other must still win.
func TestNoLockOutFromWrongSlope(t *testing.T) {
	c := newFakeClock(0.05, -100) // needs +100 ppm
	cfg := quietConfig()
	cfg.Drift = &Drift{FrequencyPPM: -100, SkewPPM: 0.001}
	d := New(c, cfg, t0)
	tr := &Track{}
	u := noisyRun(t, c, d, tr, 60)
	if !near(u.FrequencyPPM, 100, 0.5) {
		t.Errorf("frequency after 60 measurements: got %v ppm, want 100 ± 0.5", u.FrequencyPPM)
	}
	if x := c.x(); math.Abs(x) > 1e-3 {
		t.Errorf("clock error: got %v s, want within 1 ms", x)
	}
}

// studentT3 is Student's t for the normal 3σ tail: huge for the fewest
// degrees of freedom, falling steadily, 3 in the limit, and exact at the
// table's entries.
func TestStudentT3(t *testing.T) {
	if !math.IsInf(studentT3(0), 1) {
		t.Errorf("no degree of freedom: got %v, want +Inf", studentT3(0))
	}
	for dof, want := range map[int]float64{2: 19.207, 8: 4.277, 62: 3.126} {
		if got := studentT3(dof); got != want {
			t.Errorf("studentT3(%d) = %v, want %v", dof, got, want)
		}
	}
	prev := math.Inf(1)
	for dof := 1; dof <= 2000; dof++ {
		got := studentT3(dof)
		if !(got < prev) || got <= 3 {
			t.Fatalf("studentT3(%d) = %v after %v: want decreasing and above 3", dof, got, prev)
		}
		prev = got
	}
	if got := studentT3(1e6); math.Abs(got-3) > 1e-3 {
		t.Errorf("studentT3(1e6) = %v, want 3", got)
	}
}

// withDelays is a track that has seen the delays ds, oldest first.
func withDelays(ds []float64) *Track {
	tr := &Track{}
	for _, d := range ds {
		tr.addDelay(d)
	}
	return tr
}

// addDelay keeps the last delayMemory delays in order and sorted, ties
// and all.
func TestAddDelay(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var tr Track
	for i := range 3 * delayMemory {
		d := float64(r.IntN(50)) * 1e-4 // many equal delays
		tr.addDelay(d)
		want := slices.Clone(tr.delays)
		slices.Sort(want)
		if len(tr.delays) != min(i+1, delayMemory) || !slices.Equal(tr.sorted, want) {
			t.Fatalf("after %d delays: %d kept, sorted %v, want %v", i+1, len(tr.delays), tr.sorted, want)
		}
	}
}
