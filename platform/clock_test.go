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

// fakeTimers is virtual time with timers that fire on Advance.
type fakeTimers struct {
	now    time.Time
	seq    int
	timers map[int]*fakeTimer
}

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
// compare what the driver did with what Clock accounted for.
type fakeDriver struct {
	ft       *fakeTimers
	max      float64
	ppm      float64
	last     time.Time
	moved    float64 // integral of ppm plus steps, seconds
	steps    []time.Duration
	failFreq bool
}

func (d *fakeDriver) sync() {
	d.moved += d.ppm * 1e-6 * d.ft.now.Sub(d.last).Seconds()
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
	c, d, ft, logs := newTestClock(t, 83333.333, ClockOptions{})
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
	want := -100e-6*11 + 5e-3 + 50e-6*11 - 1.5
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
