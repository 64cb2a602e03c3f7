package wake

import (
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// systemSlewPPM: CLOCK_MONOTONIC is slewed with CLOCK_REALTIME by
// adjtimex, so slewing never separates them.
const systemSlewPPM = 0

// Read returns this machine's clocks: CLOCK_MONOTONIC (stops in suspend),
// CLOCK_BOOTTIME (does not) and the wall clock.
func Read() Reading {
	var mono, boot unix.Timespec
	clockGettime(unix.CLOCK_MONOTONIC, &mono)
	wall := time.Now().Round(0)
	clockGettime(unix.CLOCK_BOOTTIME, &boot)
	return Reading{Wall: wall, Mono: time.Duration(mono.Nano()), Boot: time.Duration(boot.Nano())}
}

// clockGettime is clock_gettime(2) as a raw system call: the service
// reads the clocks after every exchange, and a call through the Go
// runtime's syscall entry (as unix.ClockGettime makes) would wake the
// runtime's system monitor each time (internal/rawio says what that
// costs an idle service). It cannot fail for these clocks.
func clockGettime(id int, ts *unix.Timespec) {
	syscall.RawSyscall(unix.SYS_CLOCK_GETTIME, uintptr(id), uintptr(unsafe.Pointer(ts)), 0)
}
