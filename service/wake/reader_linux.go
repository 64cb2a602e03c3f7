package wake

import (
	"time"

	"golang.org/x/sys/unix"
)

// systemSlewPPM: CLOCK_MONOTONIC is slewed with CLOCK_REALTIME by
// adjtimex, so slewing never separates them.
const systemSlewPPM = 0

// Read returns this machine's clocks: CLOCK_MONOTONIC (stops in suspend),
// CLOCK_BOOTTIME (does not) and the wall clock.
func Read() Reading {
	var mono, boot unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	wall := time.Now().Round(0)
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot)
	return Reading{Wall: wall, Mono: time.Duration(mono.Nano()), Boot: time.Duration(boot.Nano())}
}
