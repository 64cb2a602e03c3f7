package serve

// batch_linux.go: the packet loop on Linux reads and writes in batches
// (recvmmsg/sendmmsg through golang.org/x/net): one system call for up to
// batchLen datagrams each way under load, instead of one per datagram.

import (
	"errors"
	"net"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/timesync/timesync/internal/rxts"
)

// batchLen is how many datagrams one system call moves at most.
const batchLen = 32

type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// readLoop serves one socket until it is closed.
func (s *Server) readLoop(sk *socket) {
	var bc batchConn
	if la := sk.conn.LocalAddr().(*net.UDPAddr); la.IP.To4() != nil {
		bc = ipv4.NewPacketConn(sk.conn)
	} else {
		bc = ipv6.NewPacketConn(sk.conn)
	}
	in := make([]ipv4.Message, batchLen)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, bufLen)}
		if sk.kernelRx {
			in[i].OOB = make([]byte, rxts.OOBSize)
		}
	}
	out := make([]ipv4.Message, batchLen)
	replies := make([][HeaderLen]byte, batchLen)
	bufs := make([][][]byte, batchLen)
	for i := range bufs {
		bufs[i] = [][]byte{nil}
	}
	for {
		n, err := bc.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("serve: read", "err", err)
			continue
		}
		k := 0
		var fallback time.Time
		for i := 0; i < n; i++ {
			m := &in[i]
			ua, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			from := ua.AddrPort()
			var rx time.Time
			if sk.kernelRx {
				rx, _ = rxts.Parse(m.OOB[:m.NN])
			}
			if rx.IsZero() {
				if fallback.IsZero() {
					fallback = s.now() // one reading for the batch: all arrived by now
				}
				rx = fallback
			}
			reply, v := s.Handle(replies[k][:0], m.Buffers[0][:m.N], from.Addr(), rx)
			if s.opt.Observe != nil {
				s.opt.Observe(from, rx, v)
			}
			if len(reply) == 0 {
				continue
			}
			bufs[k][0] = reply
			out[k] = ipv4.Message{Buffers: bufs[k], Addr: m.Addr}
			k++
		}
		if k == 0 {
			continue
		}
		tx := s.now() // as late as possible: just before the batch goes out
		for j := 0; j < k; j++ {
			SetTransmit(out[j].Buffers[0], tx)
		}
		for off := 0; off < k; {
			w, err := bc.WriteBatch(out[off:k], 0)
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					s.log.Debug("serve: write", "err", err)
				}
				break
			}
			off += w
		}
	}
}
