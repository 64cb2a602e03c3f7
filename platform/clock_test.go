package platform

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"sort"
	"strings"
	"testing"
	"time"
)

// fakeTimers is virtual time with timers that fire on Advance. corrected
// says whether its clock runs at the corrected rate (Linux
// CLOCK_MONOTONIC) or at the oscillator's (macOS, Windows).
type fakeTimers struct {
	now       time.Time
	seq       int
	timers    map[int]*fakeTimer
	corrected bool
}

func (ft *fakeTimers) CorrectedRate() bool { return ft.corrected }

type fakeTimer struct {
	at  time.Time
	seq int
	f   func()
}

func newFakeTimers() *fakeTimers {
	return &fakeTimers{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), timers: map[int]*fakeTimer{}}
}

func (ft *fakeTimers) Now() time.Time { return ft.now }

func (ft *fakeTimers) AfterFunc(d time.Duration, f func()) func() bool {
	ft.seq++
	id := ft.seq
	ft.timers[id] = &fakeTimer{at: ft.now.Add(d), seq: id, f: f}
	return func() bool {
		_, ok := ft.timers[id]
		delete(ft.timers, id)
		return ok
	}
}

// Advance moves time forward by d, firing due timers in order.
func (ft *fakeTimers) Advance(d time.Duration) {
	end := ft.now.Add(d)
	for {
		var due []*fakeTimer
		for _, t := range ft.timers {
			if !t.at.After(end) {
				due = append(due, t)
			}
		}
		if len(due) == 0 {
			break
		}
		sort.Slice(due, func(i, j int) bool {
			if !due[i].at.Equal(due[j].at) {
				return due[i].at.Before(due[j].at)
			}
			return due[i].seq < due[j].seq
		})
		t := due[0]
		delete(ft.timers, t.seq)
		ft.now = t.at
		t.f()
	}
	ft.now = end
}

// fakeDriver integrates the phase it was moved by (seconds), so tests can
// compare what the driver did with what Clock accounted for. It works in
// the oscillator's own time u: a correction c (dimensionless) moves the
// clock by c per second of u; the timers' clock advances by 1 + c per
// second of u when it runs at the corrected rate, by 1 otherwise.
type fakeDriver struct {
	ft       *fakeTimers
	max      float64
	ppm      float64
	last     time.Time
	moved    float64 // integral of ppm plus steps, seconds
	u        float64 // the oscillator's own time elapsed, seconds
	steps    []time.Duration
	failFreq bool
}

func (d *fakeDriver) sync() {
	c := d.ppm * 1e-6
	du := d.ft.now.Sub(d.last).Seconds()
	if d.ft.corrected {
		du /= 1 + c
	}
	d.moved += c * du
	d.u += du
	d.last = d.ft.now
}

func (d *fakeDriver) Name() string                { return "fake" }
func (d *fakeDriver) Frequency() (float64, error) { return d.ppm, nil }
func (d *fakeDriver) MaxFrequency() float64       { return d.max }
func (d *fakeDriver) SetFrequency(ppm float64) error {
	if d.failFreq {
		return ErrPermission
	}
	if math.Abs(ppm) > d.max {
		return ErrOutOfRange
	}
	d.sync()
	d.ppm = ppm
	return nil
}
func (d *fakeDriver) Step(off time.Duration) error {
	d.sync()
	d.moved += off.Seconds()
	d.steps = append(d.steps, off)
	return nil
}

func newTestClock(t *testing.T, max float64, opt ClockOptions) (*Clock, *fakeDriver, *fakeTimers, *bytes.Buffer) {
	t.Helper()
	ft := newFakeTimers()
	ft.corrected = opt.TimeBase == TimeBaseCorrected
	d := &fakeDriver{ft: ft, max: max, last: ft.now}
	var logs bytes.Buffer
	opt.Timers = ft
	opt.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := NewClock(d, opt)
	if err != nil {
		t.Fatal(err)
	}
	return c, d, ft, &logs
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestSlewAppliesOffsetAtMaxRate(t *testing.T) {
	tests := []struct {
		name      string
		driverMax float64
		base      float64
		offset    time.Duration
		minDur    time.Duration
		wantDur   time.Duration
	}{
		{"linux rate", 83333.333, 0, 100 * time.Millisecond, 0, time.Duration(math.Ceil(0.1 / 83333e-6 * 1e9))},
		{"freq-only room", 500, 100, -40 * time.Millisecond, 0, 100 * time.Second},
		{"min duration", 83333.333, 0, 100 * time.Microsecond, time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, d, ft, _ := newTestClock(t, tt.driverMax, ClockOptions{})
			if _, err := c.SetFrequency(tt.base); err != nil {
				t.Fatal(err)
			}
			start, _ := c.AppliedAt(ft.Now())
			dur, err := c.Slew(tt.offset, tt.minDur)
			if err != nil {
				t.Fatal(err)
			}
			if diff := dur - tt.wantDur; diff < -time.Nanosecond || diff > time.Nanosecond {
				t.Errorf("Slew duration: got %v, want %v", dur, tt.wantDur)
			}
			ft.Advance(dur + time.Second)
			d.sync()
			end, _ := c.AppliedAt(ft.Now())
			baseMoved := tt.base * 1e-6 * (dur + time.Second).Seconds()
			if got, want := end-start-baseMoved, tt.offset.Seconds(); !near(got, want, 1e-9) {
				t.Errorf("slewed: got %.9f s, want %.9f s", got, want)
			}
			if got := c.SlewRemaining(); got != 0 {
				t.Errorf("SlewRemaining after the slew: got %v, want 0", got)
			}
			if d.ppm != tt.base {
				t.Errorf("driver frequency after the slew: got %v ppm, want the base %v ppm", d.ppm, tt.base)
			}
		})
	}
}

func TestAppliedAtMatchesDriver(t *testing.T) {
	for name, tb := range map[string]TimeBase{"oscillator timers": TimeBaseOscillator, "corrected timers": TimeBaseCorrected} {
		t.Run(name, func(t *testing.T) { testAppliedAtMatchesDriver(t, tb) })
	}
}

func testAppliedAtMatchesDriver(t *testing.T, tb TimeBase) {
	c, d, ft, logs := newTestClock(t, 83333.333, ClockOptions{TimeBase: tb})
	var checks []struct {
		at    time.Time
		moved float64
	}
	record := func() {
		d.sync()
		checks = append(checks, struct {
			at    time.Time
			moved float64
		}{ft.Now(), d.moved})
	}
	mustSetFreq := func(ppm float64) {
		if _, err := c.SetFrequency(ppm); err != nil {
			t.Fatal(err)
		}
	}
	record()
	mustSetFreq(-100)
	ft.Advance(10 * time.Second)
	record()
	if _, err := c.Slew(5*time.Millisecond, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	ft.Advance(time.Second)
	record()
	d.sync()
	u50 := d.u
	mustSetFreq(50) // during the slew: the slew keeps its remaining offset
	ft.Advance(3 * time.Second)
	record()
	ft.Advance(time.Second)
	if err := c.Step(-1500 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	record()
	ft.Advance(7 * time.Second)
	record()
	for _, ch := range checks {
		got, ok := c.AppliedAt(ch.at)
		if !ok {
			t.Fatalf("AppliedAt(%v): not in the history", ch.at)
		}
		if !near(got, ch.moved, 1e-12) {
			t.Errorf("AppliedAt(%v): got %.12f s, want %.12f s (what the driver did)", ch.at, got, ch.moved)
		}
	}
	if c.Steps() != 1 {
		t.Errorf("Steps: got %d, want 1", c.Steps())
	}
	if !strings.Contains(logs.String(), "clock stepped by -1.500000 s") {
		t.Errorf("step not logged with its size; logs:\n%s", logs)
	}
	// The slew's 5 ms were all applied despite the frequency change.
	// Compared at the same oscillator time u (the same true time), the
	// bases moved the clock by b·u and the slew by exactly its offset.
	d.sync()
	want := -100e-6*u50 + 5e-3 + 50e-6*(d.u-u50) - 1.5
	if got, _ := c.AppliedAt(ft.Now()); !near(got, want, 1e-9) {
		t.Errorf("total applied: got %.9f s, want %.9f s", got, want)
	}
}

func TestSlewReplacesSlewInProgress(t *testing.T) {
	c, d, ft, _ := newTestClock(t, 500, ClockOptions{})
	if _, err := c.Slew(10*time.Millisecond, 0); err != nil { // 20 s at 500 ppm
		t.Fatal(err)
	}
	ft.Advance(10 * time.Second)
	if got, want := c.SlewRemaining(), 5*time.Millisecond; got != want {
		t.Errorf("SlewRemaining half way: got %v, want %v", got, want)
	}
	// The caller measured again and now wants only 1 ms more.
	if _, err := c.Slew(time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	ft.Advance(time.Minute)
	d.sync()
	if got, want := d.moved, 6e-3; !near(got, want, 1e-12) {
		t.Errorf("moved: got %.9f s, want %.9f s", got, want)
	}
}

func TestSetFrequencyClampsAndRefusesNaN(t *testing.T) {
	c, _, _, _ := newTestClock(t, 83333.333, ClockOptions{MaxFrequencyPPM: 500})
	got, err := c.SetFrequency(900)
	if err != nil || got != 500 {
		t.Errorf("SetFrequency(900): got %v, %v; want 500, nil", got, err)
	}
	if _, err := c.SetFrequency(math.NaN()); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("SetFrequency(NaN): got %v, want ErrOutOfRange", err)
	}
	if c.Frequency() != 500 {
		t.Errorf("Frequency after refused NaN: got %v, want 500", c.Frequency())
	}
}

func TestSlewWithoutRoomFails(t *testing.T) {
	c, _, _, _ := newTestClock(t, 500, ClockOptions{})
	if _, err := c.SetFrequency(500); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Slew(time.Millisecond, 0); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("Slew with the base at the driver's limit: got %v, want ErrOutOfRange", err)
	}
}

func TestStepLimitAndDriverFailure(t *testing.T) {
	c, d, _, _ := newTestClock(t, 500, ClockOptions{MaxStep: time.Hour})
	if err := c.Step(2 * time.Hour); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("Step beyond MaxStep: got %v, want ErrOutOfRange", err)
	}
	if len(d.steps) != 0 {
		t.Errorf("driver stepped %v despite the limit", d.steps)
	}
	d.failFreq = true
	if _, err := c.SetFrequency(1); !errors.Is(err, ErrPermission) {
		t.Errorf("SetFrequency with a failing driver: got %v, want ErrPermission", err)
	}
	if c.Frequency() != 0 {
		t.Errorf("Frequency after a failed set: got %v, want 0", c.Frequency())
	}
}

func TestAppliedAtBeforeHistory(t *testing.T) {
	c, _, ft, _ := newTestClock(t, 500, ClockOptions{})
	if _, ok := c.AppliedAt(ft.Now().Add(-time.Second)); ok {
		t.Error("AppliedAt before NewClock: got ok, want not ok")
	}
	for i := 0; i < 2*historyLen; i++ {
		ft.Advance(time.Second)
		if _, err := c.SetFrequency(float64(i % 7)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := c.AppliedAt(ft.Now().Add(-time.Duration(historyLen+5) * time.Second)); ok {
		t.Error("AppliedAt beyond the kept history: got ok, want not ok")
	}
	if _, ok := c.AppliedAt(ft.Now().Add(-10 * time.Second)); !ok {
		t.Error("AppliedAt within the kept history: got not ok")
	}
}

// A step with no slew in progress must not rewrite the frequency: on Linux
// that would reset tick, frequency and the kernel PLL before every
// timesync --once step, and without privilege it would fail on the wrong
// call.
func TestStepLeavesFrequencyAlone(t *testing.T) {
	c, d, ft, logs := newTestClock(t, 500, ClockOptions{})
	d.failFreq = true // any SetFrequency would fail the step
	if err := c.Step(2 * time.Second); err != nil {
		t.Fatalf("step: %v", err)
	}
	if len(d.steps) != 1 || d.steps[0] != 2*time.Second {
		t.Errorf("steps %v, want [2s]", d.steps)
	}
	if !strings.Contains(logs.String(), "clock stepped by +2.000000 s") {
		t.Errorf("step not logged: %s", logs)
	}
	// During a slew, the step ends it first.
	d.failFreq = false
	if _, err := c.Slew(10*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	ft.Advance(time.Millisecond)
	if err := c.Step(time.Second); err != nil {
		t.Fatal(err)
	}
	if d.ppm != 0 {
		t.Errorf("frequency %v after step during slew, want the base 0", d.ppm)
	}
}

func TestEndSlew(t *testing.T) {
	c, d, ft, _ := newTestClock(t, 500, ClockOptions{})
	if _, err := c.Slew(100*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	ft.Advance(time.Second)
	if err := c.EndSlew(); err != nil {
		t.Fatal(err)
	}
	if d.ppm != 0 || c.SlewRemaining() != 0 {
		t.Errorf("after EndSlew: driver at %v ppm, remaining %v; want 0, 0", d.ppm, c.SlewRemaining())
	}
	d.sync()
	if !near(d.moved, 500e-6, 1e-9) {
		t.Errorf("moved %v s, want 0.0005 s (1 s at 500 ppm)", d.moved)
	}
}

// On timers that run at the corrected rate (Linux CLOCK_MONOTONIC) a slew
// is timed and accounted in that time base: 100 ms at 83,333 ppm takes
// 1.3 s of it, not 1.2 s, and lands exactly. Timing it as if the timers ran
// at the oscillator's rate would miss by some 8 % (7.7 ms).
func TestSlewExactOnCorrectedTimers(t *testing.T) {
	tests := []struct {
		name      string
		driverMax float64
		base      float64
		offset    time.Duration
		wantDur   time.Duration
	}{
		// D = O·(1+b+s)/s
		{"linux forward", 83333.333, 0, 100 * time.Millisecond, time.Duration(math.Ceil(0.1 * (1 + 83333e-6) / 83333e-6 * 1e9))},
		{"linux back, base -100 ppm", 83333.333, -100, -100 * time.Millisecond,
			time.Duration(math.Ceil(-0.1 * (1 - 100e-6 - 83233.333e-6) / -83233.333e-6 * 1e9))},
		{"freq-only room", 500, 100, -40 * time.Millisecond, time.Duration(math.Ceil(-0.04 * (1 + 100e-6 - 400e-6) / -400e-6 * 1e9))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, d, ft, _ := newTestClock(t, tt.driverMax, ClockOptions{TimeBase: TimeBaseCorrected})
			if !c.CorrectedTimeBase() {
				t.Fatal("CorrectedTimeBase: got false, want true")
			}
			if _, err := c.SetFrequency(tt.base); err != nil {
				t.Fatal(err)
			}
			d.sync()
			before, u0 := d.moved, d.u
			dur, err := c.Slew(tt.offset, 0)
			if err != nil {
				t.Fatal(err)
			}
			if diff := dur - tt.wantDur; diff < -time.Nanosecond || diff > time.Nanosecond {
				t.Errorf("Slew duration: got %v, want %v", dur, tt.wantDur)
			}
			ft.Advance(dur / 2)
			d.sync()
			// Compared at the same oscillator time (the same true time),
			// the slew moved the clock beyond what the base did.
			half := d.moved - before - tt.base*1e-6*(d.u-u0)
			if got, want := c.SlewRemaining().Seconds(), tt.offset.Seconds()-half; !near(got, want, 2e-9) {
				t.Errorf("SlewRemaining half way: got %.9f s, want %.9f s", got, want)
			}
			ft.Advance(dur/2 + 10*time.Second)
			d.sync()
			slewed := d.moved - before - tt.base*1e-6*(d.u-u0)
			if !near(slewed, tt.offset.Seconds(), 2e-9) {
				t.Errorf("the driver slewed %.9f s, want %.9f s", slewed, tt.offset.Seconds())
			}
			if got, _ := c.AppliedAt(ft.Now()); !near(got, d.moved, 1e-12) {
				t.Errorf("AppliedAt: got %.12f s, want %.12f s (what the driver did)", got, d.moved)
			}
		})
	}
}

func TestTimeBaseChoice(t *testing.T) {
	tests := []struct {
		name      string
		base      TimeBase
		reports   *bool // nil: Timers without RateReporter
		corrected bool
	}{
		{"auto, corrected timers", TimeBaseAuto, ptr(true), true},
		{"auto, oscillator timers", TimeBaseAuto, ptr(false), false},
		{"auto, timers that do not say", TimeBaseAuto, nil, true},
		{"forced oscillator", TimeBaseOscillator, ptr(true), false},
		{"forced corrected", TimeBaseCorrected, ptr(false), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := newFakeTimers()
			var timers Timers = silentTimers{ft}
			if tt.reports != nil {
				ft.corrected = *tt.reports
				timers = ft
			}
			c, err := NewClock(&fakeDriver{ft: ft, max: 500, last: ft.now}, ClockOptions{Timers: timers, TimeBase: tt.base, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.CorrectedTimeBase(); got != tt.corrected {
				t.Errorf("CorrectedTimeBase: got %v, want %v", got, tt.corrected)
			}
		})
	}
}

// silentTimers hides fakeTimers' RateReporter.
type silentTimers struct{ ft *fakeTimers }

func (s silentTimers) Now() time.Time                                  { return s.ft.Now() }
func (s silentTimers) AfterFunc(d time.Duration, f func()) func() bool { return s.ft.AfterFunc(d, f) }

func ptr[T any](v T) *T { return &v }

// A slew whose timer fires late has run too long; the overshoot, known
// from the Timers' clock, is taken back by a slow slew, so the clock lands
// where it was meant to (within what the second timer's lateness costs at
// 500 ppm).
func TestLateSlewEndIsTakenBack(t *testing.T) {
	for name, tb := range map[string]TimeBase{"oscillator timers": TimeBaseOscillator, "corrected timers": TimeBaseCorrected} {
		t.Run(name, func(t *testing.T) {
			c, d, ft, _ := newTestClock(t, 83333.333, ClockOptions{TimeBase: tb})
			lateTimers := &lateTimers{fakeTimers: ft, late: 10 * time.Millisecond}
			c.opt.Timers = lateTimers
			if _, err := c.Slew(100*time.Millisecond, 0); err != nil {
				t.Fatal(err)
			}
			ft.Advance(10 * time.Second)
			d.sync()
			// The first timer was 10 ms late (≈ 0.8 ms too far); the
			// correction's timer too, at 500 ppm: 5 µs.
			if !near(d.moved, 0.1, 10e-6) {
				t.Errorf("moved %.6f s, want 0.100000 ± 0.000010 s", d.moved)
			}
			if lateTimers.fired < 2 {
				t.Errorf("%d timers fired, want the slew's and its correction's", lateTimers.fired)
			}
			if got, _ := c.AppliedAt(ft.Now()); !near(got, d.moved, 1e-12) {
				t.Errorf("AppliedAt %.12f s, want what the driver did, %.12f s", got, d.moved)
			}
		})
	}
}

// lateTimers fires every timer late by late.
type lateTimers struct {
	*fakeTimers
	late  time.Duration
	fired int
}

func (l *lateTimers) AfterFunc(d time.Duration, f func()) func() bool {
	return l.fakeTimers.AfterFunc(d+l.late, func() { l.fired++; f() })
}

// A timer that fired for a slew just replaced by a newer one (too late to
// be stopped) must leave the newer slew alone: it ends on its own time.
func TestStaleEndOfSlewTimerIgnored(t *testing.T) {
	c, _, ft, _ := newTestClock(t, 83333, ClockOptions{})
	if _, err := c.Slew(10*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	var stale func()
	for _, tm := range ft.timers {
		stale = tm.f
	}
	ft.Advance(50 * time.Millisecond)
	d, err := c.Slew(5*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	stale() // the first slew's timer, firing as the second begins
	if got := c.SlewRemaining(); got != 5*time.Millisecond {
		t.Errorf("after the stale timer: %v of the new slew left, want all 5ms", got)
	}
	ft.Advance(d)
	if got := c.SlewRemaining(); got != 0 {
		t.Errorf("the new slew's own timer did not end it: %v left", got)
	}
}

// statusDriver is a fakeDriver that takes a sync status with a frequency
// (StatusFrequencySetter), as the privilege-separated engine's does, and
// counts its requests.
type statusDriver struct {
	*fakeDriver
	requests     int
	statuses     []SyncStatus
	withFreq     []bool // whether each status came with a frequency
	failCombined bool   // refuse a status with a frequency
}

func (d *statusDriver) SetFrequency(ppm float64) error {
	d.requests++
	return d.fakeDriver.SetFrequency(ppm)
}
func (d *statusDriver) SetFrequencyBase(ppm, _ float64) error { return d.SetFrequency(ppm) }
func (d *statusDriver) SetSyncStatus(synced bool, maxError, estError time.Duration) error {
	d.requests++
	d.statuses = append(d.statuses, SyncStatus{synced, maxError, estError})
	d.withFreq = append(d.withFreq, false)
	return nil
}
func (d *statusDriver) SetFrequencyBaseStatus(ppm, _ float64, st SyncStatus) error {
	if d.failCombined {
		d.requests++
		return ErrPermission
	}
	if err := d.SetFrequency(ppm); err != nil {
		return err
	}
	d.statuses = append(d.statuses, st)
	d.withFreq = append(d.withFreq, true)
	return nil
}

// Correct moves the clock exactly as SetFrequency then Slew do, in one
// request instead of two; a status reported during the slew goes with
// its end (one request more, not two), and without a slew at once.
func TestCorrectAndStatusWithSlewEnd(t *testing.T) {
	two, d2, ft2, _ := newTestClock(t, 500, ClockOptions{MaxSlewPPM: 500})
	one, d1f, ft1, _ := newTestClock(t, 500, ClockOptions{})
	d1 := &statusDriver{fakeDriver: d1f}
	one.d = d1
	one.opt.MaxSlewPPM = 500

	if _, err := two.SetFrequency(12); err != nil {
		t.Fatal(err)
	}
	dur2, err := two.Slew(40*time.Microsecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, dur1, ferr, serr := one.Correct(12, 40*time.Microsecond, 0)
	if ferr != nil || serr != nil || got != 12 || dur1 != dur2 {
		t.Fatalf("Correct = %v, %v, %v, %v; want 12 ppm, %v (as SetFrequency and Slew)", got, dur1, ferr, serr, dur2)
	}
	if d1.requests != 1 {
		t.Errorf("Correct made %d requests, want 1", d1.requests)
	}
	if err := one.SetSyncStatus(true, 5*time.Millisecond, 20*time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if len(d1.statuses) != 0 {
		t.Error("the status was sent during the slew, not with its end")
	}
	ft1.Advance(time.Second)
	ft2.Advance(time.Second)
	// Held for the slew's 82 ms, the status's maximum error grew as the
	// kernel's would have: 500 ppm of that.
	if d1.requests != 2 || len(d1.statuses) != 1 || !d1.withFreq[0] || d1.statuses[0] != (SyncStatus{true, 5*time.Millisecond + 40983*time.Nanosecond, 20 * time.Microsecond}) {
		t.Errorf("after the slew: %d requests, statuses %+v (with a frequency: %v); want 2, the status with the slew's end", d1.requests, d1.statuses, d1.withFreq)
	}
	a1, _ := one.AppliedAt(ft1.now)
	a2, _ := two.AppliedAt(ft2.now)
	if !near(a1, a2, 1e-15) || !near(d1.moved, d2.moved, 1e-15) || d1.ppm != d2.ppm {
		t.Errorf("Correct applied %v s (driver %v s, %v ppm); SetFrequency and Slew %v s (%v s, %v ppm)", a1, d1.moved, d1.ppm, a2, d2.moved, d2.ppm)
	}
	// No slew in progress: the status goes at once.
	if err := one.SetSyncStatus(false, 0, 0); err != nil {
		t.Fatal(err)
	}
	if d1.requests != 3 || len(d1.statuses) != 2 || d1.withFreq[1] {
		t.Errorf("without a slew: %d requests, with a frequency %v; want the status alone at once", d1.requests, d1.withFreq)
	}
	// A long slew does not hold a status.
	if _, _, ferr, serr := one.Correct(12, 50*time.Millisecond, 0); ferr != nil || serr != nil {
		t.Fatal(ferr, serr)
	}
	if err := one.SetSyncStatus(true, 60*time.Millisecond, time.Millisecond); err != nil || len(d1.statuses) != 3 || d1.withFreq[2] {
		t.Errorf("during a 100 s slew the status was held (%v, %v)", err, d1.withFreq)
	}
	// An unsynchronized status is never held (it is sent once per
	// change, not with every update).
	ft1.Advance(200 * time.Second)
	if _, _, ferr, serr := one.Correct(12, 40*time.Microsecond, 0); ferr != nil || serr != nil {
		t.Fatal(ferr, serr)
	}
	n := len(d1.statuses)
	if err := one.SetSyncStatus(false, 0, 0); err != nil || len(d1.statuses) != n+1 || d1.withFreq[n] {
		t.Errorf("an unsynchronized status during a slew was held (%v, %v)", err, d1.withFreq)
	}
	// A status refused together with the slew's end: both still go,
	// each on its own.
	if err := one.SetSyncStatus(true, 4*time.Millisecond, time.Microsecond); err != nil || len(d1.statuses) != n+1 {
		t.Fatalf("status not held (%v)", err)
	}
	d1.failCombined = true
	ft1.Advance(time.Second)
	if len(d1.statuses) != n+2 || d1.withFreq[n+1] || d1.statuses[n+1].MaxError != 4*time.Millisecond+40983*time.Nanosecond || d1.ppm != 12 {
		t.Errorf("after a refused status with the slew's end: statuses %+v, driver at %v ppm; want the status alone and the base 12 ppm", d1.statuses, d1.ppm)
	}
	// A driver without a status is told so.
	if err := two.SetSyncStatus(true, 0, 0); !errors.Is(err, ErrUnsupported) {
		t.Errorf("SetSyncStatus on a driver without one = %v, want ErrUnsupported", err)
	}
}

// timedDriver ends slews itself, as the privilege-separated parent does:
// any later change of the frequency replaces the end it was to make.
type timedDriver struct {
	*statusDriver
	untils int
	stop   func() bool
}

func (d *timedDriver) stopEnd() {
	if d.stop != nil {
		d.stop()
		d.stop = nil
	}
}
func (d *timedDriver) SetFrequency(ppm float64) error {
	d.stopEnd()
	return d.statusDriver.SetFrequency(ppm)
}
func (d *timedDriver) SetFrequencyBase(ppm, _ float64) error { return d.SetFrequency(ppm) }
func (d *timedDriver) SetFrequencyBaseStatus(ppm, base float64, st SyncStatus) error {
	d.stopEnd()
	return d.statusDriver.SetFrequencyBaseStatus(ppm, base, st)
}
func (d *timedDriver) SetFrequencyUntil(ppm, base float64, dur time.Duration, st *SyncStatus) error {
	d.untils++
	if err := d.SetFrequency(ppm); err != nil {
		return err
	}
	if st != nil {
		d.statuses = append(d.statuses, *st)
		d.withFreq = append(d.withFreq, true)
	}
	d.stop = d.ft.AfterFunc(dur, func() { d.stop = nil; _ = d.fakeDriver.SetFrequency(base) })
	return nil
}

// A driver that ends slews itself gets one request per routine
// correction, and the clock moves and is accounted exactly as when this
// layer ends the slew; a synchronized status waits for the next request;
// a slew replaced before its end leaves no trace of that end; a fast slew
// is still ended by this layer, which sees how late its timer was.
func TestDriverEndsRoutineSlews(t *testing.T) {
	ref, dref, ftr, _ := newTestClock(t, 500, ClockOptions{MaxSlewPPM: 500})
	c, df, ft, _ := newTestClock(t, 500, ClockOptions{MaxSlewPPM: 500})
	d := &timedDriver{statusDriver: &statusDriver{fakeDriver: df}}
	c.d = d
	check := func(when string) {
		t.Helper()
		d.sync()
		dref.sync()
		a, _ := c.AppliedAt(ft.now)
		b, _ := ref.AppliedAt(ftr.now)
		if !near(a, b, 1e-15) || !near(d.moved, dref.moved, 1e-15) || !near(a, d.moved, 1e-15) || d.ppm != dref.ppm {
			t.Errorf("%s: applied %v s (driver moved %v s, at %v ppm); this layer ending it: %v s (%v s, %v ppm)", when, a, d.moved, d.ppm, b, dref.moved, dref.ppm)
		}
	}
	both := func(ppm float64, off time.Duration) {
		t.Helper()
		if _, _, ferr, serr := c.Correct(ppm, off, time.Second); ferr != nil || serr != nil {
			t.Fatal(ferr, serr)
		}
		if _, _, ferr, serr := ref.Correct(ppm, off, time.Second); ferr != nil || serr != nil {
			t.Fatal(ferr, serr)
		}
	}
	advance := func(dur time.Duration) { ft.Advance(dur); ftr.Advance(dur) }

	both(12, 300*time.Microsecond)
	if d.requests != 1 || d.untils != 1 {
		t.Fatalf("a routine correction: %d requests (%d ending by the driver), want 1", d.requests, d.untils)
	}
	advance(300 * time.Millisecond)
	check("during the slew")
	// The first synchronized status goes at once (it ends the parent's
	// first-step window); later ones wait for the next update's request.
	if err := c.SetSyncStatus(true, 6*time.Millisecond, 20*time.Microsecond); err != nil || d.requests != 2 || len(d.statuses) != 1 || d.withFreq[0] {
		t.Errorf("the first synchronized status during the slew: %v, %d requests, %+v; want it sent alone at once", err, d.requests, d.statuses)
	}
	if err := c.SetSyncStatus(true, 5*time.Millisecond, 20*time.Microsecond); err != nil || len(d.statuses) != 1 {
		t.Errorf("a synchronized status during the slew: %v, %d sent; want it held", err, len(d.statuses))
	}
	advance(2 * time.Second)
	check("after the slew")
	if d.requests != 2 || d.ppm != 12 {
		t.Errorf("after the slew: %d requests, driver at %v ppm; want the driver alone back at 12 ppm", d.requests, d.ppm)
	}
	// The next correction carries the held status, its maximum error
	// grown by 500 ppm of the 2 s it waited; once only.
	both(12.5, -200*time.Microsecond)
	if d.requests != 3 || len(d.statuses) != 2 || !d.withFreq[1] || d.statuses[1] != (SyncStatus{true, 6 * time.Millisecond, 20 * time.Microsecond}) {
		t.Errorf("next correction: %d requests, statuses %+v; want the held status with it, 6 ms", d.requests, d.statuses)
	}
	advance(2 * time.Second)
	both(12.5, 100*time.Microsecond)
	if len(d.statuses) != 2 {
		t.Errorf("the held status was sent again: %+v", d.statuses)
	}
	// Once the driver's end has passed, a status still waits for the
	// next update's request (a slew of a fraction of a microsecond ends
	// before the update's status is given): the update is one request.
	advance(2 * time.Second)
	if err := c.SetSyncStatus(true, 3*time.Millisecond, 20*time.Microsecond); err != nil || len(d.statuses) != 2 || d.requests != 4 {
		t.Errorf("a status after the driver ended the slew: %v, %d requests, %+v; want it held", err, d.requests, d.statuses)
	}
	// Replaced halfway: the first end never happens. The held status
	// goes with the first of these corrections, grown for its 200 ms.
	advance(200 * time.Millisecond)
	both(12.5, 150*time.Microsecond)
	if want := (SyncStatus{true, 3*time.Millisecond + 100*time.Microsecond, 20 * time.Microsecond}); len(d.statuses) != 3 || !d.withFreq[2] || d.statuses[2] != want {
		t.Errorf("the correction after a held status: %+v; want %+v with it", d.statuses, want)
	}
	advance(5 * time.Second)
	check("after a slew replaced halfway")
	// After the driver's end, a new frequency is the base alone.
	if _, err := c.SetFrequency(11); err != nil {
		t.Fatal(err)
	}
	if _, err := ref.SetFrequency(11); err != nil {
		t.Fatal(err)
	}
	advance(time.Second)
	check("a frequency after the slew")
	if d.ppm != 11 {
		t.Errorf("driver at %v ppm, want 11 (no slew left over)", d.ppm)
	}
	// After a change that is not a slew the driver ends, a status goes
	// at once again.
	if err := c.SetSyncStatus(true, 2*time.Millisecond, 20*time.Microsecond); err != nil || len(d.statuses) != 4 || d.withFreq[3] {
		t.Errorf("a status after a plain frequency: %v, %+v; want it sent alone at once", err, d.statuses)
	}
	// And after a step that follows a slew the driver ends.
	if _, _, ferr, serr := c.Correct(11, 100*time.Microsecond, time.Second); ferr != nil || serr != nil {
		t.Fatal(ferr, serr)
	}
	ft.Advance(2 * time.Second)
	if err := c.Step(time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := c.SetSyncStatus(true, 2*time.Millisecond, 20*time.Microsecond); err != nil || len(d.statuses) != 5 || d.withFreq[4] {
		t.Errorf("a status after a step: %v, %+v; want it sent alone at once", err, d.statuses)
	}
	// A fast slew is this layer's to end.
	fast, ff, fft, _ := newTestClock(t, 100000, ClockOptions{MaxSlewPPM: 83333})
	fd := &timedDriver{statusDriver: &statusDriver{fakeDriver: ff}}
	fast.d = fd
	if _, dur, ferr, serr := fast.Correct(11, 20*time.Millisecond, 0); ferr != nil || serr != nil || fd.untils != 0 || dur > time.Second {
		t.Errorf("a 20 ms correction: %v, %v, %v; %d left to the driver to end; want a fast slew this layer ends", dur, ferr, serr, fd.untils)
	}
	fft.Advance(2 * time.Second)
	fd.sync()
	if a, _ := fast.AppliedAt(fft.now); !near(a, fd.moved, 1e-12) || fd.ppm != 11 {
		t.Errorf("after a fast slew: applied %v s, driver moved %v s at %v ppm", a, fd.moved, fd.ppm)
	}
}

// slowDriver takes its time, as a request to the privileged parent does:
// its calls take the times of took (the last one repeats), and each
// change is made halfway through its call, or a tenth in with early (as
// by a parent whose reply is heard late). ago is how long before the
// call's end the last change was made.
type slowDriver struct {
	*fakeDriver
	took  []time.Duration
	early bool
	ago   time.Duration
}

func (d *slowDriver) SetFrequency(ppm float64) error {
	took := d.took[0]
	if len(d.took) > 1 {
		d.took = d.took[1:]
	}
	before := took / 2
	if d.early {
		before = took / 10
	}
	d.ft.now = d.ft.now.Add(before)
	err := d.fakeDriver.SetFrequency(ppm)
	d.ago = took - before
	d.ft.now = d.ft.now.Add(d.ago)
	return err
}

// A change is accounted from when it took effect, halfway through the
// driver's call, not from when it was asked for; the end of a fast slew
// expects its own request to take as long as the last one. A fast slew
// through a driver taking 4 ms per call ends exact; one whose end takes
// 5 ms against its start's 1 ms is accounted to the nanosecond, and off
// by what the end's extra time moved, within a µs (the take-back
// slew's own calls are slow too; from the time of asking, the
// accounting would be 2 ms × 83,333 ppm = 167 µs off, as in a VM start).
func TestSlowDriverAccountedHalfway(t *testing.T) {
	for _, tt := range []struct {
		name  string
		took  []time.Duration
		moved float64
	}{
		{"4 ms each", []time.Duration{4 * time.Millisecond}, 0.05},
		{"1 ms, then 5 ms", []time.Duration{time.Millisecond, 5 * time.Millisecond}, 0.05 + 2e-3*0.083333},
	} {
		c, df, ft, _ := newTestClock(t, 100000, ClockOptions{MaxSlewPPM: 83333})
		d := &slowDriver{fakeDriver: df, took: tt.took}
		c.d = d
		if _, err := c.Slew(50*time.Millisecond, 0); err != nil {
			t.Fatal(err)
		}
		ft.Advance(3 * time.Second)
		d.sync()
		a, _ := c.AppliedAt(ft.now)
		if !near(a, d.moved, 1e-9) || math.Abs(d.moved-tt.moved) > 1e-6 {
			t.Errorf("%s: accounted %v s, the driver moved %v s; want both %v s", tt.name, a, d.moved, tt.moved)
		}
	}
}

// stampDriver is an early slowDriver that says when it made its change
// (as a ChangeStamper), plus skew: a stamp from another clock.
type stampDriver struct {
	*slowDriver
	stamped bool // SinceChange's answer; false: the Clock must guess
	skew    time.Duration
}

func (d *stampDriver) SinceChange() (time.Duration, bool) { return d.ago + d.skew, d.stamped }

// A driver that says when its change took effect (the privilege-separated
// engine's, from the parent's stamp) is believed: a fast slew whose start
// is heard 40 ms after asking, made 4 ms in, is accounted to the
// nanosecond. Without the stamp the Clock guesses halfway, 16 ms late
// at 83,333 ppm: over a millisecond wrong, so the check can fail. A
// stamp outside the call is not believed: the Clock guesses halfway.
func TestChangeStampAccounted(t *testing.T) {
	for _, stamped := range []bool{true, false} {
		c, df, ft, _ := newTestClock(t, 100000, ClockOptions{MaxSlewPPM: 83333})
		d := &stampDriver{slowDriver: &slowDriver{fakeDriver: df, took: []time.Duration{40 * time.Millisecond, time.Millisecond}, early: true}, stamped: stamped}
		c.d = d
		if _, err := c.Slew(50*time.Millisecond, 0); err != nil {
			t.Fatal(err)
		}
		ft.Advance(3 * time.Second)
		d.sync()
		a, _ := c.AppliedAt(ft.now)
		if stamped && !near(a, d.moved, 1e-9) {
			t.Errorf("stamped: accounted %v s, the driver moved %v s", a, d.moved)
		}
		if !stamped && near(a, d.moved, 1e-3) {
			t.Errorf("unstamped: accounted %v s, the driver moved %v s: the halfway guess should be over 1 ms off here", a, d.moved)
		}
	}
	// Stamps before the request and after its reply: the halfway guess,
	// as without one (20 ms into the first call, 0.5 ms into the second).
	for _, skew := range []time.Duration{time.Second, -time.Second} {
		c, df, _, _ := newTestClock(t, 100000, ClockOptions{MaxSlewPPM: 83333})
		d := &stampDriver{slowDriver: &slowDriver{fakeDriver: df, took: []time.Duration{40 * time.Millisecond}, early: true}, stamped: true, skew: skew}
		c.d = d
		if _, err := c.Slew(50*time.Millisecond, 0); err != nil {
			t.Fatal(err)
		}
		if c.lastLag != 20*time.Millisecond {
			t.Errorf("stamp off by %v: the change put %v after asking, want the guess 20ms", skew, c.lastLag)
		}
	}
}
