package privsep

import (
	"syscall"
	"unsafe"
)

// monotonicNS reads CLOCK_MONOTONIC with a raw system call: through the
// runtime's syscall entry (x/sys/unix makes it a real call), it would
// wake the reader's system monitor at every request (internal/rawio).
func monotonicNS() (int64, bool) {
	var ts syscall.Timespec
	const clockMonotonic = 1
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0, false
	}
	return ts.Nano(), true
}
