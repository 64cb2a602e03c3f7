// Package platform is the one door to the operating system's clock.
//
// Each OS implements a small Driver (modelled on chrony's localp.h): read and
// set the frequency correction, step the clock, and optionally report sync
// status to the kernel or slew an offset that the kernel finishes on its own.
// Everything else — slewing as a temporary frequency change, clamps, sanity
// checks and the log line for every step — lives once, in Clock (clock.go),
// above the drivers.
//
// Sign conventions, used everywhere in this project:
//   - a frequency correction in ppm is positive when it makes the clock run
//     faster;
//   - an offset passed to Step or Slew is how far the clock must move: positive
//     moves it forward (the local clock was behind).
//
// This package must not talk to the network or decide policy (when to step,
// how fast to slew): that is the engine's and the discipline's job.
package platform

import (
	"errors"
	"time"
)

// Driver is implemented by each OS clock backend (platform/linux,
// platform/darwin, platform/windows), by the null driver (observe only) and
// by the simulator's clock. Implementations must be safe for use by one
// goroutine at a time; Clock serialises its calls.
type Driver interface {
	// Name reports a short name for logs ("linux-adjtimex", "null", …).
	Name() string

	// Frequency reports the frequency correction currently applied, in
	// ppm (positive = clock runs faster than uncorrected).
	Frequency() (ppm float64, err error)

	// SetFrequency applies a frequency correction in ppm. Values beyond
	// ±MaxFrequency must be refused with ErrOutOfRange, never silently
	// clamped: clamping is the shared layer's decision.
	SetFrequency(ppm float64) error

	// MaxFrequency reports the largest |ppm| SetFrequency accepts. It
	// bounds how fast Clock can slew on this OS.
	MaxFrequency() float64

	// Step moves the clock by offset at once (positive = forward).
	Step(offset time.Duration) error
}

// SyncStatusReporter is implemented by drivers that can tell the kernel
// whether the clock is synchronized (Linux: STA_UNSYNC, maxerror and
// esterror, which enables the kernel's 11-minute RTC sync).
type SyncStatusReporter interface {
	SetSyncStatus(synced bool, maxError, estError time.Duration) error
}

// BaseFrequencySetter is implemented by drivers that want to know, with
// each frequency, the part of it that is the disciplined base (without a
// slew in progress): the privilege-separated parent sets the clock back to
// the base if the engine that started a slew dies before ending it.
type BaseFrequencySetter interface {
	SetFrequencyBase(ppm, basePPM float64) error
}

// MaxSyncError is the largest error a sync status can carry: beyond it
// the kernel declares the clock unsynchronized (Linux's NTP_PHASE_LIMIT,
// 16 s; chrony's MAX_SYNC_ERROR). SyncErrorGrowth is how fast the kernel
// grows the maximum error between reports (Linux's MAXFREQ, 500 µs a
// second).
const (
	MaxSyncError    = 16 * time.Second
	SyncErrorGrowth = 500e-6
)

// SyncStatus is what a SyncStatusReporter tells the kernel.
type SyncStatus struct {
	Synced             bool
	MaxError, EstError time.Duration
}

// StatusFrequencySetter is implemented by drivers that can take a sync
// status with a frequency change, in one request: the privilege-separated
// engine's driver, for which every request wakes the privileged parent.
// Clock.SetSyncStatus hands over a status that way at the end of a short
// slew in progress.
type StatusFrequencySetter interface {
	BaseFrequencySetter
	SyncStatusReporter
	SetFrequencyBaseStatus(ppm, basePPM float64, st SyncStatus) error
}

// TimedFrequencySetter is implemented by drivers that can end a slew by
// themselves: SetFrequencyUntil sets ppm now and basePPM after d (on the
// monotonic clock the Timers run on), unless another change of the
// frequency comes first, and reports st, if given, with the frequency.
// The privilege-separated engine's driver: its parent keeps the timer, so
// the engine neither wakes nor sends a request to end a routine slew.
// Clock uses it for slews slow enough that the request's latency and the
// driver's timer being late do not matter (driverEndMaxPPM).
type TimedFrequencySetter interface {
	BaseFrequencySetter
	SetFrequencyUntil(ppm, basePPM float64, d time.Duration, st *SyncStatus) error
}

// ChangeStamper is implemented by drivers that know when their last
// change of the frequency took effect: the privilege-separated engine's,
// whose parent stamps each change with the monotonic clock. SinceChange
// reports how long ago, on the monotonic clock the Timers run on, the
// change just made took effect; ok is false when the driver does not
// know (the last call made no change, or the stamp is missing), and
// Clock then puts the change halfway through the call. It is asked right
// after each change.
type ChangeStamper interface {
	SinceChange() (ago time.Duration, ok bool)
}

// KernelSlewer is implemented by drivers whose kernel can slew an offset on
// its own, after this process has exited (Linux ADJ_OFFSET_SINGLESHOT, BSD
// and macOS adjtime). timesync --once uses it for corrections below the step
// threshold. It reports how long the kernel will take.
type KernelSlewer interface {
	KernelSlew(offset time.Duration) (duration time.Duration, err error)
}

// Sentinel errors shared by all drivers.
var (
	// ErrPermission means the process lacks the privilege to change the
	// clock (root, CAP_SYS_TIME, SeSystemtimePrivilege).
	ErrPermission = errors.New("not permitted to change the system clock")
	// ErrOutOfRange means a requested frequency or offset is beyond what
	// the driver or the safety limits allow.
	ErrOutOfRange = errors.New("clock adjustment out of range")
	// ErrUnsupported means the driver cannot do this on this OS.
	ErrUnsupported = errors.New("not supported by this clock driver")
)
