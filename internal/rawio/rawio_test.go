//go:build unix

package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pair is a connected pair of Unix stream sockets, both in the runtime's
// poller (as the privsep socketpair is).
func pair(t *testing.T) (a, b *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "pair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// A write larger than the socket's buffer is written whole while the
// other end reads (the write waits in the poller in between), and the
// reader sees every byte, then io.EOF once the writer closes.
func TestWriteAllReadEOF(t *testing.T) {
	a, b := pair(t)
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	errc := make(chan error, 1)
	go func() {
		n, err := Write(a, want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		a.Close()
		errc <- err
	}()
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := Read(b, buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("read %d bytes, want the %d written", len(got), len(want))
	}
}

// ReadMsg receives the data and a descriptor sent with it.
func TestReadMsgRights(t *testing.T) {
	a, b := pair(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, _, err := a.WriteMsgUnix([]byte("fd"), syscall.UnixRights(int(w.Fd())), nil); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	oob := make([]byte, syscall.CmsgSpace(4))
	n, oobn, err := ReadMsg(b, buf, oob)
	if err != nil || string(buf[:n]) != "fd" || oobn == 0 {
		t.Fatalf("ReadMsg: %q, %d control bytes, %v", buf[:n], oobn, err)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatal(msgs, err)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatal(fds, err)
	}
	got := os.NewFile(uintptr(fds[0]), "received")
	defer got.Close()
	if _, err := got.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	one := make([]byte, 1)
	if _, err := r.Read(one); err != nil || one[0] != 'x' {
		t.Errorf("the received descriptor is not the pipe's: %q %v", one, err)
	}
}

// A read waiting in the poller ends with net.ErrClosed when the
// connection is closed, and at once on a closed one.
func TestClosed(t *testing.T) {
	a, _ := pair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := Read(a, make([]byte, 8))
		errc <- err
	}()
	a.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Errorf("read on a closing connection: %v, want net.ErrClosed", err)
	}
	if _, err := Write(a, []byte("x")); err == nil {
		t.Error("write on a closed connection succeeded")
	}
}

// ReadMsgWait reads what is there already, what comes within its wait
// (awaited on the calling thread), and what comes later (awaited in the
// poller); and n == 0 at the end of the stream.
func TestReadMsgWait(t *testing.T) {
	a, b := pair(t)
	for _, c := range []struct {
		name        string
		after, wait time.Duration
	}{
		{"there already", -1, time.Second},
		{"within the wait", 5 * time.Millisecond, time.Second},
		{"after the wait", 150 * time.Millisecond, 20 * time.Millisecond},
		{"no wait", 20 * time.Millisecond, 0},
	} {
		write := func() {
			if _, err := a.Write([]byte(c.name)); err != nil {
				t.Error(err)
			}
		}
		if c.after < 0 {
			write()
		} else {
			time.AfterFunc(c.after, write)
		}
		buf := make([]byte, 64)
		n, _, err := ReadMsgWait(b, buf, nil, c.wait)
		if err != nil || string(buf[:n]) != c.name {
			t.Errorf("%s: read %q, %v", c.name, buf[:n], err)
		}
	}
	time.AfterFunc(5*time.Millisecond, func() { a.Close() })
	if n, _, err := ReadMsgWait(b, make([]byte, 8), nil, time.Second); n != 0 || err != nil {
		t.Errorf("at the end of the stream: %d bytes, %v; want 0, nil", n, err)
	}
}

// WriteFD writes a frame larger than the socket's buffer whole to a bare
// non-blocking descriptor while the other end reads, with a descriptor
// passed along; with nobody reading it gives up after its stall.
func TestWriteFD(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := fds[0]
	defer syscall.Close(w)
	if err := syscall.SetNonblock(w, true); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[1]), "reader")
	rc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := rc.(*net.UnixConn)
	defer r.Close()

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	errc := make(chan error, 1)
	go func() { errc <- WriteFD(w, want, []int{int(pw.Fd())}, 10*time.Second) }()
	var got []byte
	var passed []int
	buf := make([]byte, 64<<10)
	oob := make([]byte, syscall.CmsgSpace(4))
	for len(got) < len(want) {
		n, oobn, err := ReadMsg(r, buf, oob)
		if err != nil {
			t.Fatal(err)
		}
		if oobn > 0 {
			msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				fs, err := syscall.ParseUnixRights(&m)
				if err != nil {
					t.Fatal(err)
				}
				passed = append(passed, fs...)
			}
		}
		got = append(got, buf[:n]...)
	}
	if err := <-errc; err != nil {
		t.Fatalf("WriteFD: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the reader got other bytes than were written")
	}
	if len(passed) != 1 {
		t.Fatalf("%d descriptors passed, want 1", len(passed))
	}
	// The descriptor passed is the pipe's write end: what goes in it comes
	// out of pr.
	p := os.NewFile(uintptr(passed[0]), "passed")
	defer p.Close()
	if _, err := p.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if n, err := pr.Read(buf[:1]); n != 1 || err != nil || buf[0] != 'x' {
		t.Fatalf("read from the pipe: %d %v %q", n, err, buf[:1])
	}

	// Nobody reads: the socket fills, and the write stops waiting.
	start := time.Now()
	err = WriteFD(w, want, nil, 200*time.Millisecond)
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("WriteFD to a reader that takes nothing: %v, want ErrStalled", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
		t.Errorf("gave up after %v, want about 200 ms", d)
	}
}
