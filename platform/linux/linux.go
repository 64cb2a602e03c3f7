//go:build linux

// Package linux is the Linux clock driver: the only code in timesync that
// calls adjtimex(2) and clock_settime(2) on the real clock (modelled on
// chrony's sys_linux.c and sys_timex.c).
//
// It sets the frequency correction with ADJ_TICK and ADJ_FREQUENCY
// together, which reaches far beyond the ±500 ppm of ADJ_FREQUENCY alone;
// steps with ADJ_SETOFFSET|ADJ_NANO (clock_settime on kernels without it);
// reports sync status (STA_UNSYNC, maxerror, esterror) so that the kernel's
// 11-minute RTC sync works; slews one-shot offsets the kernel finishes on
// its own (ADJ_OFFSET_SINGLESHOT); and reads the kernel's state read-only
// (Status).
//
// Time base: Go's timers and time.Since read CLOCK_MONOTONIC, which
// clock_gettime(2) documents as "affected by the incremental adjustments
// performed by adjtime(3) and NTP": ADJ_TICK and ADJ_FREQUENCY change the
// length of the tick that every clock but CLOCK_MONOTONIC_RAW advances by.
// So the monotonic clock that times a slew is itself slewed, and
// platform.Clock accounts in that time base (platform.TimeBaseCorrected,
// RealTimers.CorrectedRate reports true here).
//
// Every system call goes through a function value that tests replace (see
// WithAdjtimex, WithClock), so no test ever changes this machine's clock.
// The package decides no policy: clamping, slewing and step limits live in
// platform.Clock.
package linux

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/timesync/timesync/platform"
)

const (
	// MaxFrequencyPPM is the largest frequency correction the driver
	// accepts, in ppm: chrony's default maxslewrate, 1/12 s per second.
	// The kernel itself would take the tick within ±10% of nominal plus
	// ±500 ppm of ADJ_FREQUENCY (about ±100500 ppm); staying at 1/12
	// leaves the tick well inside the kernel's window whatever the base
	// frequency and the tick hysteresis add, and bounds how fast other
	// programs see time warp while an offset is slewed away (5 s per
	// minute at most).
	MaxFrequencyPPM = 83333.333

	// KernelSlewPPM is the rate at which the kernel completes an
	// ADJ_OFFSET_SINGLESHOT slew: MAX_TICKADJ, 500 µs per second.
	KernelSlewPPM = 500

	// MaxKernelSlew is the largest offset KernelSlew accepts. The kernel
	// keeps a one-shot slew in a long of microseconds, which is 32 bits
	// on 32-bit kernels: ±2147.483647 s (glibc's adjtime bounds it the
	// same way there). At 500 ppm that is already a 50-day slew, so
	// nothing sensible is lost on 64-bit kernels.
	MaxKernelSlew = time.Duration(math.MaxInt32) * time.Microsecond

	// maxSyncError is the error beyond which the kernel itself declares
	// the clock unsynchronized.
	maxSyncError = platform.MaxSyncError
)

// Driver is the Linux clock driver. It implements platform.Driver,
// platform.SyncStatusReporter and platform.KernelSlewer. Its methods are
// safe for concurrent use.
type Driver struct {
	adjtimex func(*unix.Timex) (int, error)
	gettime  func(*unix.Timespec) error
	settime  func(*unix.Timespec) error
	hz       int // USER_HZ

	mu          sync.Mutex
	tick        int64 // tick last read or set, µs per USER_HZ tick
	noSetOffset bool  // the kernel refused ADJ_SETOFFSET: step with clock_settime
	tookOver    bool  // the kernel's own PLL/FLL discipline was switched off
}

// Option configures a Driver.
type Option func(*Driver)

// WithAdjtimex replaces the adjtimex(2) system call, for tests. The
// function must behave like the kernel: fill tx with the resulting state
// and return the clock state (TIME_OK, …) or an errno.
func WithAdjtimex(f func(tx *unix.Timex) (state int, err error)) Option {
	return func(d *Driver) { d.adjtimex = f }
}

// rawAdjtimex is unix.Adjtimex as a raw system call: adjtimex(2) does not
// block, and made through the Go runtime's syscall entry it would wake
// the runtime's system monitor, which then polls until the process is
// idle again (internal/rawio says what that costs an idle service).
func rawAdjtimex(tx *unix.Timex) (state int, err error) {
	r, _, e := syscall.RawSyscall(unix.SYS_ADJTIMEX, uintptr(unsafe.Pointer(tx)), 0, 0)
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}

// WithClock replaces clock_gettime(CLOCK_REALTIME) and
// clock_settime(CLOCK_REALTIME), used to step the clock on kernels without
// ADJ_SETOFFSET, for tests.
func WithClock(get, set func(*unix.Timespec) error) Option {
	return func(d *Driver) { d.gettime, d.settime = get, set }
}

// WithUserHZ sets USER_HZ instead of reading it from the auxiliary vector.
func WithUserHZ(hz int) Option {
	return func(d *Driver) { d.hz = hz }
}

// New returns the driver of this machine's clock. It reads the kernel's
// state once (read-only) to learn USER_HZ and the current tick; it changes
// nothing.
func New(opts ...Option) (*Driver, error) {
	d := &Driver{
		adjtimex: rawAdjtimex,
		gettime:  func(ts *unix.Timespec) error { return unix.ClockGettime(unix.CLOCK_REALTIME, ts) },
		settime:  func(ts *unix.Timespec) error { return unix.ClockSettime(unix.CLOCK_REALTIME, ts) },
	}
	for _, o := range opts {
		o(d)
	}
	var tx unix.Timex
	if _, err := d.call(&tx); err != nil {
		return nil, err
	}
	if d.hz == 0 {
		d.hz = userHZFromAuxv()
	}
	if d.hz == 0 {
		d.hz = guessHZ(int64(tx.Tick))
	}
	if d.hz <= 0 {
		return nil, fmt.Errorf("cannot tell USER_HZ (auxv has no AT_CLKTCK, tick %d µs fits no known value)", tx.Tick)
	}
	d.tick = int64(tx.Tick)
	return d, nil
}

// Name reports "linux-adjtimex".
func (d *Driver) Name() string { return "linux-adjtimex" }

// UserHZ reports the USER_HZ the driver computes ticks with.
func (d *Driver) UserHZ() int { return d.hz }

// call runs adjtimex and wraps its error with the modes requested and, for
// EPERM, platform.ErrPermission and what to do about it.
func (d *Driver) call(tx *unix.Timex) (int, error) {
	modes := tx.Modes
	state, err := d.adjtimex(tx)
	if err != nil {
		return state, wrapErr("adjtimex "+modeNames(modes), err)
	}
	return state, nil
}

func wrapErr(what string, err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%s: %w: %w (run as root or grant CAP_SYS_TIME)", what, platform.ErrPermission, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Frequency reads the frequency correction the kernel applies, tick and
// ADJ_FREQUENCY combined, in ppm (positive = faster).
func (d *Driver) Frequency() (float64, error) {
	var tx unix.Timex
	if _, err := d.call(&tx); err != nil {
		return 0, err
	}
	d.mu.Lock()
	d.tick = int64(tx.Tick)
	d.mu.Unlock()
	return mergeFrequency(int64(tx.Tick), int64(tx.Freq), d.hz), nil
}

// MaxFrequency reports MaxFrequencyPPM.
func (d *Driver) MaxFrequency() float64 { return MaxFrequencyPPM }

// SetFrequency sets the frequency correction to ppm (positive = faster)
// with one ADJ_TICK|ADJ_FREQUENCY call. The first call also switches off
// the kernel's own PLL/FLL discipline (as chronyd does at start), which
// would otherwise keep changing the frequency behind the driver's back.
func (d *Driver) SetFrequency(ppm float64) error {
	if math.IsNaN(ppm) || math.Abs(ppm) > MaxFrequencyPPM {
		return fmt.Errorf("set frequency %+.3f ppm beyond ±%.3f ppm: %w", ppm, MaxFrequencyPPM, platform.ErrOutOfRange)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.takeOverLocked(); err != nil {
		return err
	}
	tick, freq, err := splitFrequency(ppm, d.hz, d.tick)
	if err != nil {
		return fmt.Errorf("set frequency: %v: %w", err, platform.ErrOutOfRange)
	}
	tx := unix.Timex{Modes: unix.ADJ_TICK | unix.ADJ_FREQUENCY}
	setInt(&tx.Tick, tick)
	setInt(&tx.Freq, freq)
	if _, err := d.call(&tx); err != nil {
		return err
	}
	d.tick = tick
	return nil
}

// takeOverLocked switches off the kernel's PLL/FLL and PPS discipline and
// zeroes the PLL's pending phase offset, once. The kernel accepts
// ADJ_OFFSET only while STA_PLL is set, and keeps slewing a pending offset
// after STA_PLL is cleared, hence two calls (as chrony's initialise_timex).
func (d *Driver) takeOverLocked() error {
	if d.tookOver {
		return nil
	}
	var tx unix.Timex
	if _, err := d.call(&tx); err != nil {
		return err
	}
	status := tx.Status &^ staReadOnly
	if status&staKernelDiscipline != 0 || tx.Offset != 0 {
		reset := unix.Timex{Modes: unix.ADJ_OFFSET | unix.ADJ_STATUS, Status: status | unix.STA_PLL}
		if _, err := d.call(&reset); err != nil {
			return fmt.Errorf("reset the kernel PLL offset: %w", err)
		}
		off := unix.Timex{Modes: unix.ADJ_STATUS, Status: status &^ staKernelDiscipline}
		if _, err := d.call(&off); err != nil {
			return fmt.Errorf("switch off the kernel PLL: %w", err)
		}
	}
	d.tookOver = true
	return nil
}

// Step moves the clock by offset at once (positive = forward) with
// ADJ_SETOFFSET|ADJ_NANO, which steps relative to the current time inside
// the kernel, without a read-modify-write race. Kernels before 2.6.39
// reject that mode with EINVAL; the driver then reads CLOCK_REALTIME, adds
// offset and sets it, from then on.
//
// (Kernels that old may also ignore the unknown mode instead of rejecting
// it; chrony detects that with a maxerror trick at start. timesync does not
// support them and says so here rather than guess.)
func (d *Driver) Step(offset time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.noSetOffset {
		sec, nsec := setOffsetTime(offset)
		tx := unix.Timex{Modes: unix.ADJ_SETOFFSET | unix.ADJ_NANO}
		setInt(&tx.Time.Sec, sec)
		setInt(&tx.Time.Usec, nsec) // nanoseconds with ADJ_NANO
		_, err := d.adjtimex(&tx)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) {
			return wrapErr("adjtimex ADJ_SETOFFSET|ADJ_NANO", err)
		}
		// EINVAL for a normalised offset: no ADJ_SETOFFSET here, or an
		// offset that would take the clock out of range, which
		// clock_settime refuses too. Only its success tells them apart.
		if err := d.setTimeLocked(offset); err != nil {
			return fmt.Errorf("adjtimex ADJ_SETOFFSET|ADJ_NANO refused (EINVAL), then %w", err)
		}
		d.noSetOffset = true
		return nil
	}
	return d.setTimeLocked(offset)
}

// setTimeLocked steps the clock by reading CLOCK_REALTIME, adding offset
// and setting the result. The time between the two calls is lost (a few
// hundred ns); ADJ_SETOFFSET has no such gap.
func (d *Driver) setTimeLocked(offset time.Duration) error {
	var ts unix.Timespec
	if err := d.gettime(&ts); err != nil {
		return wrapErr("clock_gettime CLOCK_REALTIME", err)
	}
	sec, nsec := addTimespec(int64(ts.Sec), int64(ts.Nsec), offset)
	setInt(&ts.Sec, sec)
	setInt(&ts.Nsec, nsec)
	if err := d.settime(&ts); err != nil {
		return wrapErr("clock_settime CLOCK_REALTIME", err)
	}
	return nil
}

// SetSyncStatus tells the kernel whether the clock is synchronized and how
// good it is. Synchronized clears STA_UNSYNC, which lets the kernel copy
// the system time to the RTC every 11 minutes; maxError and estError go to
// timex.maxerror and esterror (µs). As chrony: a maxError of 16 s or more
// means unsynchronized (the kernel would set STA_UNSYNC itself), and an
// unsynchronized clock reports 16 s for both. The other status bits are
// read first and kept.
func (d *Driver) SetSyncStatus(synced bool, maxError, estError time.Duration) error {
	if maxError < 0 || estError < 0 {
		return fmt.Errorf("sync status with negative error (max %v, est %v): %w", maxError, estError, platform.ErrOutOfRange)
	}
	if synced {
		estError = min(estError, maxSyncError)
		if maxError >= maxSyncError {
			maxError, synced = maxSyncError, false
		}
	} else {
		maxError, estError = maxSyncError, maxSyncError
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var tx unix.Timex
	if _, err := d.call(&tx); err != nil {
		return err
	}
	status := tx.Status &^ staReadOnly
	if synced {
		status &^= unix.STA_UNSYNC
	} else {
		status |= unix.STA_UNSYNC
	}
	tx = unix.Timex{Modes: unix.ADJ_STATUS | unix.ADJ_MAXERROR | unix.ADJ_ESTERROR, Status: status}
	setInt(&tx.Maxerror, maxError.Microseconds())
	setInt(&tx.Esterror, estError.Microseconds())
	_, err := d.call(&tx)
	return err
}

// KernelSlew hands offset (positive = forward) to the kernel as an
// ADJ_OFFSET_SINGLESHOT slew, in µs, replacing any one-shot slew in
// progress; the kernel completes it at 500 ppm even after this process
// exits. It reports how long that takes (|offset| / 500 ppm: 2 s per ms).
// Offsets beyond ±MaxKernelSlew are refused with platform.ErrOutOfRange.
func (d *Driver) KernelSlew(offset time.Duration) (time.Duration, error) {
	if offset > MaxKernelSlew || offset < -MaxKernelSlew {
		return 0, fmt.Errorf("kernel slew %+.6f s beyond ±%.6f s: %w", offset.Seconds(), MaxKernelSlew.Seconds(), platform.ErrOutOfRange)
	}
	us := offset.Round(time.Microsecond).Microseconds()
	tx := unix.Timex{Modes: unix.ADJ_OFFSET_SINGLESHOT}
	setInt(&tx.Offset, us)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.call(&tx); err != nil {
		return 0, err
	}
	return platform.SlewDuration(time.Duration(us)*time.Microsecond, KernelSlewPPM), nil
}
