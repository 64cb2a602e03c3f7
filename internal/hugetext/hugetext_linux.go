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

// Remap copies the 2 MiB-aligned parts of this executable's code and of
// its read-only data from the executable into a sealed memory file, has
// the kernel put that on huge pages and maps it over them. On an error
// the code is as it was; read-only data that cannot be moved stays where
// it is.
func Remap() (*Text, error) {
	parts, err := findParts()
	if err != nil {
		return nil, err
	}
	exe, err := os.Open("/proc/self/exe") // the running inode, even if replaced on disk since
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	return remapParts(parts, exe)
}

// part is a part of the executable's image made of whole 2 MiB pages: n
// bytes at start, from offset off of the executable, mapped with prot.
// The code is the first part, the read-only data (if it has a whole
// 2 MiB page) the second; the memory file holds them one after the other.
type part struct {
	start, n uintptr
	off      int64
	prot     int
}

const (
	code = unix.PROT_READ | unix.PROT_EXEC
	data = unix.PROT_READ
)

// remapParts is Remap for parts (2 MiB-aligned, multiples of 2 MiB,
// mapped for the process's life), the code first, read from src.
func remapParts(parts []part, src *os.File) (*Text, error) {
	// The copy is made from the file, not from memory: a uprobe (an eBPF
	// agent's, perf's) or a debugger's breakpoint is a trap written into
	// the process's own page, which the copy would keep for good while
	// the kernel, finding no probe in the new file, answered it with
	// SIGTRAP. If memory differs from the file, the code stays. The file
	// is read with pread, into memory outside Go's heap: not through a
	// private mapping, into which the kernel writes uprobes' traps as
	// into the code's own.
	total := size(parts)
	buf, err := unix.Mmap(-1, 0, int(total), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("reading the executable: %w", err)
	}
	defer unix.Munmap(buf)
	file := buf // what goes into the memory file
	var o uintptr
	for i, p := range parts {
		b := file[o : o+p.n]
		if err := preadFull(src, b, p.off); err != nil {
			return nil, fmt.Errorf("reading the executable: %w", err)
		}
		if !bytes.Equal(b, at(p.start, p.n)) {
			if i == 0 {
				return nil, errors.New("the code in memory is not the executable's (a uprobe or a breakpoint in it?)")
			}
			// Read-only data that is not the file's (relocated: the
			// first read-only mapping of an externally linked build
			// may be its RELRO): it stays, the code moves.
			parts, total, file = parts[:i], o, file[:o]
			break
		}
		o += p.n
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
	if parts, err = collapseAside(fd, parts); err != nil {
		return nil, err
	}
	t, err := mapParts(fd, parts, src)
	if err != nil {
		return nil, err
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

// preadFull reads len(b) bytes at off of f.
func preadFull(f *os.File, b []byte, off int64) error {
	for done := 0; done < len(b); {
		r, err := unix.Pread(int(f.Fd()), b[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err == nil && r == 0 {
			err = unix.EIO // the executable is shorter than its mapping
		}
		if err != nil {
			return err
		}
		done += r
	}
	return nil
}

// mapParts maps the memory file's parts over the process's, one after the
// other. A part the kernel maps on 4 KiB pages after all gets the
// executable's own pages back (as good, and no extra memory): for the
// code that is an error, for the read-only data it only stays as it was.
func mapParts(fd int, parts []part, src *os.File) (*Text, error) {
	t := &Text{}
	var o uintptr
	for i, p := range parts {
		huge, err := mapOver(fd, o, p)
		if err == nil && huge == 0 {
			if src != nil {
				restore(p, src)
			}
			err = errors.New("the kernel mapped the copy on 4 KiB pages")
		}
		if err != nil {
			if i == 0 {
				return nil, err
			}
			break
		}
		if p.prot == code {
			t.Size, t.Huge = p.n, huge
		} else {
			t.DataSize, t.DataHuge = p.n, huge
		}
		o += p.n
	}
	return t, nil
}

// Adopt maps the code and read-only data Remap put in f, in another
// process running the same executable, over this process's, once it has
// checked that f is sealed and holds exactly what this process has there.
// The caller closes f. It refuses a copy made by another build (an engine
// started from an upgraded executable) or at another load address (a
// position-independent build): Remap is then the way.
func Adopt(f *os.File) (*Text, error) {
	parts, err := findParts()
	if err != nil {
		return nil, err
	}
	// The executable's own pages, to put back over a part the kernel
	// maps on 4 KiB pages after all. An engine that may run the
	// executable but not read it (installed mode 0711) adopts without.
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		exe = nil
	}
	defer exe.Close()
	return adoptParts(f, parts, exe)
}

// adoptParts is Adopt for parts; src has their own pages, to put back
// over a part the kernel maps on 4 KiB pages after all.
func adoptParts(f *os.File, parts []part, src *os.File) (*Text, error) {
	fd := int(f.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	total := size(parts)
	if len(parts) > 1 && uintptr(st.Size) == parts[0].n {
		// The parent left its read-only data where it was: the code
		// alone, then.
		parts, total = parts[:1], parts[0].n
	}
	if uintptr(st.Size) != total {
		return nil, fmt.Errorf("not this executable's code: %d bytes, this code's aligned parts are %d", st.Size, total)
	}
	got, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil || got&seals != seals {
		return nil, fmt.Errorf("the code's copy is not sealed (seals %#x, %v)", got, err)
	}
	m, err := unix.Mmap(fd, 0, int(total), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("reading the code's copy: %w", err)
	}
	same := true
	var o uintptr
	for _, p := range parts {
		same = same && bytes.Equal(m[o:o+p.n], at(p.start, p.n))
		o += p.n
	}
	unix.Munmap(m)
	if !same {
		return nil, errors.New("not the code this process runs: the bytes differ")
	}
	return mapParts(fd, parts, src)
}

// findParts finds the mapping of this executable's code (the one holding
// this function) and its part made of whole 2 MiB pages, and the part
// made of whole 2 MiB pages of the executable's read-only data: its first
// read-only mapping above the code, where Go's linker puts the type
// descriptors, the function tables and constant data the code reads.
func findParts() ([]part, error) {
	pc, _, _, _ := runtime.Caller(0)
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	var parts []part
	var text mapping
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		m, ok := parseMapsLine(sc.Text())
		if !ok {
			continue
		}
		if parts == nil {
			if pc < m.lo || pc >= m.hi {
				continue
			}
			if strings.HasPrefix(m.path, "/memfd:") {
				return nil, errors.New("the code is already on huge pages")
			}
			if !strings.HasPrefix(m.perms, "r-x") || m.path == "" {
				return nil, fmt.Errorf("the code's mapping is %s %q", m.perms, m.path)
			}
			p, ok := whole(m, code)
			if !ok {
				return nil, fmt.Errorf("%w: the code (%d KiB) has no whole 2 MiB page", ErrUnsupported, (m.hi-m.lo)>>10)
			}
			parts, text = []part{p}, m
			continue
		}
		if m.path != text.path {
			continue
		}
		if p, ok := whole(m, data); ok && m.perms == "r--p" {
			parts = append(parts, p)
		}
		break
	}
	if parts == nil {
		return nil, errors.New("the code's mapping is not in /proc/self/maps")
	}
	return parts, nil
}

// size is the parts' bytes together: the memory file's size.
func size(parts []part) uintptr {
	var n uintptr
	for _, p := range parts {
		n += p.n
	}
	return n
}

// whole is m's part made of whole 2 MiB pages, if it has one.
func whole(m mapping, prot int) (part, bool) {
	s := (m.lo + hugePage - 1) &^ (hugePage - 1)
	e := m.hi &^ (hugePage - 1)
	if e <= s {
		return part{}, false
	}
	return part{start: s, n: e - s, off: m.off + int64(s-m.lo), prot: prot}, true
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
// file when the scratch mapping goes), part by part: it returns the parts
// collapsed, the code first; if the kernel will not collapse the code, an
// error.
func collapseAside(fd int, parts []part) ([]part, error) {
	n := size(parts)
	res, err := unix.MmapPtr(-1, 0, nil, n+hugePage, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("reserving scratch space: %w", err)
	}
	defer unix.MunmapPtr(res, n+hugePage)
	a := (uintptr(res) + hugePage - 1) &^ (hugePage - 1)
	if _, err := unix.MmapPtr(fd, 0, ptr(a), n, unix.PROT_READ, unix.MAP_SHARED|unix.MAP_FIXED); err != nil {
		return nil, fmt.Errorf("mapping the copy: %w", err)
	}
	var o uintptr
	for i, p := range parts {
		if err := unix.Madvise(at(a+o, p.n), unix.MADV_COLLAPSE); err != nil {
			if i > 0 {
				return parts[:i], nil // the data stays where it is
			}
			if errors.Is(err, unix.EINVAL) && !collapseKnown() {
				return nil, fmt.Errorf("%w: the kernel will not collapse it (madvise(MADV_COLLAPSE): %v)", ErrUnsupported, err)
			}
			return nil, fmt.Errorf("madvise(MADV_COLLAPSE): %w", err)
		}
		o += p.n
	}
	return parts, nil
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

// mapOver maps the file from offset o over part p: private (a debugger's
// breakpoint copies the page it writes) and with p's permissions from the
// start, so nothing gains a permission. The kernel maps the file's huge
// pages whole when asked to collapse again. It returns how many bytes of
// p are on huge pages.
func mapOver(fd int, o uintptr, p part) (uintptr, error) {
	if _, err := unix.MmapPtr(fd, int64(o), ptr(p.start), p.n, p.prot, unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
		// Refused before the kernel touched the old mapping (a
		// permission, a bad descriptor): the part is still the
		// executable's own. (Running out of memory halfway could leave
		// a hole on older kernels; nothing here would survive that.)
		return 0, fmt.Errorf("mapping the copy over the original: %w", err)
	}
	unix.Madvise(at(p.start, p.n), unix.MADV_COLLAPSE)
	return pmdMapped(p.start), nil
}

// restore maps the executable's own pages back over part p.
func restore(p part, src *os.File) {
	unix.MmapPtr(int(src.Fd()), p.off, ptr(p.start), p.n, p.prot, unix.MAP_PRIVATE|unix.MAP_FIXED)
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
