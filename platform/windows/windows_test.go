package windows

import (
	"errors"
	"math"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/timesync/timesync/platform"
)

var _ platform.Driver = (*Driver)(nil)

// Windows has no kernel-completed slew: the driver must not pretend.
func TestNotKernelSlewer(t *testing.T) {
	var d platform.Driver = &Driver{}
	if _, ok := d.(platform.KernelSlewer); ok {
		t.Error("the Windows driver implements KernelSlewer")
	}
}

func TestAdjustmentPPM(t *testing.T) {
	tests := []struct {
		a    Adjustment
		want float64
	}{
		{Adjustment{Adjustment: 10000000, Increment: 10000000, Precise: true}, 0},
		{Adjustment{Adjustment: 10000001, Increment: 10000000, Precise: true}, 0.1},
		{Adjustment{Adjustment: 9999500, Increment: 10000000, Precise: true}, -50},
		{Adjustment{Adjustment: 156251, Increment: 156250}, 6.4},
		{Adjustment{Adjustment: 148437, Increment: 156250}, -50003.2},
		{Adjustment{Adjustment: 12345, Increment: 156250, Disabled: true}, 0},
		{Adjustment{}, 0},
	}
	for _, tt := range tests {
		if got := tt.a.PPM(); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%+v.PPM() = %v, want %v", tt.a, got, tt.want)
		}
	}
}

func TestAdjustmentFor(t *testing.T) {
	tests := []struct {
		ppm       float64
		increment uint64
		limit     uint64
		want      uint64
		wantErr   bool
	}{
		{0, 10000000, math.MaxUint64, 10000000, false},
		{0.1, 10000000, math.MaxUint64, 10000001, false},
		{-12.34, 10000000, math.MaxUint64, 9999877, false}, // -123.4 units rounds to -123
		{MaxFrequencyPPM, 10000000, math.MaxUint64, 10500000, false},
		{3.3, 156250, math.MaxUint32, 156251, false}, // 0.52 units rounds to 1
		{3.1, 156250, math.MaxUint32, 156250, false}, // 0.48 units rounds to 0
		{-1e6, 156250, math.MaxUint32, 0, true},      // stops the clock
		{10, 1 << 32, math.MaxUint32, 0, true},       // beyond a DWORD
		{0, 0, math.MaxUint32, 0, true},
	}
	for _, tt := range tests {
		got, err := adjustmentFor(tt.ppm, tt.increment, tt.limit)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("adjustmentFor(%v, %d, %d) = %d, %v; want %d, error %v", tt.ppm, tt.increment, tt.limit, got, err, tt.want, tt.wantErr)
		}
	}
}

// The adjustment formula round-trips to within half the API's resolution.
func TestAdjustmentRoundTrip(t *testing.T) {
	for _, inc := range []uint64{10000000, 156250, 100144, 3579545} {
		for _, ppm := range []float64{0, 0.05, -0.05, 1, -7.77, 499.9, -500, 12345.6, -MaxFrequencyPPM, MaxFrequencyPPM} {
			adj, err := adjustmentFor(ppm, inc, math.MaxUint32)
			if err != nil {
				t.Fatalf("adjustmentFor(%v, %d): %v", ppm, inc, err)
			}
			a := Adjustment{Adjustment: adj, Increment: inc}
			if got := a.PPM(); math.Abs(got-ppm) > a.ResolutionPPM()/2+1e-9 {
				t.Errorf("increment %d: %v ppm → %d → %v ppm, off by more than half of %v", inc, ppm, adj, got, a.ResolutionPPM())
			}
		}
	}
}

func TestFileTimeToTime(t *testing.T) {
	tests := []struct {
		ft   uint64
		want time.Time
	}{
		{fileTimeEpoch, time.Unix(0, 0)},
		{fileTimeEpoch + 1, time.Unix(0, 100)},
		{fileTimeEpoch - 1, time.Unix(-1, 999999900)},
		{0, time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)},
		{133444736001234567, time.Unix(1700000000, 123456700)},
	}
	for _, tt := range tests {
		if got := fileTimeToTime(tt.ft); !got.Equal(tt.want) {
			t.Errorf("fileTimeToTime(%d) = %v, want %v", tt.ft, got, tt.want)
		}
	}
}

func TestSystemTimeFor(t *testing.T) {
	tests := []struct {
		t        time.Time
		want     SystemTime
		residual time.Duration
	}{
		{time.Date(2024, 2, 29, 23, 59, 59, 999600000, time.UTC), SystemTime{2024, 3, 5, 1, 0, 0, 0, 0}, -400 * time.Microsecond},
		{time.Date(2036, 2, 7, 6, 28, 16, 123400000, time.UTC), SystemTime{2036, 2, 4, 7, 6, 28, 16, 123}, 400 * time.Microsecond},
		{time.Date(2030, 6, 1, 12, 0, 0, 0, time.FixedZone("CEST", 7200)), SystemTime{2030, 6, 6, 1, 10, 0, 0, 0}, 0},
	}
	for _, tt := range tests {
		got, res, err := systemTimeFor(tt.t)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want || res != tt.residual {
			t.Errorf("systemTimeFor(%v) = %+v, %v; want %+v, %v", tt.t, got, res, tt.want, tt.residual)
		}
		if back := got.Time().Add(res); !back.Equal(tt.t) {
			t.Errorf("SYSTEMTIME %+v + residual %v = %v, want %v", got, res, back, tt.t)
		}
	}
	if _, _, err := systemTimeFor(time.Date(1600, 12, 31, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("systemTimeFor(1600) succeeded")
	}
}

// fakeWindows simulates the time adjustment, the system clock and the
// privilege check.
type fakeWindows struct {
	adj        Adjustment
	now        time.Time
	privileged bool // the token holds SeSystemtimePrivilege
	enabled    bool // it has been enabled
	enables    int
	sets       []Adjustment
	setTimes   []SystemTime
}

func newFakeWindows(precise bool) *fakeWindows {
	inc := uint64(156250)
	if precise {
		inc = 10000000
	}
	return &fakeWindows{
		adj:        Adjustment{Adjustment: inc, Increment: inc, Disabled: true, Precise: precise},
		now:        time.Date(2025, 1, 2, 3, 4, 5, 678912300, time.UTC),
		privileged: true,
	}
}

func (w *fakeWindows) ops() Ops {
	return Ops{
		GetAdjustment: func() (Adjustment, error) { return w.adj, nil },
		SetAdjustment: func(adj uint64, disabled bool) error {
			if !w.enabled {
				return errorPrivilegeNotHeld
			}
			if !w.adj.Precise && adj > math.MaxUint32 {
				return syscall.Errno(87) // ERROR_INVALID_PARAMETER
			}
			w.adj.Adjustment, w.adj.Disabled = adj, disabled
			w.sets = append(w.sets, w.adj)
			return nil
		},
		Now: func() (time.Time, error) { return w.now, nil },
		SetTime: func(st SystemTime) error {
			if !w.enabled {
				return errorPrivilegeNotHeld
			}
			w.setTimes = append(w.setTimes, st)
			w.now = st.Time()
			return nil
		},
		EnablePrivilege: func() error {
			w.enables++
			if !w.privileged {
				return errorNotAllAssigned
			}
			w.enabled = true
			return nil
		},
	}
}

func (w *fakeWindows) driver(t *testing.T) *Driver {
	d, err := NewWithOps(w.ops())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNewReadsOnly(t *testing.T) {
	w := newFakeWindows(true)
	d := w.driver(t)
	if w.enables != 0 || len(w.sets) != 0 {
		t.Errorf("New enabled the privilege (%d) or set the adjustment (%v)", w.enables, w.sets)
	}
	if d.Name() != "windows-precise" || newFakeWindows(false).driver(t).Name() != "windows-legacy" {
		t.Errorf("Name() = %q", d.Name())
	}
	if f, _ := d.Frequency(); f != 0 {
		t.Errorf("Frequency() with adjustment disabled = %v, want 0", f)
	}
	if _, err := NewWithOps(Ops{}); err == nil {
		t.Error("NewWithOps without system calls succeeded")
	}
}

func TestSetFrequency(t *testing.T) {
	for _, precise := range []bool{true, false} {
		w := newFakeWindows(precise)
		d := w.driver(t)
		for _, ppm := range []float64{12.5, -480, 0, MaxFrequencyPPM, -MaxFrequencyPPM} {
			if err := d.SetFrequency(ppm); err != nil {
				t.Fatalf("SetFrequency(%v): %v", ppm, err)
			}
			last := w.sets[len(w.sets)-1]
			if last.Disabled {
				t.Errorf("SetFrequency(%v) left the adjustment disabled", ppm)
			}
			got, err := d.Frequency()
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-ppm) > d.ResolutionPPM()/2+1e-9 {
				t.Errorf("precise=%v: Frequency() after SetFrequency(%v) = %v (resolution %v)", precise, ppm, got, d.ResolutionPPM())
			}
		}
		if w.enables != 1 {
			t.Errorf("privilege enabled %d times, want once", w.enables)
		}
	}
	w := newFakeWindows(true)
	d := w.driver(t)
	if err := d.SetFrequency(1234.5); err != nil {
		t.Fatal(err)
	}
	if got := w.adj.Adjustment; got != 10012345 {
		t.Errorf("precise adjustment for 1234.5 ppm = %d, want 10012345", got)
	}
}

func TestSetFrequencyRefuses(t *testing.T) {
	w := newFakeWindows(true)
	d := w.driver(t)
	for _, ppm := range []float64{50001, -60000, math.NaN()} {
		if err := d.SetFrequency(ppm); !errors.Is(err, platform.ErrOutOfRange) {
			t.Errorf("SetFrequency(%v) = %v, want ErrOutOfRange", ppm, err)
		}
	}
	if len(w.sets) != 0 || w.enables != 0 {
		t.Errorf("refused requests touched the system: %v, %d", w.sets, w.enables)
	}
}

func TestPermission(t *testing.T) {
	w := newFakeWindows(true)
	w.privileged = false
	d := w.driver(t)
	err := d.SetFrequency(1)
	if !errors.Is(err, platform.ErrPermission) {
		t.Fatalf("SetFrequency without the privilege = %v, want ErrPermission", err)
	}
	for _, want := range []string{"SeSystemtimePrivilege", "Administrator"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := d.Step(time.Second); !errors.Is(err, platform.ErrPermission) {
		t.Errorf("Step without the privilege = %v, want ErrPermission", err)
	}
	if len(w.sets) != 0 || len(w.setTimes) != 0 {
		t.Error("the system was changed")
	}
	// The privilege enabled but the call refused anyway.
	w = newFakeWindows(true)
	d = w.driver(t)
	ops := w.ops()
	ops.SetTime = func(SystemTime) error { return errorAccessDenied }
	d.ops = ops
	if err := d.Step(time.Second); !errors.Is(err, platform.ErrPermission) || !strings.Contains(err.Error(), "SetSystemTime") {
		t.Errorf("Step refused with ERROR_ACCESS_DENIED = %v, want ErrPermission naming SetSystemTime", err)
	}
}

func TestStep(t *testing.T) {
	for _, off := range []time.Duration{2500300 * time.Microsecond, -1500 * time.Millisecond, 400 * time.Microsecond, -36 * time.Hour} {
		w := newFakeWindows(true)
		d := w.driver(t)
		before := w.now
		if err := d.Step(off); err != nil {
			t.Fatalf("Step(%v): %v", off, err)
		}
		if len(w.setTimes) != 1 {
			t.Fatalf("SetSystemTime called %d times", len(w.setTimes))
		}
		got := w.now.Sub(before)
		if d := got - off; d < -time.Millisecond/2 || d > time.Millisecond/2 {
			t.Errorf("Step(%v) moved the clock %v, want within 0.5 ms", off, got)
		}
	}
}

func TestClose(t *testing.T) {
	w := newFakeWindows(true)
	d := w.driver(t)
	if err := d.SetFrequency(10); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !w.adj.Disabled {
		t.Error("Close left the adjustment enabled")
	}
	if f, _ := d.Frequency(); f != 0 {
		t.Errorf("Frequency() after Close = %v, want 0", f)
	}
}
