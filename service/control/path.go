package control

import (
	"os"
	"path/filepath"
)

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

// ConfirmTokenPath is where a service split into a privileged parent and
// an unprivileged engine keeps the token that confirms a step beyond the
// panic threshold (readable by root and the control group only), for the
// control socket at socketPath.
func ConfirmTokenPath(socketPath string) string {
	return filepath.Join(filepath.Dir(socketPath), "confirm-token")
}
