package privsep

// caps_linux.go: the parent's capabilities after set-up, and the engine's
// lockdown (no_new_privs and a seccomp filter on every thread).

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
)

// Capabilities the parent keeps (linux/capability.h numbers).
const (
	capKill           = 5  // signal the engine, which runs as another user
	capSetgid         = 6  // start the engine under its user
	capSetuid         = 7  //   (again after it died)
	capNetBindService = 10 // bind port 123 for a listen line added later
	capSysTime        = 25 // the clock
)

// ParentCapabilities are the capabilities the parent keeps.
var ParentCapabilities = []int{capKill, capSetgid, capSetuid, capNetBindService, capSysTime}

// ErrCgo: the capabilities cannot be changed on every thread of a binary
// built with cgo (syscall.AllThreadsSyscall refuses); release builds are
// static (CGO_ENABLED=0).
var ErrCgo = errors.New("cannot change the capabilities of every thread in a cgo build")

const (
	linuxCapabilityVersion3 = 0x20080522
	prCapbsetDrop           = 24
	prCapAmbient            = 47
	prCapAmbientClearAll    = 4
	prSetDumpable           = 4
)

type capHeader struct {
	version uint32
	pid     int32
}

type capData struct {
	effective, permitted, inheritable uint32
}

// DropCapabilities leaves every thread of this process with only keep,
// in its effective and permitted sets and its bounding set, and none
// inheritable or ambient. Only root (or CAP_SETPCAP) can call it.
func DropCapabilities(keep []int) error {
	last := 40
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	kept := func(c int) bool {
		for _, k := range keep {
			if k == c {
				return true
			}
		}
		return false
	}
	all := func(trap, a1, a2, a3 uintptr) error {
		_, _, e := syscall.AllThreadsSyscall(trap, a1, a2, a3)
		if e == syscall.ENOTSUP {
			return ErrCgo
		}
		if e != 0 {
			return e
		}
		return nil
	}
	for c := 0; c <= last; c++ {
		if kept(c) {
			continue
		}
		if err := all(syscall.SYS_PRCTL, prCapbsetDrop, uintptr(c), 0); err != nil {
			if errors.Is(err, syscall.EINVAL) {
				continue // not known to this kernel
			}
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	if err := all(syscall.SYS_PRCTL, prCapAmbient, prCapAmbientClearAll, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("clearing the ambient capabilities: %w", err)
	}
	var data [2]capData
	for _, c := range keep {
		data[c/32].effective |= 1 << (c % 32)
		data[c/32].permitted |= 1 << (c % 32)
	}
	hdr := capHeader{version: linuxCapabilityVersion3}
	if err := all(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	runtime.KeepAlive(&hdr)
	runtime.KeepAlive(&data)
	return nil
}

// ErrNoSeccomp: the kernel has no seccomp; the engine runs without its
// filter (a warning, not a reason to stop).
var ErrNoSeccomp = errors.New("this kernel has no seccomp: the engine runs without its system call filter")

// engineDenied are system calls the engine never makes: setting the
// clock, and what would help an attacker who took it over reach further
// (debugging other processes, mounting, loading modules, rebooting,
// keyrings, BPF, perf). With no capabilities most would fail anyway;
// the filter makes that independent of the capability checks.
var engineDenied = []string{
	"adjtimex", "clock_adjtime", "clock_settime", "settimeofday",
	"ptrace", "process_vm_writev", "process_vm_readv",
	"mount", "umount2", "pivot_root", "chroot", "swapon", "swapoff",
	"reboot", "kexec_load", "init_module", "finit_module", "delete_module",
	"add_key", "request_key", "keyctl", "bpf", "perf_event_open",
	"unshare", "setns", "acct", "quotactl", "iopl", "ioperm",
}

// Lockdown makes the engine not dumpable, sets no_new_privs and installs
// its seccomp filter on every thread (TSYNC). It refuses to run as root;
// ErrNoSeccomp is a warning.
func Lockdown() error {
	if os.Geteuid() == 0 || os.Getuid() == 0 {
		return errors.New("the engine must not run as root")
	}
	// Not dumpable: other processes of the same user can neither trace
	// the engine nor read its memory (a property of the process, not of
	// a thread).
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0); e != 0 {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", e)
	}
	if !seccomp.Supported() {
		// Still no capabilities and another user; only the filter (and
		// no_new_privs on every thread, which comes with it) is missing.
		return ErrNoSeccomp
	}
	names := make([]string, 0, len(engineDenied))
	for _, n := range engineDenied {
		if _, ok := syscallNumber(n); ok {
			names = append(names, n)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return seccomp.LoadFilter(seccomp.Filter{
		NoNewPrivs: true,
		Flag:       seccomp.FilterFlagTSync,
		Policy: seccomp.Policy{
			DefaultAction: seccomp.ActionAllow,
			Syscalls:      []seccomp.SyscallGroup{{Names: names, Action: seccomp.ActionErrno}},
		},
	})
}

// syscallNumber reports whether this architecture has the named system
// call (some, like iopl, exist on x86 only).
func syscallNumber(name string) (int, bool) {
	info, err := arch.GetInfo("")
	if err != nil {
		return 0, false
	}
	n, ok := info.SyscallNames[name]
	return n, ok
}
