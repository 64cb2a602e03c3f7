//go:build !linux

package serve

// rxts_other.go: no kernel receive timestamps on this OS, and no batches:
// the reader takes the time as soon as it has each datagram.

import "net"

func enableRxTimestamps(*net.UDPConn) bool { return false }

// readLoop serves one socket until it is closed.
func (s *Server) readLoop(sk *socket) { s.readSingle(sk) }
