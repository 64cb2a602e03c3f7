package rawio

import _ "unsafe" // go:linkname

// nanotime is the runtime's monotonic clock: on Linux CLOCK_MONOTONIC,
// read through the vDSO, without a system call (and so without waking
// sysmon or, on a kernel with page-table isolation, emptying the TLB).
// The runtime keeps it open to linkname (go.dev/issue/67401).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// MonotonicNS reads CLOCK_MONOTONIC in nanoseconds, as ClockNS does, but
// through the vDSO: the clock Go's timers run on, and time.Now's
// monotonic reading, counted from boot instead of from the process's
// start, so that two processes' readings compare.
func MonotonicNS() int64 { return nanotime() }
