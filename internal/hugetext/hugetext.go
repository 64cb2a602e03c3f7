// Package hugetext puts the running executable's code on 2 MiB pages.
//
// An idle service wakes a few times a minute for a few hundred
// microseconds of work, and after seconds asleep little of what it
// touches is still in the CPU's caches and TLBs. Go's code for one wake
// (the runtime's scheduler, timers and poller, the system calls, the
// service's own) is spread over a few megabytes of text, and on 4 KiB
// pages every page of it is a TLB miss, dearest under a hypervisor, where
// each miss walks two page tables. On 2 MiB pages the same code is a
// handful of TLB entries. Two idle services side by side on one AMD EPYC
// VM, the one with its text on huge pages took 0.62× and 0.72× the
// other's CPU (8 minutes each, each started first once; 0.74× and 0.84×
// leaving out one dear minute of the other in each; an A/A run of one
// build gave 0.95×: README, "Code on huge pages").
//
// The kernel will not put an executable's own file pages on huge pages
// unless it was built with CONFIG_READ_ONLY_THP_FOR_FS (and then only
// through khugepaged, in its own time), so Remap copies the 2 MiB-aligned
// part of the text from the executable into a sealed memory file (memfd), has the kernel
// collapse that into huge pages (MADV_COLLAPSE), and maps it over the
// text, read-only and executable. Nothing is ever writable and executable
// at once, and no mapping gains execute permission: the copy is mapped
// executable from the start, which MemoryDenyWriteExecute (systemd's
// seccomp rule, or the kernel's PR_SET_MDWE) allows. A child running the
// same executable maps the same file (Adopt), so the pages are resident
// once for both.
//
// Costs: the text's aligned part is resident in full (4 MiB of the
// service's ~4.9), once for the parent and the engine together: the pair's
// PSS grew by about 1 MB. Debuggers still set breakpoints (the mapping is
// private: a write copies the page). Uprobes attached after the move never
// fire (the kernel looks for them in the file mapped, now the memfd), and
// perf finds no symbols in a memfd: set TIMESYNC_HUGE_TEXT=off for either.
// A copy is made only of code that is still the executable's byte for
// byte (a uprobe already attached is a trap written into it).
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

// Text is code moved onto huge pages by Remap or Adopt.
type Text struct {
	// Huge is how many bytes of code the kernel maps with 2 MiB pages
	// (smaps' ShmemPmdMapped for the mapping), Size how many were moved.
	Huge, Size uintptr
	file       *os.File
}

// File is the sealed, read-only memory file holding the code, for a
// child running the same executable to Adopt; nil after Adopt. It stays
// open until Close.
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
