//go:build unix && !linux

package privsep

import "golang.org/x/sys/unix"

// monotonicNS reads the system's monotonic clock.
func monotonicNS() (int64, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, false
	}
	return ts.Nano(), true
}
