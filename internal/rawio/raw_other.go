//go:build unix && (!linux || race)

package rawio

// Elsewhere, and in race-detector builds (whose syscall package tells the
// detector that a write happens before the read that sees it), the calls
// are the syscall package's.

import "syscall"

func read(fd uintptr, p []byte) (int, error)  { return syscall.Read(int(fd), p) }
func write(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }

func recvmsg(fd uintptr, p, oob []byte) (n, oobn int, err error) {
	n, oobn, _, _, err = syscall.Recvmsg(int(fd), p, oob, 0)
	return n, oobn, err
}
