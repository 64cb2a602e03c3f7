//go:build linux

package hugetext

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

const hugePage = 2 << 20

// seals make the memory file immutable for good: no write, no resizing,
// no unsealing, by anyone holding it.
const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// Remap copies the 2 MiB-aligned part of this executable's code from the
// executable into a sealed memory file, has the kernel put that on huge
// pages and maps it over the code. On an error the code is as it was.
func Remap() (*Text, error) {
	c, err := findCode()
	if err != nil {
		return nil, err
	}
	exe, err := os.Open("/proc/self/exe") // the running inode, even if replaced on disk since
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	return remapRange(c.start, c.n, exe, c.off)
}

// code is the part of the executable's code made of whole 2 MiB pages:
// n bytes at start, from offset off of the executable.
type code struct {
	start, n uintptr
	off      int64
}

// remapRange is Remap for the n bytes at hs (2 MiB-aligned, a multiple of
// 2 MiB, mapped for the process's life) that are the n bytes at offset off
// of src.
func remapRange(hs, n uintptr, src *os.File, off int64) (*Text, error) {
	// The copy is made from the file, not from memory: a uprobe (an eBPF
	// agent's, perf's) or a debugger's breakpoint is a trap written into
	// the process's own page, which the copy would keep for good while
	// the kernel, finding no probe in the new file, answered it with
	// SIGTRAP. If memory differs from the file, the code stays. The file
	// is read with pread, into memory outside Go's heap: not through a
	// private mapping, into which the kernel writes uprobes' traps as
	// into the code's own.
	file, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("reading the executable: %w", err)
	}
	defer unix.Munmap(file)
	for done := 0; done < len(file); {
		r, err := unix.Pread(int(src.Fd()), file[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err == nil && r == 0 {
			err = unix.EIO // the executable is shorter than its mapping
		}
		if err != nil {
			return nil, fmt.Errorf("reading the executable: %w", err)
		}
		done += r
	}
	if !bytes.Equal(file, at(hs, n)) {
		return nil, errors.New("the code in memory is not the executable's (a uprobe or a breakpoint in it?)")
	}
	fd, err := unix.MemfdCreate("timesync-text", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err == unix.EACCES {
		// vm.memfd_noexec=2 (Linux 6.3 to 6.5) refuses a memory file
		// that could be executed as a program; this one never is
		// (mapping it executable is another matter, which that seal
		// leaves alone).
		var err2 error
		if fd, err2 = unix.MemfdCreate("timesync-text", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_NOEXEC_SEAL); err2 == nil {
			err = nil
		}
	}
	if err == unix.ENOSYS {
		return nil, fmt.Errorf("%w: memfd_create: %v", ErrUnsupported, err)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:timesync-text")
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	for done := 0; done < len(file); {
		w, err := unix.Pwrite(fd, file[done:], int64(done))
		if err == unix.EINTR {
			continue
		}
		if err == nil && w == 0 {
			err = unix.EIO
		}
		if err != nil {
			return nil, fmt.Errorf("copying the code: %w", err)
		}
		done += w
	}
	// Only its owner may open it again, and then only to read it (the
	// seals already forbid any change through any descriptor).
	if err := unix.Fchmod(fd, 0o400); err != nil {
		return nil, fmt.Errorf("the copy's mode: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		return nil, fmt.Errorf("sealing the copy: %w", err)
	}
	// Collapse it somewhere harmless first: if the kernel will not, the
	// code is left alone rather than moved to 4 KiB pages of shared
	// memory for nothing.
	if err := collapseAside(fd, n); err != nil {
		return nil, err
	}
	t, err := mapOver(fd, hs, n)
	if err != nil {
		return nil, err
	}
	if t.Huge == 0 {
		// Mapped, but on small pages after all: the executable's own
		// pages are as good and cost no extra memory.
		restore(hs, n, src, off)
		return nil, errors.New("the kernel mapped the copy on 4 KiB pages")
	}
	// The descriptor a child gets is read-only too.
	if ro, err := os.Open("/proc/self/fd/" + strconv.Itoa(fd)); err == nil {
		f.Close()
		f = ro
	}
	t.file = f
	ok = true
	return t, nil
}

// Adopt maps the code Remap put in f, in another process running the same
// executable, over this process's code, once it has checked that f is
// sealed and holds exactly the code this process runs. The caller closes
// f. It refuses a copy made by another build (an engine started from an
// upgraded executable) or at another load address (a position-independent
// build): Remap is then the way.
func Adopt(f *os.File) (*Text, error) {
	c, err := findCode()
	if err != nil {
		return nil, err
	}
	t, err := adoptRange(f, c.start, c.n)
	if err != nil || t.Huge != 0 {
		return t, err
	}
	if exe, err := os.Open("/proc/self/exe"); err == nil {
		restore(c.start, c.n, exe, c.off)
		exe.Close()
	}
	return nil, errors.New("the kernel mapped the copy on 4 KiB pages")
}

// adoptRange is Adopt for the n bytes at hs.
func adoptRange(f *os.File, hs, n uintptr) (*Text, error) {
	fd := int(f.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if uintptr(st.Size) != n {
		return nil, fmt.Errorf("not this executable's code: %d bytes, this code's aligned part is %d", st.Size, n)
	}
	got, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil || got&seals != seals {
		return nil, fmt.Errorf("the code's copy is not sealed (seals %#x, %v)", got, err)
	}
	m, err := unix.Mmap(fd, 0, int(n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("reading the code's copy: %w", err)
	}
	same := bytes.Equal(m, at(hs, n))
	unix.Munmap(m)
	if !same {
		return nil, errors.New("not the code this process runs: the bytes differ")
	}
	return mapOver(fd, hs, n)
}

// findCode finds the mapping of this executable's code (the one holding
// this function) and its part made of whole 2 MiB pages.
func findCode() (code, error) {
	pc, _, _, _ := runtime.Caller(0)
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return code{}, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		m, ok := parseMapsLine(sc.Text())
		if !ok || pc < m.lo || pc >= m.hi {
			continue
		}
		if strings.HasPrefix(m.path, "/memfd:") {
			return code{}, errors.New("the code is already on huge pages")
		}
		if !strings.HasPrefix(m.perms, "r-x") || m.path == "" {
			return code{}, fmt.Errorf("the code's mapping is %s %q", m.perms, m.path)
		}
		s := (m.lo + hugePage - 1) &^ (hugePage - 1)
		e := m.hi &^ (hugePage - 1)
		if e <= s {
			return code{}, fmt.Errorf("%w: the code (%d KiB) has no whole 2 MiB page", ErrUnsupported, (m.hi-m.lo)>>10)
		}
		return code{start: s, n: e - s, off: m.off + int64(s-m.lo)}, nil
	}
	return code{}, errors.New("the code's mapping is not in /proc/self/maps")
}

// mapping is a line of /proc/PID/maps: "lo-hi perms offset dev inode [path]".
type mapping struct {
	lo, hi uintptr
	perms  string
	off    int64
	path   string
}

func parseMapsLine(l string) (m mapping, ok bool) {
	fl := strings.Fields(l)
	if len(fl) < 5 {
		return m, false
	}
	a, b, found := strings.Cut(fl[0], "-")
	x, err1 := strconv.ParseUint(a, 16, 64)
	y, err2 := strconv.ParseUint(b, 16, 64)
	o, err3 := strconv.ParseUint(fl[2], 16, 64)
	if !found || err1 != nil || err2 != nil || err3 != nil {
		return m, false
	}
	m = mapping{lo: uintptr(x), hi: uintptr(y), perms: fl[1], off: int64(o)}
	if len(fl) >= 6 {
		m.path = fl[5]
	}
	return m, true
}

// collapseAside maps the file read-only at a 2 MiB-aligned scratch
// address and asks the kernel to put it on huge pages (they stay in the
// file when the scratch mapping goes).
func collapseAside(fd int, n uintptr) error {
	res, err := unix.MmapPtr(-1, 0, nil, n+hugePage, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return fmt.Errorf("reserving scratch space: %w", err)
	}
	defer unix.MunmapPtr(res, n+hugePage)
	a := (uintptr(res) + hugePage - 1) &^ (hugePage - 1)
	if _, err := unix.MmapPtr(fd, 0, ptr(a), n, unix.PROT_READ, unix.MAP_SHARED|unix.MAP_FIXED); err != nil {
		return fmt.Errorf("mapping the copy: %w", err)
	}
	if err := unix.Madvise(at(a, n), unix.MADV_COLLAPSE); err != nil {
		if errors.Is(err, unix.EINVAL) && !collapseKnown() {
			return fmt.Errorf("%w: the kernel will not collapse it (madvise(MADV_COLLAPSE): %v)", ErrUnsupported, err)
		}
		return fmt.Errorf("madvise(MADV_COLLAPSE): %w", err)
	}
	return nil
}

// collapseKnown reports whether the kernel is one that collapses a memory
// file (huge pages not denied to shared memory), so that an EINVAL from
// MADV_COLLAPSE is a failure to report, not a kernel without it.
// MADV_COLLAPSE came in 6.1, but Debian 12's 6.1 answers EINVAL for a
// memfd (seen in the VM test's guest); 6.18 collapses it. Between them
// EINVAL counts as "not supported here".
func collapseKnown() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	if !kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 6, 18) {
		return false
	}
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/shmem_enabled")
	return err == nil && !bytes.Contains(b, []byte("[deny]"))
}

// kernelAtLeast compares a release like "6.18.44-fc" with major.minor.
func kernelAtLeast(release string, major, minor int) bool {
	a, rest, _ := strings.Cut(release, ".")
	b, _, _ := strings.Cut(rest, ".")
	if i := strings.IndexFunc(b, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		b = b[:i] // "1rc2", "19-amd64"
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return x > major || x == major && y >= minor
}

// mapOver maps the file over the code at hs: private (a debugger's
// breakpoint copies the page it writes), read-only and executable from
// the start, so it gains no permission. The kernel maps the file's huge
// pages whole when asked to collapse again.
func mapOver(fd int, hs, n uintptr) (*Text, error) {
	if _, err := unix.MmapPtr(fd, 0, ptr(hs), n, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
		// Refused before the kernel touched the old mapping (a
		// permission, a bad descriptor): the code is still the
		// executable's own. (Running out of memory halfway could leave
		// a hole on older kernels; nothing here would survive that.)
		return nil, fmt.Errorf("mapping the copy over the code: %w", err)
	}
	unix.Madvise(at(hs, n), unix.MADV_COLLAPSE)
	return &Text{Size: n, Huge: pmdMapped(hs)}, nil
}

// restore maps the executable's own pages back over the code.
func restore(hs, n uintptr, src *os.File, off int64) {
	unix.MmapPtr(int(src.Fd()), off, ptr(hs), n, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_FIXED)
}

// pmdMapped is how many bytes of the mapping starting at addr the kernel
// maps with huge pages, from /proc/self/smaps.
func pmdMapped(addr uintptr) uintptr {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0
	}
	in := false
	var kb uint64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := sc.Text()
		if m, ok := parseMapsLine(l); ok { // a mapping's first line
			if in {
				break
			}
			in = m.lo == addr
			continue
		}
		if !in {
			continue
		}
		k, v, _ := strings.Cut(l, ":")
		if k == "ShmemPmdMapped" || k == "FilePmdMapped" {
			if x, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
				kb += x
			}
		}
	}
	return uintptr(kb << 10)
}

// ptr is address a as a pointer: memory mapped outside Go's heap.
func ptr(a uintptr) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(nil), a) }

// at is the n bytes at address a, mapped outside Go's heap.
func at(a, n uintptr) []byte { return unsafe.Slice((*byte)(ptr(a)), n) }
