//go:build !linux

package serve

// rxts_other.go: no kernel receive timestamps on this OS; the reader takes
// the time as soon as it has the datagram.

import (
	"net"
	"time"
)

const oobLen = 0

func enableRxTimestamps(*net.UDPConn) bool { return false }

func parseRxTimestamp([]byte) (time.Time, bool) { return time.Time{}, false }

// readLoop serves one socket until it is closed.
func (s *Server) readLoop(sk *socket) { s.read(sk) }
