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
// CLOCK_BOOTTIME (does not) and the wall clock. The service reads them
// at the first answer of every round of exchanges: the wall clock and
// CLOCK_MONOTONIC through the vDSO (time.Now, rawio.MonotonicNS),
// CLOCK_BOOTTIME, which Go offers no vDSO path to, with one raw system
// call (rawio.ClockNS). They cannot fail for these clocks.
func Read() Reading {
	mono := rawio.MonotonicNS()
	wall := time.Now().Round(0)
	boot, _ := rawio.ClockNS(unix.CLOCK_BOOTTIME)
	return Reading{Wall: wall, Mono: time.Duration(mono), Boot: time.Duration(boot)}
}
