//go:build unix

package privsep

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/timesync/timesync/internal/rawio"
)

const syscallNoFollow = syscall.O_NOFOLLOW

// writeFrameFD writes one frame with f's descriptor attached.
func writeFrameFD(c *net.UnixConn, body []byte, f *os.File) error {
	if len(body) > MaxFrame {
		return ErrTooLarge
	}
	buf := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	n, _, err := c.WriteMsgUnix(buf, syscall.UnixRights(int(f.Fd())), nil)
	if err == nil && n < len(buf) {
		_, err = c.Write(buf[n:])
	}
	return err
}

// writeFrameRaw writes one frame, with rights passed along, to fd (the
// parent's end of the reply socket, Parent.ServeSplit). An engine that
// leaves a socket's worth of replies unread for replyStall is broken: the
// write fails, and the parent stops serving it.
func writeFrameRaw(fd int, body []byte, rights []int) error {
	if len(body) > MaxFrame {
		return ErrTooLarge
	}
	buf := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	if err := rawio.WriteFD(fd, buf, rights, replyStall); err != nil {
		return fmt.Errorf("replying to the engine: %w", err)
	}
	return nil
}

func setNonblock(fd int) error { return syscall.SetNonblock(fd, true) }

// replyStall is how long writeFrameRaw waits for room (on the parent's
// only P: nothing else of the parent runs meanwhile).
const replyStall = time.Second

// replyWait is how long the engine waits for the parent's answer on the
// thread that asked, holding the runtime's P (rawio.ReadMsgWait), before
// it waits in the runtime's poller: the parent answers in well under a
// millisecond here, in some milliseconds in an emulated guest.
const replyWait = 100 * time.Millisecond

// readFrameFDs reads one frame and any descriptors sent with it (which
// the caller owns from then on), waiting for it as rawio.ReadMsgWait
// does.
func readFrameFDs(c *net.UnixConn) ([]byte, []*os.File, error) {
	var files []*os.File
	fail := func(err error) ([]byte, []*os.File, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, nil, err
	}
	buf := make([]byte, 0, 4096)
	oob := make([]byte, syscall.CmsgSpace(4*4))
	need := 4
	for len(buf) < need {
		chunk := make([]byte, min(need-len(buf), 64<<10))
		n, oobn, err := rawio.ReadMsgWait(c, chunk, oob, replyWait)
		if oobn > 0 {
			fs, perr := parseRights(oob[:oobn])
			files = append(files, fs...)
			if perr != nil {
				return fail(perr)
			}
		}
		if n == 0 && err == nil {
			err = io.EOF
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return fail(err)
		}
		buf = append(buf, chunk[:n]...)
		if need == 4 && len(buf) >= 4 {
			size := binary.BigEndian.Uint32(buf[:4])
			if size > MaxFrame {
				return fail(ErrTooLarge)
			}
			need = 4 + int(size)
		}
	}
	return buf[4:need], files, nil
}

// quiet is c read and written with raw system calls (internal/rawio), so
// that a request or its answer does not wake the reader's system monitor
// (sysmon), which then polls every 20 µs, backing off to 10 ms, until the
// process is idle again: on both sides, the parent's (requests) and the
// engine's (callFD, with readFrameFDs waiting for the answer on its own
// thread). The engine's side once went through the runtime's calls on
// purpose: with it raw and the answer awaited in the runtime's poller,
// the VM test's service took 277 and 135 s to converge (the answer to a
// slew heard 42 ms after asking: the busy engine ran other goroutines
// first, and nothing preempted them) and, with the parent's stamps
// (SetFrequencyResult), once 264 s. The answer is now awaited where it
// was asked for (replyWait).
func quiet(c *net.UnixConn) io.ReadWriter { return rawConn{c} }

type rawConn struct{ c *net.UnixConn }

func (r rawConn) Read(p []byte) (int, error)  { return rawio.Read(r.c, p) }
func (r rawConn) Write(p []byte) (int, error) { return rawio.Write(r.c, p) }

func parseRights(oob []byte) ([]*os.File, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			syscall.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "privsep-fd"))
		}
	}
	return files, nil
}

// fileOwner reports the uid owning f.
func fileOwner(f *os.File) (uint32, bool) {
	fi, err := f.Stat()
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}
