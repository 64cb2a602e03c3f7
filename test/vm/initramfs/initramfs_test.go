package initramfs

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
)

type entry struct {
	name         string
	mode         uint32
	rmaj, rmin   uint32
	data         string
	headerOffset int
}

// readNewc is an independent reader of the format, strict about magic,
// padding and the trailer, as the kernel's unpacker is.
func readNewc(t *testing.T, b []byte) []entry {
	t.Helper()
	var out []entry
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("field %d at %d: %v", i, off, err)
		}
		return uint32(v)
	}
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off%4 != 0 {
			t.Fatalf("header at %d not 4-byte aligned", off)
		}
		if string(b[off:off+6]) != "070701" {
			t.Fatalf("bad magic %q at %d", b[off:off+6], off)
		}
		mode, size, rmaj, rmin, namesize := field(1), int(field(6)), field(9), field(10), int(field(11))
		nameStart := off + 110
		name := string(b[nameStart : nameStart+namesize-1])
		if b[nameStart+namesize-1] != 0 {
			t.Fatalf("name %q not NUL-terminated", name)
		}
		dataStart := align(nameStart + namesize)
		data := string(b[dataStart : dataStart+size])
		e := entry{name: name, mode: mode, rmaj: rmaj, rmin: rmin, data: data, headerOffset: off}
		off = align(dataStart + size)
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after trailer", len(b)-off)
			}
			return out
		}
		out = append(out, e)
	}
}

func TestWriterRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	steps := []error{
		w.Dir("/proc", 0o555),
		w.File("/usr/bin/timesync", 0o755, []byte("binary\x00data")),
		w.Symlink("bin/sh", "busybox"),
		w.CharDev("/dev/console", 0o600, 5, 1),
		w.File("init", 0o755, []byte("#!/bin/sh\n")),
		w.Dir("usr/bin", 0o755), // exists already as a parent: no second entry
		w.Close(),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	got := readNewc(t, buf.Bytes())
	want := []struct {
		name string
		mode uint32
		data string
	}{
		{"proc", 0o040555, ""},
		{"usr", 0o040755, ""},
		{"usr/bin", 0o040755, ""},
		{"usr/bin/timesync", 0o100755, "binary\x00data"},
		{"bin", 0o040755, ""},
		{"bin/sh", 0o120777, "busybox"},
		{"dev", 0o040755, ""},
		{"dev/console", 0o020600, ""},
		{"init", 0o100755, "#!/bin/sh\n"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries %v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].name != w.name || got[i].mode != w.mode || got[i].data != w.data {
			t.Errorf("entry %d: got %q mode %o data %q, want %q mode %o data %q",
				i, got[i].name, got[i].mode, got[i].data, w.name, w.mode, w.data)
		}
	}
	if c := got[7]; c.rmaj != 5 || c.rmin != 1 {
		t.Errorf("dev/console: got %d:%d, want 5:1", c.rmaj, c.rmin)
	}
}

func TestWriterRefusesDuplicatesAndBadNames(t *testing.T) {
	tests := []struct {
		name string
		add  func(w *Writer) error
	}{
		{"file twice", func(w *Writer) error {
			if err := w.File("a", 0o644, nil); err != nil {
				return err
			}
			return w.File("/a", 0o644, nil)
		}},
		{"file over dir", func(w *Writer) error {
			if err := w.Dir("d", 0o755); err != nil {
				return err
			}
			return w.Symlink("d", "x")
		}},
		{"dir over file", func(w *Writer) error {
			if err := w.File("f", 0o644, nil); err != nil {
				return err
			}
			return w.File("f/g", 0o644, nil)
		}},
		{"root", func(w *Writer) error { return w.File("/", 0o644, nil) }},
	}
	for _, tt := range tests {
		if err := tt.add(NewWriter(&bytes.Buffer{})); err == nil {
			t.Errorf("%s: got no error, want one", tt.name)
		}
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(b []byte) (int, error) {
	if f.n -= len(b); f.n < 0 {
		return 0, fmt.Errorf("disk full")
	}
	return len(b), nil
}

func TestWriterReportsWriteErrors(t *testing.T) {
	w := NewWriter(&failWriter{n: 200})
	_ = w.File("a", 0o644, make([]byte, 1000))
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed write: got no error")
	}
}
