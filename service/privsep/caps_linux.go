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
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
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
	// The bounding set needs CAP_SETPCAP, which a service manager may
	// have taken away already (then its bounding set is the limit);
	// lowering the effective and permitted sets below never does, so it
	// happens whatever became of this.
	var bsetErr error
	for c := 0; c <= last; c++ {
		if kept(c) {
			continue
		}
		if err := all(syscall.SYS_PRCTL, prCapbsetDrop, uintptr(c), 0); err != nil {
			if errors.Is(err, ErrCgo) {
				return err
			}
			if !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.EPERM) && bsetErr == nil {
				bsetErr = fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
			}
		}
	}
	if err := all(syscall.SYS_PRCTL, prCapAmbient, prCapAmbientClearAll, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
		bsetErr = errors.Join(bsetErr, fmt.Errorf("clearing the ambient capabilities: %w", err))
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
	return bsetErr
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
	// It never runs a program, and needs neither of these.
	"execve", "execveat", "userfaultfd",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	// (clone3 passes its flags in memory, out of the filter's sight: it
	// fails with ENOSYS, below, and clone is refused any namespace flag,
	// as unshare is.)
}

// namespaceFlags are clone's flags that make new namespaces.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWTIME

// Lockdown makes the engine not dumpable, sets no_new_privs and installs
// its seccomp filter on every thread (TSYNC). It refuses to run as root;
// ErrNoSeccomp is a warning (no_new_privs is then still set on every
// thread where the binary allows it).
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
		// Still no capabilities and another user; the filter is
		// missing, and no_new_privs where it cannot reach every thread.
		syscall.AllThreadsSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0)
		return ErrNoSeccomp
	}
	prog, err := engineFilter()
	if err != nil {
		return err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("seccomp filter: %w", err)
	}
	filter := make([]syscall.SockFilter, len(raw))
	for i, in := range raw {
		filter[i] = syscall.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	fprog := syscall.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	// no_new_privs on this thread, then the filter with TSYNC, which
	// gives every other thread both.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0); e != 0 {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", e)
	}
	if _, _, e := syscall.Syscall(unix.SYS_SECCOMP, seccompSetModeFilter, seccompFilterFlagTSync, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return fmt.Errorf("seccomp: %w", e)
	}
	runtime.KeepAlive(filter)
	return nil
}

const (
	prSetNoNewPrivs         = 38
	seccompSetModeFilter    = 1
	seccompFilterFlagTSync  = 1
	seccompRetKillProcess   = 0x80000000
	seccompDataArchOffset   = 4
	seccompDataNumberOffset = 0
)

// engineFilter is the engine's seccomp program: a system call from
// another architecture's ABI (x86's int 0x80) kills the process — the
// deny list is in native numbers only and would not see it, and the
// engine never makes one; x32 calls, which share x86-64's architecture,
// fail with ENOSYS (the library's own rule); then engineDenied, and clone
// with a namespace flag, fail with EPERM, clone3 with ENOSYS, and the
// rest is allowed.
func engineFilter() ([]bpf.Instruction, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("seccomp filter: %w", err)
	}
	var names []string
	for _, n := range engineDenied {
		if _, ok := info.SyscallNames[n]; ok {
			names = append(names, n)
		}
	}
	policy := seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Names: names, Action: seccomp.ActionErrno},
			// clone3 fails as on a kernel without it, so that a C
			// library (a cgo build) makes its threads with clone
			// instead; it takes EPERM for a refusal. Go's runtime
			// uses clone, and makes threads after the lockdown: a
			// read waiting in the kernel holds one (ntpclient).
			{Names: []string{"clone3"}, Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS)},
			{NamesWithCondtions: []seccomp.NameWithConditions{{Name: "clone", Conditions: seccomp.ArgumentConditions{
				{Argument: 0, Operation: seccomp.BitsSet, Value: namespaceFlags},
			}}}, Action: seccomp.ActionErrno},
		},
	}
	body, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("seccomp filter: %w", err)
	}
	guard := []bpf.Instruction{
		bpf.LoadAbsolute{Off: seccompDataArchOffset, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.ID), SkipTrue: 1},
		bpf.RetConstant{Val: seccompRetKillProcess},
	}
	return append(guard, body...), nil
}
