package wake

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/timesync/timesync/internal/rawio"
)

// systemSlewPPM: CLOCK_MONOTONIC is slewed with CLOCK_REALTIME by
// adjtimex, so slewing never separates them.
const systemSlewPPM = 0

// Read returns this machine's clocks: CLOCK_MONOTONIC (stops in suspend),
// CLOCK_BOOTTIME (does not) and the wall clock. They are read with raw
// system calls (rawio.ClockNS): the service reads them after every
// exchange. They cannot fail for these clocks.
func Read() Reading {
	mono, _ := rawio.ClockNS(unix.CLOCK_MONOTONIC)
	wall := time.Now().Round(0)
	boot, _ := rawio.ClockNS(unix.CLOCK_BOOTTIME)
	return Reading{Wall: wall, Mono: time.Duration(mono), Boot: time.Duration(boot)}
}
