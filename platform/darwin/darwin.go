// Package darwin is the macOS clock driver (modelled on chrony's
// sys_macosx.c). It is the only code in timesync that calls adjtime(2) and
// settimeofday(2) on the real clock, and it does so only through New, in
// darwin_darwin.go; everything else here is arithmetic and bookkeeping that
// builds, and is tested, on every OS.
//
// macOS offers no frequency control to a pure-Go program (x/sys/unix has
// no ntp_adjtime binding): only adjtime, which slews a given offset at a
// fixed rate (4000 ppm, see KernelSlewDuration), and settimeofday. So the
// frequency correction is built like chrony's: a drift-removal loop wakes
// every few seconds and hands adjtime the correction the frequency has
// accrued since the last hand-over, measured on the monotonic clock (which
// on macOS does not run while the machine sleeps, so no correction accrues
// then). The part of each adjustment the kernel has not applied yet is
// taken back and re-handed, so nothing is lost or counted twice; part of
// the next interval's accrual is handed over in advance, so the clock's
// error swings around zero instead of lagging (within ±|ppm|·interval/2, at
// most 1.5 ms at 1000 ppm with the nominal 4 s interval).
//
// Time base: Go's timers read mach_absolute_time, which clock_gettime(3)
// documents as CLOCK_UPTIME_RAW, "unaffected by frequency or time
// adjustments"; adjtime slews only the calendar clock. So the monotonic
// clock counts the oscillator's own ticks, and platform.Clock accounts in
// that time base (platform.TimeBaseOscillator, RealTimers.CorrectedRate
// reports false here).
//
// Steps read the time, add the offset and settimeofday; the sub-µs
// remainder is kept and slewed.
package darwin

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"syscall"
	"time"

	"github.com/timesync/timesync/platform"
)

// Ops are the system calls the driver uses; New fills them with the real
// ones, tests with a simulated kernel.
type Ops struct {
	// Adjtime starts slewing the clock by delta (positive = forward; a
	// whole number of µs), cancelling the correction in progress, and
	// returns that correction's unapplied part.
	Adjtime func(delta time.Duration) (remaining time.Duration, err error)
	// Gettimeofday reads the system clock.
	Gettimeofday func() (time.Time, error)
	// Settimeofday sets the system clock (t is a whole number of µs).
	Settimeofday func(t time.Time) error
	// Timers schedules the drift-removal loop and measures the time the
	// frequency correction accrues over: it must be monotonic, unaffected
	// by adjtime and settimeofday. Default platform.RealTimers.
	Timers platform.Timers
	// Logger receives the loop's errors. Default slog.Default().
	Logger *slog.Logger
}

// Driver is the macOS clock driver. It implements platform.Driver,
// platform.KernelSlewer and platform.SyncStatusReporter (the sync status
// tunes the drift-removal interval). Its methods are safe for concurrent
// use; Close stops the loop.
type Driver struct {
	ops Ops
	log *slog.Logger

	mu          sync.Mutex
	ppm         float64       // frequency correction, ppm, positive = faster
	freq        float64       // the same, fractional (ppm·10^-6)
	owed        float64       // s the clock must still move (positive = forward), not yet handed to the kernel
	requested   time.Duration // the correction last handed to adjtime
	t0          time.Time     // when owed was last brought up to date (Timers time)
	tDrift      time.Time     // start of the current drift-removal interval (Timers time)
	interval    time.Duration // drift-removal interval wanted
	curInterval time.Duration // interval of the loop's current period
	stopTimer   func() bool   // cancels the loop's pending wake-up; nil when the loop is idle
	closed      bool
}

// NewWithOps returns a driver using ops. It makes no system call: the
// kernel is first touched by the first adjustment.
func NewWithOps(ops Ops) (*Driver, error) {
	if ops.Adjtime == nil || ops.Gettimeofday == nil || ops.Settimeofday == nil {
		return nil, errors.New("darwin driver: Adjtime, Gettimeofday and Settimeofday are required")
	}
	if ops.Timers == nil {
		ops.Timers = platform.RealTimers{}
	}
	if ops.Logger == nil {
		ops.Logger = slog.Default()
	}
	now := ops.Timers.Now()
	return &Driver{
		ops: ops, log: ops.Logger,
		t0: now, tDrift: now,
		interval: driftInterval, curInterval: driftInterval,
	}, nil
}

// Name reports "darwin-adjtime".
func (d *Driver) Name() string { return "darwin-adjtime" }

// Frequency reports the frequency correction the loop applies, in ppm
// (positive = faster). It starts at 0: the kernel keeps none.
func (d *Driver) Frequency() (float64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ppm, nil
}

// MaxFrequency reports MaxFrequencyPPM.
func (d *Driver) MaxFrequency() float64 { return MaxFrequencyPPM }

// SetFrequency changes the frequency correction to ppm (positive = faster):
// the correction accrued at the old frequency is settled and handed to the
// kernel, and the loop runs while the frequency is not zero.
func (d *Driver) SetFrequency(ppm float64) error {
	if math.IsNaN(ppm) || math.Abs(ppm) > MaxFrequencyPPM {
		return fmt.Errorf("set frequency %+.3f ppm beyond ±%d ppm: %w", ppm, MaxFrequencyPPM, platform.ErrOutOfRange)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.stopLocked(); err != nil {
		return err
	}
	d.ppm, d.freq = ppm, ppm*1e-6
	if d.stopTimer == nil && d.freq != 0 {
		// A new loop starts a new interval now.
		d.tDrift, d.curInterval = d.ops.Timers.Now(), d.interval
	}
	if err := d.startLocked(); err != nil {
		return err
	}
	d.scheduleLocked()
	return nil
}

// Step moves the clock by offset (positive = forward): gettimeofday, add,
// settimeofday. settimeofday takes µs; the remainder (< 0.5 µs) is slewed
// with the rest of the loop's correction.
func (d *Driver) Step(offset time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.stopLocked(); err != nil {
		return err
	}
	now, err := d.ops.Gettimeofday()
	if err != nil {
		return errors.Join(wrapErr("gettimeofday", err), d.startLocked())
	}
	target := now.Add(offset)
	set := target.Round(time.Microsecond)
	if err := d.ops.Settimeofday(set); err != nil {
		return errors.Join(wrapErr("settimeofday", err), d.startLocked())
	}
	d.owed += target.Sub(set).Seconds()
	return d.startLocked()
}

// KernelSlew hands offset (positive = forward) to the kernel's adjtime
// together with the loop's own correction, and reports how long the kernel
// takes to apply the whole (KernelSlewDuration). The kernel finishes it
// after this process exits. Offsets beyond ±MaxKernelSlew are refused.
func (d *Driver) KernelSlew(offset time.Duration) (time.Duration, error) {
	if offset > MaxKernelSlew || offset < -MaxKernelSlew {
		return 0, fmt.Errorf("kernel slew %+.6f s beyond ±%.6f s: %w", offset.Seconds(), MaxKernelSlew.Seconds(), platform.ErrOutOfRange)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.stopLocked(); err != nil {
		return 0, err
	}
	d.owed += offset.Seconds()
	if err := d.startLocked(); err != nil {
		return 0, err
	}
	return KernelSlewDuration(d.requested), nil
}

// SetSyncStatus tunes the drift-removal interval as chrony does: once
// synchronized, short enough that the loop's own swing stays within a
// quarter of estError; unsynchronized, back to at least 4 s. macOS has no
// kernel sync status to report.
func (d *Driver) SetSyncStatus(synced bool, maxError, estError time.Duration) error {
	if maxError < 0 || estError < 0 {
		return fmt.Errorf("sync status with negative error (max %v, est %v): %w", maxError, estError, platform.ErrOutOfRange)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.interval = wantedDriftInterval(d.interval, synced, estError, d.freq)
	if d.stopTimer != nil && d.curInterval > driftRestartRatio*d.interval {
		d.stopTimer()
		d.stopTimer = nil
		return d.driftLocked()
	}
	return nil
}

// DriftInterval reports the drift-removal interval wanted now.
func (d *Driver) DriftInterval() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.interval
}

// Close stops the drift-removal loop. The correction already handed to the
// kernel is still applied; the frequency correction stops accruing.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.stopTimer != nil {
		d.stopTimer()
		d.stopTimer = nil
	}
	return nil
}

// stopLocked cancels the kernel's correction in progress and brings owed
// up to date: the unapplied part of the correction plus what the frequency
// accrued since t0.
func (d *Driver) stopLocked() error {
	remaining, err := d.ops.Adjtime(0)
	if err != nil {
		return wrapErr("adjtime", err)
	}
	now := d.ops.Timers.Now()
	d.owed += d.freq*now.Sub(d.t0).Seconds() + remaining.Seconds()
	d.requested, d.t0 = 0, now
	return nil
}

// startLocked hands the kernel what is owed, plus part of what the
// frequency will accrue over the rest of the current interval, paid in
// advance so that the error averages zero; in whole µs, the rounding stays
// owed.
//
// The advance: chrony pays half of the interval's accrual R, which centres
// the error when the kernel applies a correction much faster than it
// accrues (the clock jumps ahead by R, then falls behind at |freq|). The
// kernel slews at 4000 ppm, not instantly: then the advance that centres
// the error is R/2·(1 + |freq|/4000 ppm), and the error stays within
// ±R/2·(1 − |freq|/4000 ppm) once settled (within ±R/2 in the first
// interval). At 3000 ppm and 4 s, chrony's advance would leave the clock
// 4.5 ms behind on average; this one leaves it centred, within ±1.5 ms.
func (d *Driver) startLocked() error {
	now := d.ops.Timers.Now()
	accrued := d.freq * now.Sub(d.t0).Seconds()
	sinceDrift := min(max(now.Sub(d.tDrift), 0), d.curInterval)
	predicted := d.freq * (d.curInterval - sinceDrift).Seconds() / 2 * (1 + math.Abs(d.freq)/(KernelSlewPPM*1e-6))
	want := d.owed + accrued + predicted
	req := time.Duration(math.Round(want*1e6)) * time.Microsecond
	if req > MaxKernelSlew || req < -MaxKernelSlew {
		d.owed += accrued
		d.t0 = now
		return fmt.Errorf("adjtime %+.6f s: correction owed beyond ±%.0f s: %w", want, MaxKernelSlew.Seconds(), platform.ErrOutOfRange)
	}
	old, err := d.ops.Adjtime(req)
	if err != nil {
		d.owed += accrued
		d.t0 = now
		return wrapErr("adjtime", err)
	}
	d.requested = req
	d.owed = want - req.Seconds() + old.Seconds() - predicted
	d.t0 = now
	return nil
}

// scheduleLocked keeps the loop running while there is a frequency to
// apply, and idle otherwise.
func (d *Driver) scheduleLocked() {
	switch {
	case d.closed || d.freq == 0:
		if d.stopTimer != nil {
			d.stopTimer()
			d.stopTimer = nil
		}
	case d.stopTimer == nil:
		d.stopTimer = d.ops.Timers.AfterFunc(d.curInterval, d.drift)
	}
}

// drift is the loop's wake-up.
func (d *Driver) drift() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.stopTimer = nil
	if err := d.driftLocked(); err != nil {
		d.log.Error("clock drift removal", "err", err)
	}
}

// driftLocked settles the interval that ended, starts the next one and
// schedules its end.
func (d *Driver) driftLocked() error {
	defer d.scheduleLocked()
	if err := d.stopLocked(); err != nil {
		return err
	}
	d.tDrift, d.curInterval = d.ops.Timers.Now(), d.interval
	return d.startLocked()
}

func wrapErr(what string, err error) error {
	if errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("%s: %w: %w (run as root)", what, platform.ErrPermission, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
