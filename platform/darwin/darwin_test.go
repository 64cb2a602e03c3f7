package darwin

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/timesync/timesync/platform"
)

var (
	_ platform.Driver             = (*Driver)(nil)
	_ platform.KernelSlewer       = (*Driver)(nil)
	_ platform.SyncStatusReporter = (*Driver)(nil)
)

func TestNewMakesNoSystemCall(t *testing.T) {
	m := newFakeMac(t)
	d := m.driver()
	if len(m.adjtimes) != 0 || m.settimes != 0 || m.pendingTimers() != 0 {
		t.Errorf("NewWithOps made calls: adjtime %v, settimeofday %d, timers %d", m.adjtimes, m.settimes, m.pendingTimers())
	}
	if f, _ := d.Frequency(); f != 0 {
		t.Errorf("Frequency() = %v, want 0", f)
	}
	if _, err := NewWithOps(Ops{}); err == nil {
		t.Error("NewWithOps without system calls succeeded")
	}
}

// The drift-removal loop makes the system clock follow the frequency
// correction: the error swings within ±|freq|·interval/2 and averages zero
// (to 1% of that), over an hour, up to the largest frequency the driver
// accepts.
func TestFrequencyTracking(t *testing.T) {
	for _, ppm := range []float64{100, -100, 0.5, 1000, -2999, MaxFrequencyPPM} {
		m := newFakeMac(t)
		d := m.driver()
		start := m.mono
		if err := d.SetFrequency(ppm); err != nil {
			t.Fatal(err)
		}
		if got, _ := d.Frequency(); got != ppm {
			t.Errorf("Frequency() = %v, want %v", got, ppm)
		}
		bound := math.Abs(ppm)*1e-6*driftInterval.Seconds()/2 + 2e-6
		var worst, sum float64
		n := 0
		m.advance(time.Hour, 100*time.Millisecond, func() {
			want := ppm * 1e-6 * m.mono.Sub(start).Seconds()
			e := m.offset - want
			worst = math.Max(worst, math.Abs(e))
			sum += e
			n++
		})
		t.Logf("%v ppm: worst error %.1f µs, mean %.2f µs", ppm, worst*1e6, sum/float64(n)*1e6)
		if worst > bound {
			t.Errorf("%v ppm: worst error %.1f µs, want within %.1f µs", ppm, worst*1e6, bound*1e6)
		}
		meanBound := math.Max(2e-6, bound/100)
		if mean := sum / float64(n); math.Abs(mean) > meanBound {
			t.Errorf("%v ppm: mean error %.2f µs, want within %.2f µs", ppm, mean*1e6, meanBound*1e6)
		}
		if got := len(m.adjtimes); got < 2*900 {
			t.Errorf("%v ppm: %d adjtime calls in an hour, want the loop every 4 s", ppm, got)
		}
	}
}

func TestFrequencyChanges(t *testing.T) {
	m := newFakeMac(t)
	d := m.driver()
	want := 0.0
	for _, step := range []struct {
		ppm float64
		dur time.Duration
	}{{50, 100 * time.Second}, {-200, 37 * time.Second}, {0, 20 * time.Second}, {2500, 61 * time.Second}, {0, 60 * time.Second}} {
		if err := d.SetFrequency(step.ppm); err != nil {
			t.Fatal(err)
		}
		m.advance(step.dur, 0, nil)
		want += step.ppm * 1e-6 * step.dur.Seconds()
	}
	// The last frequency is 0: everything has been handed over and, a
	// minute later, applied.
	if math.Abs(m.offset-want) > 2e-6 {
		t.Errorf("clock moved %.6f s, want %.6f s", m.offset, want)
	}
	if n := m.pendingTimers(); n != 0 {
		t.Errorf("loop still scheduled (%d timers) at 0 ppm", n)
	}
}

func TestSetFrequencyRefuses(t *testing.T) {
	m := newFakeMac(t)
	d := m.driver()
	for _, ppm := range []float64{3000.1, -5000, math.NaN()} {
		if err := d.SetFrequency(ppm); !errors.Is(err, platform.ErrOutOfRange) {
			t.Errorf("SetFrequency(%v) = %v, want ErrOutOfRange", ppm, err)
		}
	}
	if len(m.adjtimes) != 0 {
		t.Errorf("refused requests called adjtime %v", m.adjtimes)
	}
}

func TestPermission(t *testing.T) {
	m := newFakeMac(t)
	m.privileged = false
	d := m.driver()
	err := d.SetFrequency(10)
	if !errors.Is(err, platform.ErrPermission) || !strings.Contains(err.Error(), "adjtime") || !strings.Contains(err.Error(), "root") {
		t.Errorf("SetFrequency as a user = %v, want ErrPermission naming adjtime and root", err)
	}
	if err := d.Step(time.Second); !errors.Is(err, platform.ErrPermission) {
		t.Errorf("Step as a user = %v, want ErrPermission", err)
	}
	if _, err := d.KernelSlew(time.Millisecond); !errors.Is(err, platform.ErrPermission) {
		t.Errorf("KernelSlew as a user = %v, want ErrPermission", err)
	}
	if m.offset != 0 {
		t.Errorf("clock moved by %v", m.offset)
	}
}

func TestStep(t *testing.T) {
	for _, off := range []time.Duration{2500000300 * time.Nanosecond, -1500 * time.Millisecond, -time.Nanosecond * 700, 36 * time.Hour} {
		m := newFakeMac(t)
		m.offset = 0.000000250 // system clock 250 ns ahead of true time
		d := m.driver()
		before := m.offset
		if err := d.Step(off); err != nil {
			t.Fatalf("Step(%v): %v", off, err)
		}
		if m.settimes != 1 {
			t.Fatalf("settimeofday called %d times, want 1", m.settimes)
		}
		// settimeofday is µs; gettimeofday truncated the 250 ns; the
		// remainder is handed to adjtime with the next µs.
		m.advance(10*time.Second, 0, nil)
		if got := m.offset - before; math.Abs(got-off.Seconds()) > 1e-6 {
			t.Errorf("Step(%v) moved the clock %.9f s", off, got)
		}
	}
}

// A step in the middle of a frequency correction neither loses nor
// duplicates the correction.
func TestStepDuringFrequency(t *testing.T) {
	m := newFakeMac(t)
	d := m.driver()
	start := m.mono
	if err := d.SetFrequency(800); err != nil {
		t.Fatal(err)
	}
	m.advance(10*time.Second+time.Second/3, 0, nil)
	if err := d.Step(-3 * time.Second); err != nil {
		t.Fatal(err)
	}
	m.advance(100*time.Second, 0, nil)
	if err := d.SetFrequency(0); err != nil {
		t.Fatal(err)
	}
	m.advance(10*time.Second, 0, nil)
	want := -3 + 800e-6*(110*time.Second+time.Second/3).Seconds()
	if math.Abs(m.offset-want) > 2e-6 {
		t.Errorf("clock moved %.6f s, want %.6f s (elapsed %v)", m.offset, want, m.mono.Sub(start))
	}
}

func TestKernelSlew(t *testing.T) {
	tests := []struct {
		offset  time.Duration
		wantDur time.Duration
	}{
		{500 * time.Millisecond, 125 * time.Second},
		{-time.Millisecond, 250 * time.Millisecond},
		{time.Second, 250 * time.Second},
		{-2 * time.Second, 50 * time.Second},
	}
	for _, tt := range tests {
		m := newFakeMac(t)
		d := m.driver()
		dur, err := d.KernelSlew(tt.offset)
		if err != nil {
			t.Fatal(err)
		}
		if dur != tt.wantDur {
			t.Errorf("KernelSlew(%v) = %v, want %v", tt.offset, dur, tt.wantDur)
		}
		if n := m.pendingTimers(); n != 0 {
			t.Errorf("KernelSlew at 0 ppm scheduled the loop (%d timers): --once must be able to exit", n)
		}
		if last := m.adjtimes[len(m.adjtimes)-1]; last != tt.offset {
			t.Errorf("last adjtime(%v), want adjtime(%v)", last, tt.offset)
		}
		m.advance(dur, 0, nil)
		if math.Abs(m.offset-tt.offset.Seconds()) > 1e-9 {
			t.Errorf("after %v the clock moved %.9f s, want %v", dur, m.offset, tt.offset)
		}
	}
}

func TestKernelSlewRefuses(t *testing.T) {
	m := newFakeMac(t)
	d := m.driver()
	if _, err := d.KernelSlew(MaxKernelSlew + time.Microsecond); !errors.Is(err, platform.ErrOutOfRange) {
		t.Errorf("KernelSlew beyond the limit = %v, want ErrOutOfRange", err)
	}
	if len(m.adjtimes) != 0 {
		t.Errorf("adjtime called: %v", m.adjtimes)
	}
}

// A kernel slew taken back by the loop before it finished is re-handed,
// not lost.
func TestKernelSlewDuringFrequency(t *testing.T) {
	m := newFakeMac(t)
	d := m.driver()
	if err := d.SetFrequency(-50); err != nil {
		t.Fatal(err)
	}
	m.advance(2*time.Second, 0, nil)
	if _, err := d.KernelSlew(300 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	m.advance(200*time.Second, 0, nil)
	if err := d.SetFrequency(0); err != nil {
		t.Fatal(err)
	}
	m.advance(10*time.Second, 0, nil)
	want := 0.3 - 50e-6*202
	if math.Abs(m.offset-want) > 2e-6 {
		t.Errorf("clock moved %.6f s, want %.6f s", m.offset, want)
	}
}

func TestSyncStatusInterval(t *testing.T) {
	m := newFakeMac(t)
	d := m.driver()
	if err := d.SetFrequency(1000); err != nil {
		t.Fatal(err)
	}
	// Synchronized to 100 ms at 1000 ppm: 0.5·100ms/1000ppm = 50 s,
	// taken at the end of the running 4 s interval.
	if err := d.SetSyncStatus(true, time.Second, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := d.DriftInterval(); got < 50*time.Second-time.Millisecond || got > 50*time.Second {
		t.Errorf("DriftInterval() = %v, want 50s", got)
	}
	m.advance(4*time.Second, 0, nil)
	before := len(m.adjtimes)
	m.advance(49*time.Second, 0, nil)
	if got := len(m.adjtimes) - before; got != 0 {
		t.Errorf("%d adjtime calls within a 50 s interval, want 0", got)
	}
	// Synchronized to 1 ms: 0.5 s, the minimum, 100 times shorter than
	// the running 50 s: the loop restarts at once.
	before = len(m.adjtimes)
	if err := d.SetSyncStatus(true, 10*time.Millisecond, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := d.DriftInterval(); got != 500*time.Millisecond {
		t.Errorf("DriftInterval() = %v, want 500ms", got)
	}
	if len(m.adjtimes) == before {
		t.Error("loop did not restart for a much shorter interval")
	}
	before = len(m.adjtimes)
	m.advance(10*time.Second, 0, nil)
	if got := len(m.adjtimes) - before; got != 2*20 {
		t.Errorf("%d adjtime calls in 10 s, want 40 (two every 0.5 s)", got)
	}
	if err := d.SetSyncStatus(false, 16*time.Second, 16*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := d.DriftInterval(); got != driftInterval {
		t.Errorf("DriftInterval() unsynchronized = %v, want %v", got, driftInterval)
	}
	if err := d.SetSyncStatus(true, -1, 0); !errors.Is(err, platform.ErrOutOfRange) {
		t.Errorf("SetSyncStatus(negative) = %v, want ErrOutOfRange", err)
	}
}

func TestCloseStopsLoop(t *testing.T) {
	m := newFakeMac(t)
	d := m.driver()
	if err := d.SetFrequency(100); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	n := len(m.adjtimes)
	m.advance(time.Minute, 0, nil)
	if len(m.adjtimes) != n {
		t.Errorf("loop kept calling adjtime after Close")
	}
}

// The shared layer's slew on macOS: a temporary frequency change within
// what the loop sustains.
func TestClockSlew(t *testing.T) {
	m := newFakeMac(t)
	d := m.driver()
	// macOS timers (mach_absolute_time) count the oscillator's ticks.
	c, err := platform.NewClock(d, platform.ClockOptions{Timers: m, TimeBase: platform.TimeBaseOscillator})
	if err != nil {
		t.Fatal(err)
	}
	dur, err := c.Slew(-600*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := 200 * time.Second; dur != want {
		t.Errorf("Slew(-0.6s) takes %v, want %v (at %d ppm)", dur, want, MaxFrequencyPPM)
	}
	m.advance(dur+10*time.Second, 0, nil)
	if math.Abs(m.offset+0.6) > 2e-6 {
		t.Errorf("clock moved %.6f s, want -0.6 s", m.offset)
	}
	if f, _ := d.Frequency(); f != 0 {
		t.Errorf("frequency after the slew %v, want 0", f)
	}
}
