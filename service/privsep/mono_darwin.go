package privsep

import "golang.org/x/sys/unix"

// monotonicNS reads CLOCK_UPTIME_RAW (mach_absolute_time), the clock Go's
// timers run on in macOS; CLOCK_MONOTONIC there counts sleep too.
func monotonicNS() (int64, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_UPTIME_RAW, &ts); err != nil {
		return 0, false
	}
	return ts.Nano(), true
}
