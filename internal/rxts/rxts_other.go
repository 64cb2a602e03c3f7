//go:build !linux && !darwin

package rxts

import (
	"net"
	"time"
)

// Supported reports whether this OS gives receive timestamps.
const Supported = false

// OOBSize is 0: no timestamps to receive.
var OOBSize = 0

// Enable asks for nothing here.
func Enable(*net.UDPConn) bool { return false }

// Parse finds nothing here.
func Parse([]byte) (time.Time, bool) { return time.Time{}, false }
