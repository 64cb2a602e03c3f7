package serve

// rxts_linux.go: kernel receive timestamps (internal/rxts) on the
// sockets the server reads in batches.

import (
	"net"

	"github.com/timesync/timesync/internal/rxts"
)

func enableRxTimestamps(conn *net.UDPConn) bool { return rxts.Enable(conn) }
