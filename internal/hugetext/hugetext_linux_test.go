package hugetext

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"
)

// The tests move a stand-in for the code (4 MiB of anonymous memory, 2 MiB
// aligned, filled with a pattern) rather than the test binary's own code,
// which is too small to hold a whole 2 MiB page; the executable's own
// text is moved in cmd/timesync's TestServiceCodeOnHugePages. Remapping
// and MDWE last for a process's life, so each case that needs them runs
// in a child of the test binary (childEnv).
const childEnv = "HUGETEXT_TEST_CHILD"

const standInSize = 2 * hugePage

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "remap":
		json.NewEncoder(os.Stdout).Encode(childRemap(os.Getenv("HUGETEXT_TEST_MDWE")))
	case "adopt":
		json.NewEncoder(os.Stdout).Encode(childAdopt(os.NewFile(3, "text")))
	}
	os.Exit(0)
}

// report is what a child found.
type report struct {
	Err         string
	Unsupported bool
	Huge, Size  uintptr
	Intact      bool   // the stand-in's bytes are the pattern after the move
	Path        string // the stand-in's mapping, from /proc/self/maps
	Inode       uint64
	Rss, Pss    uint64 // of that mapping, kB
	MDWE        string // what mprotect(PROT_EXEC) on fresh memory met
	Adopted     *report
}

func pattern(n uintptr) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 ^ i>>12)
	}
	return b
}

// standIn maps 4 MiB at a 2 MiB boundary and fills it with the pattern.
func standIn(t interface{ Fatalf(string, ...any) }) uintptr {
	res, _, e := unix.Syscall6(unix.SYS_MMAP, 0, standInSize+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uintptr(0), 0)
	if e != 0 {
		t.Fatalf("mmap: %v", e)
	}
	a := (res + hugePage - 1) &^ (hugePage - 1)
	copy(at(a, standInSize), pattern(standInSize))
	return a
}

type fatal struct{ err *string }

func (f fatal) Fatalf(format string, a ...any) { *f.err = fmt.Sprintf(format, a...) }

// describe fills r's view of the mapping at a.
func describe(r *report, a uintptr) {
	r.Intact = bytes.Equal(at(a, standInSize), pattern(standInSize))
	b, _ := os.ReadFile("/proc/self/smaps")
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		if lo, _, _, path, ok := parseMapsLine(l); ok {
			in = lo == a
			if in {
				r.Path = path
				fmt.Sscan(strings.Fields(l)[4], &r.Inode)
			}
			continue
		}
		if in {
			k, v, _ := strings.Cut(l, ":")
			switch k {
			case "Rss":
				fmt.Sscan(v, &r.Rss)
			case "Pss":
				fmt.Sscan(v, &r.Pss)
			}
		}
	}
}

// denyWriteExecute puts the process under MemoryDenyWriteExecute in one
// of systemd's two forms: "prctl", the kernel's PR_SET_MDWE (systemd 253
// and later where the kernel has it), which refuses a mapping that is
// writable and executable or gains execute permission; "seccomp", the
// filter of systemd 252 and of kernels without it, which refuses mmap
// with PROT_WRITE and PROT_EXEC together and mprotect with PROT_EXEC at
// all.
func denyWriteExecute(form string) error {
	switch form {
	case "prctl":
		if err := unix.Prctl(unix.PR_SET_MDWE, unix.PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_MDWE): %w", err)
		}
	case "seccomp":
		return seccomp.LoadFilter(seccomp.Filter{NoNewPrivs: true, Flag: seccomp.FilterFlagTSync, Policy: seccomp.Policy{
			DefaultAction: seccomp.ActionAllow,
			Syscalls: []seccomp.SyscallGroup{{Action: seccomp.ActionErrno, NamesWithCondtions: []seccomp.NameWithConditions{
				{Name: "mmap", Conditions: seccomp.ArgumentConditions{
					{Argument: 2, Operation: seccomp.BitsSet, Value: unix.PROT_WRITE},
					{Argument: 2, Operation: seccomp.BitsSet, Value: unix.PROT_EXEC},
				}},
				{Name: "mprotect", Conditions: seccomp.ArgumentConditions{{Argument: 2, Operation: seccomp.BitsSet, Value: unix.PROT_EXEC}}},
			}}},
		}})
	}
	return nil
}

func childRemap(mdwe string) *report {
	r := &report{}
	a := standIn(fatal{&r.Err})
	if r.Err != "" {
		return r
	}
	if mdwe != "" {
		if err := denyWriteExecute(mdwe); err != nil {
			r.Err = err.Error()
			return r
		}
		// The rule bites: fresh memory cannot be made executable.
		p, _ := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		r.MDWE = fmt.Sprint(unix.Mprotect(p, unix.PROT_READ|unix.PROT_EXEC))
	}
	txt, err := remapRange(a, standInSize)
	if err != nil {
		r.Err, r.Unsupported = err.Error(), errors.Is(err, ErrUnsupported)
		describe(r, a)
		return r
	}
	r.Huge, r.Size = txt.Huge, txt.Size
	describe(r, a)
	// A second process running "the same code" adopts it while this one
	// waits (so the pages are mapped by both when it reads its Pss).
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=adopt")
	cmd.ExtraFiles = []*os.File{txt.File()}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	txt.Close()
	if err != nil {
		r.Err = fmt.Sprintf("adopting child: %v", err)
		return r
	}
	r.Adopted = &report{}
	if err := json.Unmarshal(out, r.Adopted); err != nil {
		r.Err = fmt.Sprintf("adopting child said %q: %v", out, err)
	}
	return r
}

func childAdopt(f *os.File) *report {
	r := &report{}
	a := standIn(fatal{&r.Err})
	if r.Err != "" {
		return r
	}
	txt, err := adoptRange(f, a, standInSize)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.Huge, r.Size = txt.Huge, txt.Size
	describe(r, a)
	return r
}

func runChild(t *testing.T, mdwe string) *report {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=remap", "HUGETEXT_TEST_MDWE="+mdwe)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v (%s)", err, out)
	}
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child said %q: %v", out, err)
	}
	return &r
}

// The copy is on huge pages in both processes, holds the same bytes, and
// is one set of pages: each process is charged half (Pss = Rss/2).
func checkMoved(t *testing.T, r *report) {
	t.Helper()
	if r.Unsupported {
		t.Skipf("not on this kernel: %s", r.Err)
	}
	if r.Err != "" {
		t.Fatalf("remap: %s", r.Err)
	}
	for who, x := range map[string]*report{"remapping process": r, "adopting process": r.Adopted} {
		if x == nil {
			t.Fatalf("%s: no report", who)
		}
		if x.Err != "" {
			t.Fatalf("%s: %s", who, x.Err)
		}
		if !x.Intact {
			t.Errorf("%s: the bytes changed", who)
		}
		if x.Size != standInSize || x.Huge != standInSize {
			t.Errorf("%s: %d of %d bytes on huge pages, want all %d", who, x.Huge, x.Size, standInSize)
		}
		if !strings.HasPrefix(x.Path, "/memfd:timesync-text") {
			t.Errorf("%s: the mapping is %q, want the memory file", who, x.Path)
		}
	}
	if r.Inode != r.Adopted.Inode {
		t.Errorf("the processes map different files (inodes %d and %d)", r.Inode, r.Adopted.Inode)
	}
	if a := r.Adopted; a.Rss != standInSize>>10 || a.Pss > a.Rss/2+8 {
		t.Errorf("adopting process: Rss %d kB, Pss %d kB: want %d and half of it (one copy for both)", a.Rss, a.Pss, standInSize>>10)
	}
}

func TestRemapAndAdopt(t *testing.T) {
	checkMoved(t, runChild(t, ""))
}

// Under the unit's MemoryDenyWriteExecute=yes, in either form, the move
// still works: nothing it maps is writable and executable, no mapping
// gains execute permission, and it never calls mprotect.
func TestRemapUnderMDWE(t *testing.T) {
	for _, form := range []string{"prctl", "seccomp"} {
		t.Run(form, func(t *testing.T) {
			r := runChild(t, form)
			if strings.HasPrefix(r.Err, "prctl(PR_SET_MDWE)") {
				t.Skipf("no MDWE in this kernel: %s", r.Err)
			}
			if !strings.Contains(r.MDWE, "not permitted") && !strings.Contains(r.MDWE, "permission denied") {
				t.Fatalf("MDWE is not in force: mprotect(PROT_EXEC) on fresh memory gave %q (%s)", r.MDWE, r.Err)
			}
			checkMoved(t, r)
		})
	}
}

// sealedCopy is a memory file holding b, sealed with s.
func sealedCopy(t *testing.T, b []byte, s int) *os.File {
	t.Helper()
	fd, err := unix.MemfdCreate("test", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		t.Skipf("memfd_create: %v", err)
	}
	f := os.NewFile(uintptr(fd), "test")
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if s != 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, s); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// Adopt maps only a sealed file holding exactly this code; anything else
// leaves the code alone.
func TestAdoptRefuses(t *testing.T) {
	a := standIn(t)
	defer unix.Syscall(unix.SYS_MUNMAP, a, standInSize, 0)
	good := pattern(standInSize)
	flipped := pattern(standInSize)
	flipped[3*hugePage/2] ^= 1
	for _, c := range []struct {
		name, want string
		f          *os.File
	}{
		{"short", "bytes, this code's aligned part is", sealedCopy(t, good[:standInSize-4096], seals)},
		{"unsealed", "not sealed", sealedCopy(t, good, 0)},
		{"writable", "not sealed", sealedCopy(t, good, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW)},
		{"other bytes", "the bytes differ", sealedCopy(t, flipped, seals)},
	} {
		_, err := adoptRange(c.f, a, standInSize)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
		var r report
		describe(&r, a)
		if r.Path != "" || !r.Intact {
			t.Fatalf("%s: the stand-in was touched: mapping %q, intact %v", c.name, r.Path, r.Intact)
		}
	}
}

func TestParseMapsLine(t *testing.T) {
	lo, hi, perms, path, ok := parseMapsLine("00400000-008ee000 r-xp 00000000 fe:01 1234                       /usr/bin/timesync (deleted)")
	if !ok || lo != 0x400000 || hi != 0x8ee000 || perms != "r-xp" || path != "/usr/bin/timesync" {
		t.Errorf("got %#x %#x %q %q %v", lo, hi, perms, path, ok)
	}
	if _, _, _, path, ok := parseMapsLine("7ffd1000-7ffd3000 rw-p 00000000 00:00 0"); !ok || path != "" {
		t.Errorf("anonymous: %q %v", path, ok)
	}
	for _, l := range []string{"Rss:                4096 kB", "VmFlags: rd ex mr mw me", ""} {
		if _, _, _, _, ok := parseMapsLine(l); ok {
			t.Errorf("%q read as a mapping", l)
		}
	}
}
