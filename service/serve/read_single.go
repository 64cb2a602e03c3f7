package serve

// read_single.go: the portable packet loop.

import (
	"errors"
	"net"
)

// readSingle serves one socket until it is closed, one datagram at a
// time, timestamped by the reader: the loop of every OS but Linux, which
// reads in batches with kernel timestamps (batch_linux.go).
func (s *Server) readSingle(sk *socket) {
	buf := make([]byte, bufLen)
	out := make([]byte, 0, HeaderLen)
	for {
		n, from, err := sk.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("serve: read", "err", err)
			continue
		}
		rx := s.now()
		reply, v := s.Handle(out[:0], buf[:n], from.Addr(), rx)
		if s.opt.Observe != nil {
			s.opt.Observe(from, rx, v)
		}
		if len(reply) == 0 {
			continue
		}
		SetTransmit(reply, s.now()) // as late as possible
		if _, err := sk.conn.WriteToUDPAddrPort(reply, from); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Debug("serve: write", "to", from, "err", err)
		}
	}
}
