// Package initramfs writes the "newc" cpio archives that the Linux kernel
// unpacks as its initial root file system (see the kernel's
// Documentation/driver-api/early-userspace/buffer-format.rst).
//
// The VM test builds its guest's root file system with it, so no cpio
// binary and no root privilege (for device nodes) are needed on the host.
// Archives are reproducible: modification times are zero and inode numbers
// are assigned in order.
package initramfs

import (
	"fmt"
	"io"
	"path"
	"strings"
)

// File type bits of the cpio mode field (as in <sys/stat.h>).
const (
	modeDir      = 0o040000
	modeRegular  = 0o100000
	modeSymlink  = 0o120000
	modeCharDev  = 0o020000
	modeTypeMask = 0o170000
)

// Writer writes one newc archive. Parent directories are created on demand
// (mode 0755) so entries can be added in any order. Close writes the
// trailer; the kernel needs it.
type Writer struct {
	w    io.Writer
	off  int64
	ino  uint32
	seen map[string]uint32 // entry name → mode, to refuse duplicates
	err  error
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, ino: 1, seen: map[string]uint32{}}
}

// Dir adds a directory with permission bits perm (e.g. 0o755, 0o1777).
func (w *Writer) Dir(name string, perm uint32) error {
	name, err := w.prepare(name)
	if err != nil {
		return err
	}
	if mode, ok := w.seen[name]; ok && mode&modeTypeMask == modeDir {
		return nil // already there (perhaps created as a parent)
	}
	return w.entry(name, modeDir|perm&0o7777, 2, 0, 0, nil)
}

// File adds a regular file with permission bits perm and contents data.
func (w *Writer) File(name string, perm uint32, data []byte) error {
	name, err := w.prepare(name)
	if err != nil {
		return err
	}
	return w.entry(name, modeRegular|perm&0o7777, 1, 0, 0, data)
}

// Symlink adds a symbolic link name pointing to target.
func (w *Writer) Symlink(name, target string) error {
	name, err := w.prepare(name)
	if err != nil {
		return err
	}
	return w.entry(name, modeSymlink|0o777, 1, 0, 0, []byte(target))
}

// CharDev adds a character device node (e.g. /dev/console, 5:1), which the
// kernel opens for init's standard streams before /dev is mounted.
func (w *Writer) CharDev(name string, perm, major, minor uint32) error {
	name, err := w.prepare(name)
	if err != nil {
		return err
	}
	return w.entry(name, modeCharDev|perm&0o7777, 1, major, minor, nil)
}

// Close writes the trailer entry. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	return w.entry("TRAILER!!!", 0, 1, 0, 0, nil)
}

// prepare cleans name to the archive's relative form and adds missing parent
// directories.
func (w *Writer) prepare(name string) (string, error) {
	if w.err != nil {
		return "", w.err
	}
	clean := strings.TrimPrefix(path.Clean("/"+name), "/")
	if clean == "" {
		return "", fmt.Errorf("initramfs: invalid entry name %q", name)
	}
	if dir := path.Dir(clean); dir != "." {
		if err := w.Dir(dir, 0o755); err != nil {
			return "", err
		}
	}
	return clean, nil
}

// entry writes one header, name and data, each padded to 4 bytes.
func (w *Writer) entry(name string, mode, nlink, rmajor, rminor uint32, data []byte) error {
	if w.err != nil {
		return w.err
	}
	if _, dup := w.seen[name]; dup {
		// The kernel's unpacker would silently replace the earlier
		// entry; refuse so mistakes show.
		return fmt.Errorf("initramfs: duplicate entry %q", name)
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		w.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmajor, rminor, len(name)+1, 0)
	w.ino++
	w.write([]byte(hdr))
	w.write([]byte(name + "\x00"))
	w.pad()
	w.write(data)
	w.pad()
	if w.err == nil && name != "TRAILER!!!" {
		w.seen[name] = mode
	}
	return w.err
}

func (w *Writer) write(b []byte) {
	if w.err != nil || len(b) == 0 {
		return
	}
	n, err := w.w.Write(b)
	w.off += int64(n)
	if err != nil {
		w.err = fmt.Errorf("initramfs: %w", err)
	}
}

func (w *Writer) pad() {
	if r := w.off % 4; r != 0 {
		w.write(make([]byte, 4-r))
	}
}
