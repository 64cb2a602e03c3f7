package wake

import (
	"time"

	"golang.org/x/sys/unix"
)

// systemSlewPPM: macOS's uptime clocks are never slewed; the driver slews
// the wall clock by at most 500 ppm (adjtime) and sets its frequency within
// ±500 ppm (ntp_adjtime).
const systemSlewPPM = 1000

// Read returns this machine's clocks: CLOCK_UPTIME_RAW (stops in sleep),
// CLOCK_MONOTONIC (on macOS it goes on through sleep) and the wall clock.
func Read() Reading {
	var mono, boot unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_UPTIME_RAW, &mono)
	wall := time.Now().Round(0)
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &boot)
	return Reading{Wall: wall, Mono: time.Duration(mono.Nano()), Boot: time.Duration(boot.Nano())}
}
