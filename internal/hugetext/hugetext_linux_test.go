package hugetext

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"
)

// The tests move a stand-in for the code (4 MiB of a file holding a
// pattern, mapped at a 2 MiB boundary) and for the read-only data (the
// file's next 2 MiB, mapped 2 MiB above) rather than the test binary's
// own, which are too small to hold a whole 2 MiB page; the executable's
// own are moved in cmd/timesync's TestServiceCodeOnHugePages. Remapping
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
	Breakpoint  string // what a forced write did, if not what it should
	Adopted     *report
	Data        *report // the data stand-in's Intact, Path, Perms, Inode, Rss, Pss
	Perms       string
}

func pattern(n uintptr) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 ^ i>>12 ^ i>>20*0x5b) // no two MiB alike
	}
	return b
}

// standIn maps 4 MiB of a file holding the pattern at a 2 MiB boundary,
// read-only and private as an executable's code is, and the file's next
// 2 MiB at dataAt(a), as its read-only data, and returns the address and
// the file (deleted already; the caller closes it).
func standIn(t interface{ Fatalf(string, ...any) }) (uintptr, *os.File) {
	f, err := os.CreateTemp("", "hugetext-test-")
	if err != nil {
		t.Fatalf("%v", err)
		return 0, nil
	}
	os.Remove(f.Name())
	if _, err := f.Write(pattern(standInSize + hugePage)); err != nil {
		t.Fatalf("%v", err)
		return 0, nil
	}
	res, err := unix.MmapPtr(-1, 0, nil, 2*standInSize+hugePage, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatalf("mmap: %v", err)
		return 0, nil
	}
	a := (uintptr(res) + hugePage - 1) &^ (hugePage - 1)
	if _, err := unix.MmapPtr(int(f.Fd()), 0, ptr(a), standInSize, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
		t.Fatalf("mmap: %v", err)
		return 0, nil
	}
	if _, err := unix.MmapPtr(int(f.Fd()), standInSize, ptr(dataAt(a)), hugePage, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
		t.Fatalf("mmap: %v", err)
		return 0, nil
	}
	return a, f
}

// dataAt is where standIn maps the data stand-in for the code at a: not
// next to it, where the two mappings of one file would merge into one.
func dataAt(a uintptr) uintptr { return a + standInSize + hugePage }

// standInParts are the stand-ins at a as Remap's parts.
func standInParts(a uintptr) []part {
	return []part{{start: a, n: standInSize, prot: code}, {start: dataAt(a), n: hugePage, off: standInSize, prot: data}}
}

type fatal struct{ err *string }

func (f fatal) Fatalf(format string, a ...any) { *f.err = fmt.Sprintf(format, a...) }

// describe fills r's view of the code stand-in at a, and r.Data's of the
// data stand-in.
func describe(r *report, a uintptr) {
	describeAt(r, a, standInSize, 0)
	r.Data = &report{}
	describeAt(r.Data, dataAt(a), hugePage, standInSize)
}

// describeAt fills r's view of the n bytes at a, the pattern's from off.
func describeAt(r *report, a, n, off uintptr) {
	r.Intact = bytes.Equal(at(a, n), pattern(off + n)[off:])
	b, _ := os.ReadFile("/proc/self/smaps")
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		if m, ok := parseMapsLine(l); ok {
			in = m.lo == a
			if in {
				r.Path, r.Perms = m.path, m.perms
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
	a, src := standIn(fatal{&r.Err})
	if r.Err != "" {
		return r
	}
	defer src.Close()
	if mdwe != "" {
		if err := denyWriteExecute(mdwe); err != nil {
			r.Err = err.Error()
			return r
		}
		// The rule bites: fresh memory cannot be made executable.
		p, _ := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		r.MDWE = fmt.Sprint(unix.Mprotect(p, unix.PROT_READ|unix.PROT_EXEC))
	}
	txt, err := remapParts(standInParts(a), src)
	if err != nil {
		r.Err, r.Unsupported = err.Error(), errors.Is(err, ErrUnsupported)
		describe(r, a)
		return r
	}
	describe(r, a)
	r.Huge, r.Size, r.Data.Huge, r.Data.Size = txt.Huge, txt.Size, txt.DataHuge, txt.DataSize
	// A second process running "the same code" adopts it while this one
	// waits (so the pages are mapped by both when it reads its Pss).
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=adopt")
	cmd.ExtraFiles = []*os.File{txt.File()}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		txt.Close()
		r.Err = fmt.Sprintf("adopting child: %v", err)
		return r
	}
	// A debugger's breakpoint (a forced write, as through ptrace or
	// /proc/PID/mem) lands in this process's copy of the page only.
	r.Breakpoint = breakpoint(a, txt.File())
	txt.Close()
	r.Adopted = &report{}
	if err := json.Unmarshal(out, r.Adopted); err != nil {
		r.Err = fmt.Sprintf("adopting child said %q: %v", out, err)
	}
	return r
}

// breakpoint writes a byte at a through /proc/self/mem and says what
// went wrong: the write refused, not seen at a, or seen in the file.
func breakpoint(a uintptr, f *os.File) string {
	const off = 100
	mem, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return err.Error()
	}
	defer mem.Close()
	was := at(a+off, 1)[0]
	if _, err := mem.WriteAt([]byte{0xcc}, int64(a+off)); err != nil {
		// A kernel that refuses forced writes everywhere
		// (proc_mem.force_override=never) refuses debuggers too.
		ctl, _ := unix.Mmap(-1, 0, 4096, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if _, cerr := mem.WriteAt([]byte{1}, int64(uintptr(unsafe.Pointer(&ctl[0])))); cerr != nil {
			return ""
		}
		return "refused: " + err.Error()
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return err.Error()
	}
	switch {
	case at(a+off, 1)[0] != 0xcc:
		return "the write is not seen"
	case b[0] != was:
		return "the write reached the shared copy"
	}
	return ""
}

func childAdopt(f *os.File) *report {
	r := &report{}
	a, src := standIn(fatal{&r.Err})
	if r.Err != "" {
		return r
	}
	defer src.Close()
	txt, err := adoptParts(f, standInParts(a), src)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	describe(r, a)
	r.Huge, r.Size, r.Data.Huge, r.Data.Size = txt.Huge, txt.Size, txt.DataHuge, txt.DataSize
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
		if collapseKnown() {
			t.Fatalf("refused as unsupported on a kernel that has it: %s", r.Err)
		}
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
		if !strings.HasPrefix(x.Path, "/memfd:timesync-text") || x.Perms != "r-xp" {
			t.Errorf("%s: the mapping is %q %s, want the memory file, r-xp", who, x.Path, x.Perms)
		}
		d := x.Data
		if d == nil {
			t.Fatalf("%s: no report of the data", who)
		}
		if !d.Intact {
			t.Errorf("%s: the data's bytes changed", who)
		}
		if d.Size != hugePage || d.Huge != hugePage {
			t.Errorf("%s: %d of %d bytes of data on huge pages, want all %d", who, d.Huge, d.Size, hugePage)
		}
		// Read-only data stays data: never executable.
		if !strings.HasPrefix(d.Path, "/memfd:timesync-text") || d.Perms != "r--p" || d.Inode != x.Inode {
			t.Errorf("%s: the data's mapping is %q %s inode %d, want the code's memory file (inode %d), r--p", who, d.Path, d.Perms, d.Inode, x.Inode)
		}
	}
	if r.Breakpoint != "" {
		t.Errorf("a debugger's write: %s", r.Breakpoint)
	}
	if r.Inode != r.Adopted.Inode {
		t.Errorf("the processes map different files (inodes %d and %d)", r.Inode, r.Adopted.Inode)
	}
	if a := r.Adopted; a.Rss != standInSize>>10 || a.Pss > a.Rss/2+8 {
		t.Errorf("adopting process: Rss %d kB, Pss %d kB: want %d and half of it (one copy for both)", a.Rss, a.Pss, standInSize>>10)
	}
	if d := r.Adopted.Data; d.Rss != hugePage>>10 || d.Pss > d.Rss/2+8 {
		t.Errorf("adopting process's data: Rss %d kB, Pss %d kB: want %d and half of it (one copy for both)", d.Rss, d.Pss, hugePage>>10)
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
	a, src := standIn(t)
	defer src.Close()
	defer unix.MunmapPtr(ptr(a), 2*standInSize)
	good := pattern(standInSize + hugePage)
	flipped := pattern(standInSize + hugePage)
	flipped[3*hugePage/2] ^= 1
	flippedData := pattern(standInSize + hugePage)
	flippedData[standInSize+5] ^= 1
	for _, c := range []struct {
		name, want string
		f          *os.File
	}{
		{"short", "bytes, this code's aligned parts are", sealedCopy(t, good[:len(good)-4096], seals)},
		{"other data", "the bytes differ", sealedCopy(t, flippedData, seals)},
		{"unsealed", "not sealed", sealedCopy(t, good, 0)},
		{"writable", "not sealed", sealedCopy(t, good, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW)},
		{"other bytes", "the bytes differ", sealedCopy(t, flipped, seals)},
		{"writable copy", "not sealed", sealedCopy(t, good, seals&^unix.F_SEAL_WRITE)},
	} {
		_, err := adoptParts(c.f, standInParts(a), src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
		var r report
		describe(&r, a)
		if r.Path != src.Name() || !r.Intact || r.Data.Path != src.Name() || !r.Data.Intact {
			t.Fatalf("%s: the stand-ins were touched: mappings %q and %q, intact %v and %v", c.name, r.Path, r.Data.Path, r.Intact, r.Data.Intact)
		}
	}
}

// A copy of the code alone (the parent left its read-only data where it
// was) is adopted for the code; the data stays.
func TestAdoptCodeOnly(t *testing.T) {
	a, src := standIn(t)
	defer src.Close()
	defer unix.MunmapPtr(ptr(a), 2*standInSize)
	txt, err := adoptParts(sealedCopy(t, pattern(standInSize), seals), standInParts(a), src)
	if err != nil && !collapseKnown() {
		t.Skipf("not on this kernel: %v", err)
	}
	if err != nil {
		t.Fatalf("adopt: %v", err)
	}
	var r report
	describe(&r, a)
	if txt.Size != standInSize || r.Path != "/memfd:test" || !r.Intact {
		t.Errorf("the code was not adopted: %d bytes, mapping %q, intact %v", txt.Size, r.Path, r.Intact)
	}
	if txt.DataSize != 0 || r.Data.Path != src.Name() || !r.Data.Intact {
		t.Errorf("the data moved: %d bytes, mapping %q, intact %v", txt.DataSize, r.Data.Path, r.Data.Intact)
	}
}

func TestParseMapsLine(t *testing.T) {
	m, ok := parseMapsLine("00400000-008ee000 r-xp 00001000 fe:01 1234                       /usr/bin/timesync (deleted)")
	if want := (mapping{lo: 0x400000, hi: 0x8ee000, perms: "r-xp", off: 0x1000, path: "/usr/bin/timesync"}); !ok || m != want {
		t.Errorf("got %+v %v, want %+v", m, ok, want)
	}
	if m, ok := parseMapsLine("7ffd1000-7ffd3000 rw-p 00000000 00:00 0"); !ok || m.path != "" {
		t.Errorf("anonymous: %+v %v", m, ok)
	}
	for _, l := range []string{"Rss:                4096 kB", "VmFlags: rd ex mr mw me", "THPeligible:    0", ""} {
		if _, ok := parseMapsLine(l); ok {
			t.Errorf("%q read as a mapping", l)
		}
	}
}

func TestKernelAtLeast(t *testing.T) {
	for _, c := range []struct {
		release string
		want    bool
	}{
		{"6.1.0-28-amd64", true}, {"6.18.44-fc-v1272", true}, {"6.0.19", false},
		{"5.19.0", false}, {"7.0", true}, {"6.1", true}, {"6", false}, {"", false}, {"6.1rc2", true},
	} {
		if got := kernelAtLeast(c.release, 6, 1); got != c.want {
			t.Errorf("kernelAtLeast(%q, 6, 1) = %v", c.release, got)
		}
	}
	for _, c := range []struct {
		release string
		want    bool
	}{{"6.18.44-fc-v1272", true}, {"6.1.0-57-amd64", false}, {"6.12.9", false}, {"7.1.0", true}} {
		if got := kernelAtLeast(c.release, 6, 18); got != c.want {
			t.Errorf("kernelAtLeast(%q, 6, 18) = %v", c.release, got)
		}
	}
}

// A real uprobe (perf's, as root) on the code: the kernel writes its trap
// into the process's pages and into every private mapping of the file
// made since, so the copy must be read where no trap can be, and the code
// moved only if memory is the file's. Otherwise the copy would carry the
// trap, no probe would own it, and the process would die of SIGTRAP.
func TestRemapRefusesUprobedCode(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the probed instruction is x86's nop")
	}
	b, err := os.ReadFile("/sys/bus/event_source/devices/uprobe/type")
	if err != nil {
		t.Skipf("no uprobe events here: %v", err)
	}
	var pmu uint32
	fmt.Sscan(string(b), &pmu)
	a, src := standIn(t)
	defer src.Close()
	defer unix.MunmapPtr(ptr(a), 2*standInSize)
	const off = hugePage + 4096
	if _, err := src.WriteAt([]byte{0x90, 0x90, 0x90, 0x90}, off); err != nil { // nops, in the page cache the mapping shows
		t.Fatal(err)
	}
	// The probe names the file by a path: the stand-in's is deleted, so
	// go through this process's descriptor of it.
	path, _ := unix.BytePtrFromString(fmt.Sprintf("/proc/self/fd/%d", src.Fd()))
	attr := unix.PerfEventAttr{Type: pmu, Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{})), Ext1: uint64(uintptr(unsafe.Pointer(path))), Ext2: off, Bits: unix.PerfBitDisabled}
	pfd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		t.Skipf("cannot attach a uprobe here: %v", err)
	}
	defer unix.Close(pfd)
	runtime.KeepAlive(path) // passed to the kernel as a number
	if got := at(a+off, 1)[0]; got != 0xcc {
		t.Skipf("the uprobe left no trap in this process's code (%#x)", got)
	}
	wantRefused(t, "code with a uprobe in it", a, src)
}

// wantRefused checks that Remap refuses the stand-in at a, whose memory
// is no longer src's, and leaves it where it is.
func wantRefused(t *testing.T, what string, a uintptr, src *os.File) {
	t.Helper()
	_, err := remapParts(standInParts(a), src)
	if err == nil || !strings.Contains(err.Error(), "not the executable's") {
		t.Fatalf("remap of %s: %v, want a refusal", what, err)
	}
	var r report
	describe(&r, a)
	if r.Path != src.Name() {
		t.Errorf("the code was moved anyway (mapping %q)", r.Path)
	}
}

// The copy comes from the executable, and only if the code in memory is
// the executable's: a uprobe's trap (here a forced write, as the kernel
// makes one) would otherwise be copied into code no probe owns any more.
func TestRemapRefusesPatchedCode(t *testing.T) {
	a, src := patchedStandIn(t, func(a uintptr) uintptr { return a + hugePage + 5 })
	wantRefused(t, "patched code", a, src)
}

// patchedStandIn is standIn with the byte at where(a) made 0xcc by a
// forced write (as the kernel writes a uprobe's trap, or a loader a
// relocation), unmapped and closed when the test ends.
func patchedStandIn(t *testing.T, where func(a uintptr) uintptr) (uintptr, *os.File) {
	t.Helper()
	a, src := standIn(t)
	t.Cleanup(func() {
		unix.MunmapPtr(ptr(a), 2*standInSize)
		src.Close()
	})
	mem, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		t.Skip(err)
	}
	defer mem.Close()
	if _, err := mem.WriteAt([]byte{0xcc}, int64(where(a))); err != nil {
		t.Skipf("no forced writes here: %v", err)
	}
	return a, src
}

// Read-only data that is not the executable's (relocated: the first
// read-only mapping of an externally linked build may be its RELRO)
// stays where it is; the code still moves.
func TestRemapLeavesChangedData(t *testing.T) {
	a, src := patchedStandIn(t, func(a uintptr) uintptr { return dataAt(a) + 5 })
	txt, err := remapParts(standInParts(a), src)
	if errors.Is(err, ErrUnsupported) && !collapseKnown() {
		t.Skipf("not on this kernel: %v", err)
	}
	if err != nil {
		t.Fatalf("remap: %v", err)
	}
	defer txt.Close()
	var r report
	describe(&r, a)
	if txt.Size != standInSize || !strings.HasPrefix(r.Path, "/memfd:timesync-text") || !r.Intact {
		t.Errorf("the code did not move: %d bytes, mapping %q, intact %v", txt.Size, r.Path, r.Intact)
	}
	if txt.DataSize != 0 || r.Data.Path != src.Name() || at(dataAt(a)+5, 1)[0] != 0xcc {
		t.Errorf("the changed data moved: %d bytes, mapping %q", txt.DataSize, r.Data.Path)
	}
	if st, err := txt.File().Stat(); err != nil {
		t.Error(err)
	} else if st.Size() != standInSize {
		t.Errorf("the memory file holds %d bytes, want the code's %d", st.Size(), standInSize)
	}
}
