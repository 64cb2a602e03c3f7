package rawio

import (
	"syscall"
	"unsafe"
)

// ClockNS reads clock id (CLOCK_MONOTONIC, CLOCK_BOOTTIME, …) in
// nanoseconds with clock_gettime(2) as a raw system call: through the
// runtime's syscall entry, as unix.ClockGettime makes it, each reading
// would wake the system monitor (see the package comment). ok is false
// for a clock the kernel does not have.
func ClockNS(id int) (ns int64, ok bool) {
	var ts syscall.Timespec
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, uintptr(id), uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0, false
	}
	return ts.Nano(), true
}
