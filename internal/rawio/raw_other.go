//go:build unix && (!linux || race || msan || asan)

package rawio

// Elsewhere, and in race-detector and sanitizer builds (whose syscall
// package tells the detector that a write happens before the read that
// sees it, and the sanitizers which bytes a call wrote), the calls are the
// syscall package's.

import (
	"syscall"
	"time"
)

func read(fd uintptr, p []byte) (int, error)  { return syscall.Read(int(fd), p) }
func write(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }

func recvmsg(fd uintptr, p, oob []byte) (n, oobn int, err error) {
	n, oobn, _, _, err = syscall.Recvmsg(int(fd), p, oob, 0)
	return n, oobn, err
}

// waitReadable does not wait: the caller waits in the runtime's poller.
func waitReadable(uintptr, time.Time) bool { return false }

func sendmsg(fd uintptr, p, oob []byte) (int, error) {
	return syscall.SendmsgN(int(fd), p, oob, nil, 0)
}
