// Package windows is the Windows clock driver. It is the only code in
// timesync that calls SetSystemTimeAdjustment(Precise) and SetSystemTime on
// the real clock, and it does so only through New, in windows_windows.go;
// the rest (unit conversions, validation, privilege and error handling)
// builds, and is tested, on every OS.
//
// The frequency correction is the system time adjustment (see Adjustment
// for the units and formula), with the precise API of Windows 10 and later
// where kernel32 (or kernelbase) exports it, the legacy API otherwise.
// Setting it takes the clock away from Windows' own time keeping (the
// adjustment is "enabled"); Close gives it back. The Windows Time service
// (w32time) must not run at the same time: it sets the same adjustment.
//
// Steps read the precise system time, add the offset and SetSystemTime,
// which takes whole milliseconds: a step lands within ±0.5 ms (plus the
// few µs between the two calls) of the target, and the next measurement
// slews the rest away.
//
// Windows has no slew that the kernel finishes on its own after the
// process exits (adjtime, ADJ_OFFSET_SINGLESHOT), so the driver does not
// implement platform.KernelSlewer: the shared layer's slew (a temporary
// frequency change) is the only way, and --once must wait for it.
//
// Time base: Go's timers read the interrupt-time count (what
// QueryInterruptTime returns), which advances by the timer hardware's fixed
// increment. SetSystemTimeAdjustment(Precise) changes only the increment
// added to the system time at each clock interrupt; Microsoft's
// "Acquiring high-resolution time stamps" states that QPC and the
// interrupt time are independent of the system time and not changed by
// its adjustments. So the monotonic clock counts the oscillator's own
// ticks, and platform.Clock accounts in that time base
// (platform.TimeBaseOscillator, RealTimers.CorrectedRate reports false).
//
// Every change first enables SeSystemtimePrivilege in the process token;
// without it (not Administrator or LocalSystem) changes fail with
// platform.ErrPermission.
package windows

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"syscall"
	"time"

	"github.com/timesync/timesync/platform"
)

// MaxFrequencyPPM is the largest frequency correction the driver accepts,
// in ppm. Windows documents no limit on the adjustment; 5% is below the
// ±10% Linux accepts, ample for slewing, and small enough that a wrong
// value never makes the clock unusable.
const MaxFrequencyPPM = 50000

// Win32 errors meaning the process may not change the clock.
const (
	errorAccessDenied       = syscall.Errno(5)    // ERROR_ACCESS_DENIED
	errorNotAllAssigned     = syscall.Errno(1300) // ERROR_NOT_ALL_ASSIGNED: the token lacks the privilege
	errorPrivilegeNotHeld   = syscall.Errno(1314) // ERROR_PRIVILEGE_NOT_HELD
	legacyAdjustmentMaximum = math.MaxUint32      // DWORD
)

// Ops are the system calls the driver uses; New fills them with the real
// ones, tests with a simulated Windows.
type Ops struct {
	// GetAdjustment reads the system time adjustment.
	GetAdjustment func() (Adjustment, error)
	// SetAdjustment sets it, through the same API (precise or legacy)
	// GetAdjustment reported.
	SetAdjustment func(adjustment uint64, disabled bool) error
	// Now reads the system time as precisely as Windows can
	// (GetSystemTimePreciseAsFileTime).
	Now func() (time.Time, error)
	// SetTime sets the system time (SetSystemTime).
	SetTime func(SystemTime) error
	// EnablePrivilege enables SeSystemtimePrivilege in the process token.
	EnablePrivilege func() error
}

// Driver is the Windows clock driver. It implements platform.Driver. Its
// methods are safe for concurrent use.
type Driver struct {
	ops Ops

	mu         sync.Mutex
	increment  uint64 // nominal units per increment, from the API in use
	precise    bool   // the precise API is in use
	privileged bool   // SeSystemtimePrivilege enabled
}

// NewWithOps returns a driver using ops. It reads the time adjustment once
// (no privilege needed) and changes nothing.
func NewWithOps(ops Ops) (*Driver, error) {
	if ops.GetAdjustment == nil || ops.SetAdjustment == nil || ops.Now == nil || ops.SetTime == nil || ops.EnablePrivilege == nil {
		return nil, errors.New("windows driver: every Ops function is required")
	}
	a, err := ops.GetAdjustment()
	if err != nil {
		return nil, wrapErr(getName(a.Precise), err)
	}
	if a.Increment == 0 {
		return nil, fmt.Errorf("%s reports a time increment of 0", getName(a.Precise))
	}
	return &Driver{ops: ops, increment: a.Increment, precise: a.Precise}, nil
}

func getName(precise bool) string {
	if precise {
		return "GetSystemTimeAdjustmentPrecise"
	}
	return "GetSystemTimeAdjustment"
}

func setName(precise bool) string {
	if precise {
		return "SetSystemTimeAdjustmentPrecise"
	}
	return "SetSystemTimeAdjustment"
}

// Name reports "windows-precise" or "windows-legacy", after the time
// adjustment API in use.
func (d *Driver) Name() string {
	if d.precise {
		return "windows-precise"
	}
	return "windows-legacy"
}

// Frequency reads the frequency correction of the system time adjustment,
// in ppm (positive = faster); 0 while Windows runs the clock itself.
func (d *Driver) Frequency() (float64, error) {
	a, err := d.ops.GetAdjustment()
	if err != nil {
		return 0, wrapErr(getName(d.precise), err)
	}
	return a.PPM(), nil
}

// MaxFrequency reports MaxFrequencyPPM.
func (d *Driver) MaxFrequency() float64 { return MaxFrequencyPPM }

// ResolutionPPM reports the smallest frequency step the API in use can make.
func (d *Driver) ResolutionPPM() float64 {
	return Adjustment{Increment: d.increment}.ResolutionPPM()
}

// SetFrequency sets the time adjustment to make the clock run ppm faster
// (rounded to ResolutionPPM) and enables it.
func (d *Driver) SetFrequency(ppm float64) error {
	if math.IsNaN(ppm) || math.Abs(ppm) > MaxFrequencyPPM {
		return fmt.Errorf("set frequency %+.3f ppm beyond ±%d ppm: %w", ppm, MaxFrequencyPPM, platform.ErrOutOfRange)
	}
	limit := uint64(math.MaxUint64)
	if !d.precise {
		limit = legacyAdjustmentMaximum
	}
	adj, err := adjustmentFor(ppm, d.increment, limit)
	if err != nil {
		return fmt.Errorf("set frequency: %v: %w", err, platform.ErrOutOfRange)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.privilegeLocked(); err != nil {
		return err
	}
	if err := d.ops.SetAdjustment(adj, false); err != nil {
		return wrapErr(fmt.Sprintf("%s(%d)", setName(d.precise), adj), err)
	}
	return nil
}

// Step moves the clock by offset (positive = forward): read the precise
// time, add offset, SetSystemTime to the nearest millisecond.
func (d *Driver) Step(offset time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.privilegeLocked(); err != nil {
		return err
	}
	now, err := d.ops.Now()
	if err != nil {
		return wrapErr("GetSystemTimePreciseAsFileTime", err)
	}
	st, _, err := systemTimeFor(now.Add(offset))
	if err != nil {
		return fmt.Errorf("step %+.6f s: %v: %w", offset.Seconds(), err, platform.ErrOutOfRange)
	}
	if err := d.ops.SetTime(st); err != nil {
		return wrapErr("SetSystemTime", err)
	}
	return nil
}

// Close gives the clock back to Windows: the time adjustment is disabled
// and Windows' own time keeping resumes. The service calls it when it
// stops.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.privilegeLocked(); err != nil {
		return err
	}
	if err := d.ops.SetAdjustment(d.increment, true); err != nil {
		return wrapErr(setName(d.precise)+" (disable)", err)
	}
	return nil
}

// privilegeLocked enables SeSystemtimePrivilege once.
func (d *Driver) privilegeLocked() error {
	if d.privileged {
		return nil
	}
	if err := d.ops.EnablePrivilege(); err != nil {
		return wrapErr("enable SeSystemtimePrivilege", err)
	}
	d.privileged = true
	return nil
}

// wrapErr says what was being done and, when Windows refused for lack of
// privilege, wraps platform.ErrPermission with what to do.
func wrapErr(what string, err error) error {
	if errors.Is(err, platform.ErrPermission) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && (errno == errorAccessDenied || errno == errorNotAllAssigned || errno == errorPrivilegeNotHeld) {
		return fmt.Errorf("%s: %w: %w (run as Administrator or LocalSystem, which hold SeSystemtimePrivilege)", what, platform.ErrPermission, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
