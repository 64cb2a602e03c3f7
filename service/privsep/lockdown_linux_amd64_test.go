package privsep

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/timesync/timesync/service/privsep/internal/abi32"
)

// The test binary re-executed as uid 65534 with this variable set runs
// Lockdown and then the system call it names, and reports.
const lockdownEnv = "TIMESYNC_PRIVSEP_LOCKDOWN_PROBE"

func TestMain(m *testing.M) {
	if probe := os.Getenv(lockdownEnv); probe != "" {
		os.Exit(lockdownProbe(probe))
	}
	os.Exit(m.Run())
}

func lockdownProbe(probe string) int {
	if probe == "int80-unfiltered" {
		// Before any lockdown: whether this kernel has the 32-bit
		// entry at all (some are built or booted without it, and then
		// int 0x80 faults with SIGSEGV whatever the filter says).
		faulted := func() (faulted bool) {
			debug.SetPanicOnFault(true)
			defer func() { faulted = recover() != nil }()
			abi32.Syscall(20, 0) // getpid in the 32-bit table
			return false
		}()
		if faulted {
			fmt.Println("int 0x80 faults")
			return 6
		}
		fmt.Println("int 0x80 works")
		return 0
	}
	if err := Lockdown(); err != nil {
		fmt.Println("lockdown:", err)
		return 3
	}
	var err error
	switch probe {
	case "unshare":
		err = syscall.Unshare(syscall.CLONE_NEWUSER)
	case "ptrace":
		_, _, e := syscall.RawSyscall(syscall.SYS_PTRACE, syscall.PTRACE_TRACEME, 0, 0)
		if e != 0 {
			err = e
		}
	case "exec":
		err = syscall.Exec("/bin/true", []string{"true"}, nil)
	case "settimeofday":
		// Never a time the kernel would take: microseconds out of range
		// are refused (EINVAL) before any permission check, so if the
		// filter let this call through it still could not change this
		// machine's clock; the filter's own answer is EPERM. (The probe
		// also runs as uid 65534, without CAP_SYS_TIME.)
		if os.Getuid() == 0 || os.Geteuid() == 0 {
			fmt.Println("refusing: the probe runs as root")
			return 4
		}
		tv := syscall.Timeval{Sec: 0, Usec: 2_000_000}
		err = syscall.Settimeofday(&tv)
	case "clone-newuser":
		// A raw clone: were it allowed, the child returns 0 here and
		// leaves at once.
		r, _, e := syscall.RawSyscall(syscall.SYS_CLONE, syscall.CLONE_NEWUSER|uintptr(syscall.SIGCHLD), 0, 0)
		if e == 0 && r == 0 {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
		}
		if e != 0 {
			err = e
		}
	case "clone3":
		// Never a clone the kernel would make: a zero-sized argument is
		// EINVAL if the filter let the call through.
		_, _, e := syscall.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
		if e != 0 {
			err = e
		}
	case "threads":
		// New threads after the lockdown (the runtime's, by clone):
		// each goroutine holds its own while it sleeps.
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				runtime.LockOSThread()
				time.Sleep(10 * time.Millisecond)
			})
		}
		wg.Wait()
	case "getpid":
		syscall.Getpid()
	case "int80-getpid":
		abi32.Syscall(20, 0) // getpid in the 32-bit table
	case "int80-unshare":
		abi32.Syscall(310, syscall.CLONE_NEWUSER) // unshare in the 32-bit table
	}
	if errors.Is(err, syscall.EPERM) {
		fmt.Println("EPERM")
		return 0
	}
	if errors.Is(err, syscall.ENOSYS) {
		fmt.Println("ENOSYS")
		return 5
	}
	fmt.Println("allowed:", err)
	return 1
}

// TestLockdownFilter runs the engine's lockdown in a child process under
// uid 65534: the denied calls fail with EPERM, ordinary ones work, and a
// call through another ABI (int 0x80) kills the process, so that the
// 32-bit numbers cannot slip past the native deny list.
func TestLockdownFilter(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the probe as uid 65534")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("the int 0x80 probe is x86-64's")
	}
	// A copy of this test binary that uid 65534 may run.
	dir, err := os.MkdirTemp("", "lockdown-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "probe")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(probe string) (string, *os.ProcessState) {
		cmd := exec.Command(bin, "-test.run=^$")
		cmd.Env = append(os.Environ(), lockdownEnv+"="+probe)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil {
			t.Fatalf("probe %s: %v", probe, err)
		}
		return string(out), cmd.ProcessState
	}
	for _, p := range []string{"unshare", "clone-newuser", "ptrace", "exec", "settimeofday"} {
		if out, st := run(p); st == nil || st.ExitCode() != 0 {
			t.Errorf("%s after lockdown: %q (%v), want EPERM", p, out, st)
		}
	}
	for _, p := range []string{"getpid", "threads"} {
		if out, st := run(p); st == nil || st.ExitCode() != 1 || out != "allowed: <nil>\n" {
			t.Errorf("%s after lockdown: %q (%v), want allowed", p, out, st)
		}
	}
	// clone3 looks absent, so that a C library falls back to clone.
	if out, st := run("clone3"); st == nil || st.ExitCode() != 5 {
		t.Errorf("clone3 after lockdown: %q (%v), want ENOSYS", out, st)
	}
	if out, st := run("int80-unfiltered"); st.ExitCode() != 0 {
		if st.ExitCode() != 6 {
			t.Fatalf("int 0x80 before any lockdown: %q (%v); want it to work, or to fault where the kernel has no 32-bit entry", firstLine(out), st)
		}
		t.Logf("this kernel has no 32-bit system call entry (int 0x80 faults before any lockdown): nothing can slip past the filter that way; the int 0x80 probes are skipped")
		return
	}
	for _, p := range []string{"int80-getpid", "int80-unshare"} {
		out, st := run(p)
		ws, _ := st.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
			t.Errorf("%s after lockdown: %q (%v), want killed by SIGSYS", p, out, st)
		}
	}
}

// firstLine is s up to its first newline (a crashed probe prints its
// goroutines' stacks after it).
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
