package darwin

import (
	"math"
	"time"

	"github.com/timesync/timesync/platform"
)

// This file is the pure arithmetic of the driver: timevals, the kernel's
// slew rates, the drift-removal interval. It builds on every OS so that it
// is tested everywhere.

const (
	// KernelSlewPPM is the rate at which the macOS kernel applies an
	// adjtime() correction of at most 1 s: 40 µs per 10 ms period
	// (calend_adjskew and calend_adjperiod in xnu osfmk/kern/clock.c).
	KernelSlewPPM = 4000
	// KernelBigSlewPPM is the rate for a correction larger than 1 s
	// (calend_adjbig): ten times the standard skew, 400 µs per 10 ms. The
	// rate is chosen once, when adjtime is called, from the whole
	// correction.
	KernelBigSlewPPM = 40000
	// kernelBigSlew is the threshold of the faster rate (calend_adjbig).
	kernelBigSlew = time.Second

	// MaxFrequencyPPM is the largest frequency correction the drift
	// removal loop sustains. Every interval the loop hands adjtime the
	// correction accrued over one interval (|ppm|·interval), which the
	// kernel slews at 4000 ppm; it must finish before the next hand-over
	// or the clock lags the correction. 3000 ppm finishes in 3/4 of the
	// interval, leaving a quarter for the loop's timer to fire late.
	MaxFrequencyPPM = 3000

	// MaxKernelSlew is the largest offset KernelSlew accepts, ±2147.483647
	// s as on Linux: the kernel has no documented limit, but a larger
	// correction is a step, not a slew (at 40000 ppm it already lasts 15
	// hours).
	MaxKernelSlew = time.Duration(math.MaxInt32) * time.Microsecond

	// The drift-removal interval: nominal, and the bounds SetSyncStatus
	// may move it within (chrony's sys_macosx.c uses 4 s and 0.5 s and no
	// upper bound; timesync caps it so that a change of frequency made
	// by the shared layer's slews is never held back long).
	driftInterval    = 4 * time.Second
	minDriftInterval = 500 * time.Millisecond
	maxDriftInterval = 64 * time.Second
	// driftRestartRatio: when the wanted interval is this many times
	// shorter than the running one, the loop restarts at once rather
	// than wait for the long interval to end.
	driftRestartRatio = 8
)

// KernelSlewDuration reports how long the macOS kernel takes to apply an
// adjtime() correction of offset: at 4000 ppm up to 1 s (0.25 s per ms),
// at 40000 ppm beyond (so 2 s take 50 s but 1 s takes 250 s).
func KernelSlewDuration(offset time.Duration) time.Duration {
	if offset > kernelBigSlew || offset < -kernelBigSlew {
		return platform.SlewDuration(offset, KernelBigSlewPPM)
	}
	return platform.SlewDuration(offset, KernelSlewPPM)
}

// splitTimeval returns the struct timeval for d, which must be a whole
// number of microseconds: seconds rounded down and microseconds in
// [0, 10^6), the normalised form settimeofday requires and adjtime
// accepts (−0.25 s is −1 s + 750000 µs).
func splitTimeval(d time.Duration) (sec, usec int64) {
	sec = int64(d / time.Second)
	usec = int64(d%time.Second) / int64(time.Microsecond)
	if usec < 0 {
		sec--
		usec += 1e6
	}
	return sec, usec
}

// joinTimeval returns the duration of a struct timeval, normalised or not:
// the kernel returns adjtime's remaining correction with both fields
// negative (seconds and microseconds truncated toward zero).
func joinTimeval(sec, usec int64) time.Duration {
	return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
}

// wantedDriftInterval is chrony's choice of the drift-removal interval
// from the sync status: unsynchronized, at least the nominal 4 s; when
// synchronized, short enough that the correction accrued over half an
// interval (the loop's error swings ±freq·interval/2) stays within half
// the estimated error, but no shorter than 0.5 s. cur is the interval in
// force; freq is fractional (ppm·10^-6).
func wantedDriftInterval(cur time.Duration, synced bool, estError time.Duration, freq float64) time.Duration {
	var iv time.Duration
	if !synced {
		iv = max(cur, driftInterval)
	} else {
		const freqRes = 1e-9 // keeps a zero frequency from dividing by zero
		s := 0.5 * estError.Seconds() / (math.Abs(freq) + freqRes)
		iv = time.Duration(math.Min(s, maxDriftInterval.Seconds()) * float64(time.Second))
		iv = max(iv, minDriftInterval)
	}
	return min(iv, maxDriftInterval)
}
