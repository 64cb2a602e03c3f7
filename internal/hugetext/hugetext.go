// Package hugetext puts the running executable's code, and its read-only
// data, on 2 MiB pages.
//
// An idle service wakes a few times a minute for a few hundred
// microseconds of work, and after seconds asleep little of what it
// touches is still in the CPU's caches and TLBs. Go's code for one wake
// (the runtime's scheduler, timers and poller, the system calls, the
// service's own) is spread over a few megabytes of text, and what it
// reads besides its heap (type descriptors, function tables, constant
// data) over a few more of read-only data; on 4 KiB pages every page of
// it is a TLB miss, dearest under a hypervisor, where each miss walks two
// page tables, and on a kernel that flushes the TLB at every system call
// (page-table isolation without PCID) the misses start over at each. On
// 2 MiB pages the same code and data are a handful of TLB entries. Two
// idle services side by side on one AMD EPYC VM, the one with its text on
// huge pages took 0.62× and 0.72× the other's CPU (8 minutes each, each
// started first once; an A/A run of one build gave 0.95×); moving the
// read-only data as well: README, "Code on huge pages".
//
// The kernel will not put an executable's own file pages on huge pages
// unless it was built with CONFIG_READ_ONLY_THP_FOR_FS (and then only
// through khugepaged, in its own time), so Remap copies the 2 MiB-aligned
// parts of the text and of the read-only data from the executable into a
// sealed memory file (memfd), has the kernel collapse that into huge pages
// (MADV_COLLAPSE), and maps each part over its original: the text
// read-only and executable, the data read-only. Nothing is ever writable
// and executable at once, and no mapping gains a permission: each is
// mapped with its final permissions from the start, which
// MemoryDenyWriteExecute (systemd's seccomp rule, or the kernel's
// PR_SET_MDWE) allows. A child running the same executable maps the same
// file (Adopt), so the pages are resident once for both.
//
// Costs: the aligned parts are resident in full (4 MiB of the service's
// ~4.9 of text, 4 of its ~5.5 of read-only data), once for the parent and
// the engine together. Debuggers still set breakpoints (the mapping is
// private: a write copies the page). Uprobes attached after the move never
// fire (the kernel looks for them in the file mapped, now the memfd), and
// perf finds no symbols in a memfd: set TIMESYNC_HUGE_TEXT=off for either.
// A copy is made only of code that is still the executable's byte for
// byte (a uprobe already attached is a trap written into it); read-only
// data that differs from the file (relocated) stays where it is.
package hugetext

import (
	"errors"
	"os"
)

// ErrUnsupported: not on this system (not Linux, or a kernel without
// memfd or MADV_COLLAPSE, or huge pages denied).
var ErrUnsupported = errors.New("code on huge pages is not supported here")

// Wanted reports whether TIMESYNC_HUGE_TEXT leaves Remap on (anything but
// "off", "0", "no" or "false").
func Wanted() bool {
	switch os.Getenv("TIMESYNC_HUGE_TEXT") {
	case "off", "0", "no", "false":
		return false
	}
	return true
}

// Text is code, and read-only data, moved onto huge pages by Remap or
// Adopt.
type Text struct {
	// Huge is how many bytes of code the kernel maps with 2 MiB pages
	// (smaps' ShmemPmdMapped for the mapping), Size how many were moved;
	// DataHuge and DataSize the same for the read-only data (0 if it
	// was left where it was).
	Huge, Size         uintptr
	DataHuge, DataSize uintptr
	file               *os.File
}

// File is the sealed, read-only memory file holding the code (and the
// read-only data, if moved), for a child running the same executable to
// Adopt; nil after Adopt. It stays open until Close.
func (t *Text) File() *os.File {
	if t == nil {
		return nil
	}
	return t.file
}

// Close closes File; the mapping stays.
func (t *Text) Close() error {
	if t == nil || t.file == nil {
		return nil
	}
	return t.file.Close()
}
