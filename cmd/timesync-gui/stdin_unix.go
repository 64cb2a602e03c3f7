//go:build !windows

package main

import (
	"io"
	"os"
	"syscall"
)

// blockingStdin reads standard input with plain blocking reads on a
// thread of its own. The tray's pipe arrives non-blocking (the flag is
// shared with the tray's end), and os.Stdin would then park its reader
// in Go's network poller, which the scheduler polls at each of fyne's
// 60 Hz ticks; a blocking read costs nothing while it waits.
func blockingStdin() io.Reader {
	if err := syscall.SetNonblock(0, false); err != nil {
		return os.Stdin
	}
	return fdReader(0)
}

type fdReader int

func (f fdReader) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(int(f), p)
		if err == syscall.EINTR {
			continue
		}
		if n == 0 && err == nil {
			return 0, io.EOF
		}
		if n < 0 {
			n = 0
		}
		return n, err
	}
}
