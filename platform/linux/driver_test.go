//go:build linux

package linux

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/timesync/timesync/platform"
)

var (
	_ platform.Driver             = (*Driver)(nil)
	_ platform.SyncStatusReporter = (*Driver)(nil)
	_ platform.KernelSlewer       = (*Driver)(nil)
)

func newTestDriver(t *testing.T, k *fakeKernel) *Driver {
	t.Helper()
	d, err := k.driver()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

func TestNewOnlyReads(t *testing.T) {
	k := newFakeKernel()
	k.tick = 10003
	d := newTestDriver(t, k)
	if m := k.mutations(); len(m) != 0 {
		t.Errorf("New sent mutating requests %+v", m)
	}
	if len(k.calls) != 1 {
		t.Errorf("New made %d adjtimex calls, want 1", len(k.calls))
	}
	if d.UserHZ() != 100 {
		t.Errorf("UserHZ() = %d, want 100", d.UserHZ())
	}
}

func TestNewReadError(t *testing.T) {
	k := newFakeKernel()
	k.failModes = map[uint32]error{0: unix.EFAULT}
	if _, err := k.driver(); !errors.Is(err, unix.EFAULT) || !strings.Contains(err.Error(), "adjtimex read") {
		t.Errorf("New with failing adjtimex = %v, want EFAULT saying adjtimex read", err)
	}
}

func TestFrequencyCombinesTickAndFreq(t *testing.T) {
	tests := []struct {
		tick, freq int64
		want       float64
	}{
		{10000, 0, 0},
		{10005, -20 * 65536, 480},
		{9990, 32768, -999.5},
		{10833, 33 * 65536, 83333},
	}
	for _, tt := range tests {
		k := newFakeKernel()
		k.tick, k.freq = tt.tick, tt.freq
		d := newTestDriver(t, k)
		got, err := d.Frequency()
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("Frequency() with tick %d freq %d = %v, want %v", tt.tick, tt.freq, got, tt.want)
		}
	}
}

func TestSetFrequency(t *testing.T) {
	tests := []struct {
		ppm      float64
		wantTick int64
		wantFreq int64
	}{
		{0, 10000, 0},
		{12.5, 10000, 12.5 * 65536},
		{-499.9, 9995, int64(math.Round(0.1 * 65536))},
		{5000, 10050, 0},
		{-5000.25, 9950, -16384},
		{MaxFrequencyPPM, 10833, int64(math.Round(33.333 * 65536))},
		{-MaxFrequencyPPM, 9167, int64(math.Round(-33.333 * 65536))},
	}
	for _, tt := range tests {
		k := newFakeKernel()
		d := newTestDriver(t, k)
		if err := d.SetFrequency(tt.ppm); err != nil {
			t.Fatalf("SetFrequency(%v): %v", tt.ppm, err)
		}
		m := k.mutations()
		if len(m) != 1 {
			t.Fatalf("SetFrequency(%v) sent %d mutating requests, want 1: %+v", tt.ppm, len(m), m)
		}
		if m[0].Modes != unix.ADJ_TICK|unix.ADJ_FREQUENCY || int64(m[0].Tick) != tt.wantTick || int64(m[0].Freq) != tt.wantFreq {
			t.Errorf("SetFrequency(%v) sent modes %s tick %d freq %d, want ADJ_FREQUENCY|ADJ_TICK tick %d freq %d",
				tt.ppm, modeNames(m[0].Modes), m[0].Tick, m[0].Freq, tt.wantTick, tt.wantFreq)
		}
		got, err := d.Frequency()
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tt.ppm) >= 0.001 {
			t.Errorf("Frequency() after SetFrequency(%v) = %v", tt.ppm, got)
		}
	}
}

// Successive settings near a tick boundary keep the tick (hysteresis) and
// always read back what was set.
func TestSetFrequencySequence(t *testing.T) {
	k := newFakeKernel()
	d := newTestDriver(t, k)
	for _, ppm := range []float64{140, 160, 140, 260, 240, -30, -170, 3.25} {
		if err := d.SetFrequency(ppm); err != nil {
			t.Fatalf("SetFrequency(%v): %v", ppm, err)
		}
		got, err := d.Frequency()
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-ppm) >= 0.001 {
			t.Errorf("Frequency() after SetFrequency(%v) = %v (tick %d, freq %d)", ppm, got, k.tick, k.freq)
		}
	}
	// A tick next to the current one is kept (140 from 10000, 140 and 260
	// from 10002); two ticks away it moves (160, -30, -170, 3.25).
	var ticks []int64
	for _, m := range k.mutations() {
		ticks = append(ticks, int64(m.Tick))
	}
	want := []int64{10000, 10002, 10002, 10002, 10002, 10000, 9998, 10000}
	for i := range want {
		if ticks[i] != want[i] {
			t.Errorf("ticks sent = %v, want %v", ticks, want)
			break
		}
	}
}

func TestSetFrequencyRefuses(t *testing.T) {
	for _, ppm := range []float64{83334, -83334, math.NaN(), math.Inf(-1)} {
		k := newFakeKernel()
		d := newTestDriver(t, k)
		if err := d.SetFrequency(ppm); !errors.Is(err, platform.ErrOutOfRange) {
			t.Errorf("SetFrequency(%v) = %v, want ErrOutOfRange", ppm, err)
		}
		if m := k.mutations(); len(m) != 0 {
			t.Errorf("SetFrequency(%v) sent %+v", ppm, m)
		}
	}
}

func TestSetFrequencyPermission(t *testing.T) {
	k := newFakeKernel()
	k.privileged = false
	d := newTestDriver(t, k)
	err := d.SetFrequency(10)
	if !errors.Is(err, platform.ErrPermission) || !errors.Is(err, unix.EPERM) {
		t.Fatalf("SetFrequency without CAP_SYS_TIME = %v, want ErrPermission wrapping EPERM", err)
	}
	for _, want := range []string{"adjtimex ADJ_FREQUENCY|ADJ_TICK", "CAP_SYS_TIME"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestSetFrequencyTakesOverKernelPLL(t *testing.T) {
	k := newFakeKernel()
	k.status = unix.STA_PLL | unix.STA_INS | unix.STA_NANO
	k.offset = 123456 // ns, left by another daemon
	d := newTestDriver(t, k)
	if err := d.SetFrequency(-20); err != nil {
		t.Fatal(err)
	}
	m := k.mutations()
	if len(m) != 3 {
		t.Fatalf("sent %d mutating requests, want 3 (reset offset, PLL off, frequency): %+v", len(m), m)
	}
	if m[0].Modes != unix.ADJ_OFFSET|unix.ADJ_STATUS || m[0].Offset != 0 || m[0].Status&unix.STA_PLL == 0 {
		t.Errorf("first request %s status 0x%x offset %d, want ADJ_OFFSET|ADJ_STATUS with STA_PLL and offset 0",
			modeNames(m[0].Modes), m[0].Status, m[0].Offset)
	}
	if m[1].Modes != unix.ADJ_STATUS || m[1].Status&staKernelDiscipline != 0 || m[1].Status&unix.STA_INS == 0 {
		t.Errorf("second request %s status 0x%x, want ADJ_STATUS without PLL/FLL/PPS bits, STA_INS kept", modeNames(m[1].Modes), m[1].Status)
	}
	if k.offset != 0 || k.status&unix.STA_PLL != 0 {
		t.Errorf("kernel left with offset %d status 0x%x, want offset 0 and STA_PLL clear", k.offset, k.status)
	}
	if got, _ := d.Frequency(); math.Abs(got+20) > 0.001 {
		t.Errorf("Frequency() = %v, want -20", got)
	}
	// Once only.
	n := len(k.mutations())
	if err := d.SetFrequency(-21); err != nil {
		t.Fatal(err)
	}
	if got := len(k.mutations()) - n; got != 1 {
		t.Errorf("second SetFrequency sent %d mutating requests, want 1", got)
	}
}

func TestStep(t *testing.T) {
	tests := []struct {
		offset    time.Duration
		sec, nsec int64
	}{
		{2500300 * time.Microsecond, 2, 500300000},
		{-2500300 * time.Microsecond, -3, 499700000},
		{-250 * time.Millisecond, -1, 750000000},
		{-time.Nanosecond, -1, 999999999},
		{-time.Second, -1, 0},
		{time.Nanosecond, 0, 1},
		{-36 * time.Hour, -129600, 0},
	}
	for _, tt := range tests {
		k := newFakeKernel()
		d := newTestDriver(t, k)
		before := k.realtime
		if err := d.Step(tt.offset); err != nil {
			t.Fatalf("Step(%v): %v", tt.offset, err)
		}
		m := k.mutations()
		if len(m) != 1 || m[0].Modes != unix.ADJ_SETOFFSET|unix.ADJ_NANO {
			t.Fatalf("Step(%v) sent %+v, want one ADJ_SETOFFSET|ADJ_NANO", tt.offset, m)
		}
		if int64(m[0].Time.Sec) != tt.sec || int64(m[0].Time.Usec) != tt.nsec {
			t.Errorf("Step(%v) sent time %d s %d ns, want %d s %d ns", tt.offset, m[0].Time.Sec, m[0].Time.Usec, tt.sec, tt.nsec)
		}
		if got := time.Duration(k.realtime - before); got != tt.offset {
			t.Errorf("Step(%v) moved the clock by %v", tt.offset, got)
		}
		if k.settimes != 0 {
			t.Errorf("Step(%v) used clock_settime with ADJ_SETOFFSET available", tt.offset)
		}
	}
}

// The fake kernel really rejects what the driver must never send: a
// negative or oversized nanosecond field.
func TestFakeKernelRejectsUnnormalisedOffset(t *testing.T) {
	k := newFakeKernel()
	for _, usec := range []int64{-250000000, 1e9} {
		tx := unix.Timex{Modes: unix.ADJ_SETOFFSET | unix.ADJ_NANO}
		setInt(&tx.Time.Usec, usec)
		if _, err := k.adjtimex(&tx); !errors.Is(err, unix.EINVAL) {
			t.Errorf("fake kernel accepted nanoseconds %d: %v", usec, err)
		}
	}
	tx := unix.Timex{Modes: unix.ADJ_TICK, Tick: 11001}
	if _, err := k.adjtimex(&tx); !errors.Is(err, unix.EINVAL) {
		t.Errorf("fake kernel accepted tick 11001: %v", err)
	}
}

func TestStepFallsBackToSettime(t *testing.T) {
	k := newFakeKernel()
	k.noSetOffset = true
	k.realtime = 1700000000*int64(time.Second) + 100
	d := newTestDriver(t, k)
	if err := d.Step(-200 * time.Nanosecond); err != nil {
		t.Fatalf("Step: %v", err)
	}
	if want := 1700000000*int64(time.Second) - 100; k.realtime != want {
		t.Errorf("clock after Step(-200ns) = %d, want %d", k.realtime, want)
	}
	if k.settimes != 1 {
		t.Errorf("clock_settime called %d times, want 1", k.settimes)
	}
	// From now on, straight to clock_settime.
	n := len(k.mutations())
	if err := d.Step(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := len(k.mutations()) - n; got != 0 {
		t.Errorf("second Step retried ADJ_SETOFFSET (%d adjtimex requests)", got)
	}
	if want := 1700000003*int64(time.Second) - 100; k.realtime != want {
		t.Errorf("clock after Step(3s) = %d, want %d", k.realtime, want)
	}
}

func TestStepEINVALBothWays(t *testing.T) {
	// ADJ_SETOFFSET refused and clock_settime refuses too (the result
	// would be before 1970): an error, and ADJ_SETOFFSET is not given up.
	k := newFakeKernel()
	d := newTestDriver(t, k)
	k.failModes = map[uint32]error{unix.ADJ_SETOFFSET | unix.ADJ_NANO: unix.EINVAL}
	if err := d.Step(-100 * 365 * 24 * time.Hour); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Step(-100 years) = %v, want EINVAL", err)
	}
	delete(k.failModes, unix.ADJ_SETOFFSET|unix.ADJ_NANO)
	if err := d.Step(time.Second); err != nil {
		t.Fatal(err)
	}
	if k.settimes != 0 {
		t.Errorf("clock_settime used after a refused absurd step")
	}
}

func TestStepPermission(t *testing.T) {
	k := newFakeKernel()
	k.privileged = false
	d := newTestDriver(t, k)
	before := k.realtime
	err := d.Step(time.Second)
	if !errors.Is(err, platform.ErrPermission) || !strings.Contains(err.Error(), "ADJ_SETOFFSET") {
		t.Errorf("Step without privilege = %v, want ErrPermission naming ADJ_SETOFFSET", err)
	}
	if k.realtime != before {
		t.Error("clock moved")
	}
}

func TestSetSyncStatus(t *testing.T) {
	tests := []struct {
		name               string
		synced             bool
		maxErr, estErr     time.Duration
		wantUnsync         bool
		wantMaxUS, wantEst int64
	}{
		{"synchronized", true, 20 * time.Millisecond, 1500 * time.Microsecond, false, 20000, 1500},
		{"unsynchronized", false, time.Millisecond, time.Millisecond, true, 16000000, 16000000},
		{"max error too large", true, 16 * time.Second, 2 * time.Second, true, 16000000, 2000000},
		{"est error clamped", true, 10 * time.Second, 20 * time.Second, false, 10000000, 16000000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel()
			k.status = unix.STA_UNSYNC | unix.STA_INS | unix.STA_NANO
			if !tt.wantUnsync {
				k.status = unix.STA_INS | unix.STA_NANO
			}
			k.status ^= unix.STA_UNSYNC // start from the opposite state
			d := newTestDriver(t, k)
			if err := d.SetSyncStatus(tt.synced, tt.maxErr, tt.estErr); err != nil {
				t.Fatal(err)
			}
			m := k.mutations()
			if len(m) != 1 || m[0].Modes != unix.ADJ_STATUS|unix.ADJ_MAXERROR|unix.ADJ_ESTERROR {
				t.Fatalf("sent %+v, want one ADJ_STATUS|ADJ_MAXERROR|ADJ_ESTERROR", m)
			}
			if got := k.status&unix.STA_UNSYNC != 0; got != tt.wantUnsync {
				t.Errorf("STA_UNSYNC = %v, want %v", got, tt.wantUnsync)
			}
			if k.status&unix.STA_INS == 0 || k.status&unix.STA_NANO == 0 {
				t.Errorf("status 0x%x lost STA_INS or STA_NANO", k.status)
			}
			if m[0].Status&staReadOnly != 0 {
				t.Errorf("sent read-only status bits 0x%x", m[0].Status&staReadOnly)
			}
			if k.maxerror != tt.wantMaxUS || k.esterror != tt.wantEst {
				t.Errorf("maxerror %d esterror %d µs, want %d %d", k.maxerror, k.esterror, tt.wantMaxUS, tt.wantEst)
			}
		})
	}
}

func TestSetSyncStatusRefusesNegative(t *testing.T) {
	k := newFakeKernel()
	d := newTestDriver(t, k)
	if err := d.SetSyncStatus(true, time.Second, -time.Second); !errors.Is(err, platform.ErrOutOfRange) {
		t.Errorf("SetSyncStatus(est -1s) = %v, want ErrOutOfRange", err)
	}
	if m := k.mutations(); len(m) != 0 {
		t.Errorf("sent %+v", m)
	}
}

func TestKernelSlew(t *testing.T) {
	tests := []struct {
		offset  time.Duration
		wantUS  int64
		wantDur time.Duration
	}{
		{1500 * time.Microsecond, 1500, 3 * time.Second},
		{-250 * time.Millisecond, -250000, 500 * time.Second},
		{1499 * time.Nanosecond, 1, 2 * time.Millisecond},
		{-1500 * time.Nanosecond, -2, 4 * time.Millisecond},
		{0, 0, 0},
		{MaxKernelSlew, math.MaxInt32, time.Duration(math.MaxInt32) * 2 * time.Millisecond},
	}
	for _, tt := range tests {
		k := newFakeKernel()
		k.adjust = 77 // a slew left by someone else: replaced
		d := newTestDriver(t, k)
		got, err := d.KernelSlew(tt.offset)
		if err != nil {
			t.Fatalf("KernelSlew(%v): %v", tt.offset, err)
		}
		m := k.mutations()
		if len(m) != 1 || m[0].Modes != unix.ADJ_OFFSET_SINGLESHOT || int64(m[0].Offset) != tt.wantUS {
			t.Errorf("KernelSlew(%v) sent %+v, want ADJ_OFFSET_SINGLESHOT offset %d µs", tt.offset, m, tt.wantUS)
		}
		if k.adjust != tt.wantUS {
			t.Errorf("kernel pending slew %d µs, want %d", k.adjust, tt.wantUS)
		}
		if got != tt.wantDur {
			t.Errorf("KernelSlew(%v) = %v, want %v", tt.offset, got, tt.wantDur)
		}
	}
}

func TestKernelSlewRefuses(t *testing.T) {
	for _, off := range []time.Duration{MaxKernelSlew + time.Microsecond, -MaxKernelSlew - time.Microsecond, time.Hour} {
		k := newFakeKernel()
		d := newTestDriver(t, k)
		if _, err := d.KernelSlew(off); !errors.Is(err, platform.ErrOutOfRange) {
			t.Errorf("KernelSlew(%v) = %v, want ErrOutOfRange", off, err)
		}
		if m := k.mutations(); len(m) != 0 {
			t.Errorf("KernelSlew(%v) sent %+v", off, m)
		}
	}
	k := newFakeKernel()
	k.privileged = false
	d := newTestDriver(t, k)
	if _, err := d.KernelSlew(time.Millisecond); !errors.Is(err, platform.ErrPermission) {
		t.Errorf("KernelSlew without privilege = %v, want ErrPermission", err)
	}
}

func TestStatusFromFake(t *testing.T) {
	k := newFakeKernel()
	k.tick, k.freq = 10002, -65536*3/2
	k.status = unix.STA_NANO | unix.STA_PLL
	k.offset = -4500
	k.maxerror, k.esterror = 12000, 300
	d := newTestDriver(t, k)
	s, err := d.Status()
	if err != nil {
		t.Fatal(err)
	}
	want := Status{
		FrequencyPPM: 198.5, TickMicros: 10002, FreqPPM: -1.5, UserHZ: 100,
		Bits: unix.STA_NANO | unix.STA_PLL, Unsynchronized: false,
		MaxError: 12 * time.Millisecond, EstError: 300 * time.Microsecond,
		Offset: -4500 * time.Nanosecond, State: unix.TIME_OK,
	}
	if s != want {
		t.Errorf("Status() = %+v, want %+v", s, want)
	}
	if m := k.mutations(); len(m) != 0 {
		t.Errorf("Status sent %+v", m)
	}
}

// The shared layer slews faster than 500 ppm on Linux: the extra rate
// reaches the kernel as a tick change, and ends with the base frequency
// restored.
func TestClockSlewThroughTick(t *testing.T) {
	k := newFakeKernel()
	k.freq = 10 * 65536 // base +10 ppm left by an earlier run
	d := newTestDriver(t, k)
	tm := &manualTimers{now: time.Unix(1700000000, 0)}
	c, err := platform.NewClock(d, platform.ClockOptions{Timers: tm})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Frequency(); math.Abs(got-10) > 0.001 {
		t.Fatalf("base frequency %v, want 10 (read from the kernel)", got)
	}
	dur, err := c.Slew(time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	// On Linux the timers run on CLOCK_MONOTONIC, which the slew itself
	// speeds up: the slew rate s that applies offset O in the monotonic
	// duration D on a base b is O(1+b)/(D−O) (platform.TimeBaseCorrected).
	o, b := 1.0, 10e-6
	rate := o * (1 + b) / (dur.Seconds() - o) * 1e6
	if rate < 50000 {
		t.Errorf("slew rate %.0f ppm, want well beyond the 500 ppm of ADJ_FREQUENCY", rate)
	}
	if got, _ := d.Frequency(); math.Abs(got-(10+rate)) > 0.01 {
		t.Errorf("kernel frequency during slew %v, want %v", got, 10+rate)
	}
	if k.tick <= 10100 {
		t.Errorf("tick during slew %d, want far above nominal", k.tick)
	}
	tm.now = tm.now.Add(dur) // the slew's timer fires when it is due
	tm.fire()
	if got, _ := d.Frequency(); math.Abs(got-10) > 0.001 {
		t.Errorf("kernel frequency after slew %v, want 10", got)
	}
}

type manualTimers struct {
	now time.Time
	fns []func()
}

func (m *manualTimers) Now() time.Time { return m.now }
func (m *manualTimers) AfterFunc(d time.Duration, f func()) func() bool {
	m.fns = append(m.fns, f)
	return func() bool { return false }
}
func (m *manualTimers) fire() {
	fns := m.fns
	m.fns = nil
	for _, f := range fns {
		f()
	}
}
