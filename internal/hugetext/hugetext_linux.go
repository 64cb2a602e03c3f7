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
// no unsealing (so a child given it can only read it).
const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// Remap copies the 2 MiB-aligned part of this executable's code into a
// sealed memory file, has the kernel put that on huge pages and maps it
// over the code. On an error the code is as it was.
func Remap() (*Text, error) {
	hs, n, err := alignedText()
	if err != nil {
		return nil, err
	}
	return remapRange(hs, n)
}

// remapRange is Remap for the n bytes at hs (2 MiB-aligned, a multiple of
// 2 MiB, and mapped for the process's life).
func remapRange(hs, n uintptr) (*Text, error) {
	fd, err := unix.MemfdCreate("timesync-text", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("%w: memfd_create: %v", ErrUnsupported, err)
	}
	f := os.NewFile(uintptr(fd), "memfd:timesync-text")
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	for off := uintptr(0); off < n; {
		w, _, e := unix.Syscall(unix.SYS_PWRITE64, uintptr(fd), hs+off, n-off) // the code, in place
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return nil, fmt.Errorf("copying the code: %w", e)
		}
		off += w
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
	// The child gets a read-only descriptor (the seals already forbid
	// writing; this is a second lock on the same door).
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
// sealed and holds exactly this process's code. The caller closes f.
func Adopt(f *os.File) (*Text, error) {
	hs, n, err := alignedText()
	if err != nil {
		return nil, err
	}
	return adoptRange(f, hs, n)
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
		return nil, errors.New("not this executable's code: the bytes differ")
	}
	return mapOver(fd, hs, n)
}

// alignedText finds the mapping of this executable's code (the one
// holding this function) and the part of it made of whole 2 MiB pages.
func alignedText() (start, n uintptr, err error) {
	pc, _, _, _ := runtime.Caller(0)
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lo, hi, perms, path, ok := parseMapsLine(sc.Text())
		if !ok || pc < lo || pc >= hi {
			continue
		}
		if strings.HasPrefix(path, "/memfd:") {
			return 0, 0, errors.New("the code is already on huge pages")
		}
		if !strings.HasPrefix(perms, "r-x") {
			return 0, 0, fmt.Errorf("the code's mapping is %s", perms)
		}
		s := (lo + hugePage - 1) &^ (hugePage - 1)
		e := hi &^ (hugePage - 1)
		if e <= s {
			return 0, 0, fmt.Errorf("%w: the code (%d KiB) has no whole 2 MiB page", ErrUnsupported, (hi-lo)>>10)
		}
		return s, e - s, nil
	}
	return 0, 0, errors.New("the code's mapping is not in /proc/self/maps")
}

// parseMapsLine reads "lo-hi perms offset dev inode [path]".
func parseMapsLine(l string) (lo, hi uintptr, perms, path string, ok bool) {
	fl := strings.Fields(l)
	if len(fl) < 5 {
		return 0, 0, "", "", false
	}
	a, b, found := strings.Cut(fl[0], "-")
	x, err1 := strconv.ParseUint(a, 16, 64)
	y, err2 := strconv.ParseUint(b, 16, 64)
	if !found || err1 != nil || err2 != nil {
		return 0, 0, "", "", false
	}
	if len(fl) >= 6 {
		path = fl[5]
	}
	return uintptr(x), uintptr(y), fl[1], path, true
}

// collapseAside maps the file read-only at a 2 MiB-aligned scratch
// address and asks the kernel to put it on huge pages (they stay in the
// file when the scratch mapping goes).
func collapseAside(fd int, n uintptr) error {
	res, _, e := unix.Syscall6(unix.SYS_MMAP, 0, n+hugePage, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE, ^uintptr(0), 0)
	if e != 0 {
		return fmt.Errorf("reserving scratch space: %w", e)
	}
	defer unix.Syscall(unix.SYS_MUNMAP, res, n+hugePage, 0)
	a := (res + hugePage - 1) &^ (hugePage - 1)
	if _, _, e := unix.Syscall6(unix.SYS_MMAP, a, n, unix.PROT_READ, unix.MAP_SHARED|unix.MAP_FIXED, uintptr(fd), 0); e != 0 {
		return fmt.Errorf("mapping the copy: %w", e)
	}
	if _, _, e := unix.Syscall(unix.SYS_MADVISE, a, n, unix.MADV_COLLAPSE); e != 0 {
		if e == unix.EINVAL || e == unix.ENOSYS || e == unix.EPERM {
			return fmt.Errorf("%w: the kernel will not collapse it (madvise(MADV_COLLAPSE): %v)", ErrUnsupported, e)
		}
		return fmt.Errorf("madvise(MADV_COLLAPSE): %w", e)
	}
	return nil
}

// mapOver maps the file over the code at hs: private (a debugger's
// breakpoint copies the page it writes), read-only and executable from
// the start, so it gains no permission. The kernel maps the file's huge
// pages whole when asked to collapse again.
func mapOver(fd int, hs, n uintptr) (*Text, error) {
	r, _, e := unix.Syscall6(unix.SYS_MMAP, hs, n, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_FIXED, uintptr(fd), 0)
	if e != 0 || r != hs {
		// MAP_FIXED takes the place only when it succeeds: the code
		// is still the executable's own.
		return nil, fmt.Errorf("mapping the copy over the code: %v", e)
	}
	unix.Syscall(unix.SYS_MADVISE, hs, n, unix.MADV_COLLAPSE)
	return &Text{Size: n, Huge: pmdMapped(hs)}, nil
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
		if lo, _, _, _, ok := parseMapsLine(l); ok { // a mapping's first line
			if in {
				break
			}
			in = lo == addr
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

// at is the n bytes at address a: this process's own code, mapped for its
// whole life.
func at(a, n uintptr) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), a)), n)
}
