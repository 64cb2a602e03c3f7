package privsep

import (
	"golang.org/x/sys/unix"

	"github.com/timesync/timesync/internal/rawio"
)

// monotonicNS reads CLOCK_MONOTONIC, the clock Go's timers run on.
func monotonicNS() (int64, bool) { return rawio.ClockNS(unix.CLOCK_MONOTONIC) }
