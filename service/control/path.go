package control

import "os"

// DefaultSocketPath returns where the service listens and clients
// connect: $TIMESYNC_SOCKET if set, else this OS's path
// (/run/timesync/control.sock on Linux, /var/run/timesync/control.sock
// on macOS and the BSDs, \\.\pipe\timesync on Windows).
func DefaultSocketPath() string {
	if p := os.Getenv("TIMESYNC_SOCKET"); p != "" {
		return p
	}
	return osSocketPath
}
