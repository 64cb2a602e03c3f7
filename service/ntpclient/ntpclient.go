// Package ntpclient holds the client side's socket code: NTPv4 client
// exchanges over UDP, their errors mapped onto the engine's vocabulary
// (engine.ErrNoReply, engine.ErrRefused, engine.ErrOriginMismatch,
// engine.ErrBadMode), so that service/engine stays pure. It builds and
// reads the packets itself (packet.go) and hands the engine the
// github.com/beevik/ntp Response type the rest of the code judges.
//
// Two doors: Querier.Query, one blocking exchange on a socket of its own
// (timesync --once), and Client.Exchange, the service's asynchronous
// exchanges on one connected socket per server kept open between polls
// (what the idle service costs is mostly per exchange: a socket per query
// cost ~25 system calls), whose answers are read when they are due, all
// of a round's at once (client.go).
package ntpclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/beevik/ntp"

	"github.com/timesync/timesync/internal/rxts"
	"github.com/timesync/timesync/service/engine"
)

// DefaultTimeout bounds one exchange when no timeout is given.
const DefaultTimeout = 2 * time.Second

// Querier performs blocking exchanges, each on a socket of its own.
type Querier struct {
	// Timeout bounds one exchange (default 2 s).
	Timeout time.Duration
	// Dialer opens the socket to a server (default: a connected UDP
	// socket, so that an ICMP port unreachable comes back as
	// ECONNREFUSED). Kernel receive timestamps are read only from a
	// *net.UDPConn.
	Dialer func(localAddress, remoteAddress string) (net.Conn, error)
	// GetSystemTime reads the local clock for the client's timestamps
	// (default the system clock; a dry run's virtual clock).
	GetSystemTime func() time.Time
	// SystemTimeAt reads GetSystemTime's clock as it was at an earlier
	// instant t of time.Now's. With it (or without GetSystemTime) the
	// receive timestamp is the kernel's, where the OS gives one: when
	// the answer arrived, not when it was read.
	SystemTimeAt func(t time.Time) time.Time
}

// Query performs one NTPv4 client exchange. Errors are mapped: no answer →
// wraps ErrNoReply (ErrRefused for a refused port); an answer to someone
// else's request → ErrOriginMismatch; a malformed answer → wraps
// ErrBadMode. The socket is closed as soon as ctx ends.
func (q Querier) Query(ctx context.Context, address string) (*ntp.Response, error) {
	timeout := q.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
		if timeout <= 0 {
			return nil, fmt.Errorf("%w: %w", engine.ErrNoReply, context.DeadlineExceeded)
		}
	}
	s, err := open(q.Dialer, q.GetSystemTime, q.SystemTimeAt, address)
	if err != nil {
		return nil, mapError(err, timeout)
	}
	defer s.close()
	stop := context.AfterFunc(ctx, func() { s.close() })
	defer stop()
	r, err := s.exchange(timeout)
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return nil, fmt.Errorf("%w: %w", engine.ErrNoReply, ctx.Err())
	}
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("%w within %v", engine.ErrNoReply, engine.RoundDuration(timeout))
	}
	return r, err
}

// socket is one connected UDP socket to one server.
type socket struct {
	conn     net.Conn
	udp      *net.UDPConn // conn, if it is one: kernel timestamps, ReadMsgUDP
	local    net.Addr
	now      func() time.Time
	at       func(time.Time) time.Time // now at an earlier instant; nil: kernel times as they are
	kernelTS bool                      // the kernel timestamps what arrives
	opened   time.Time
	buf      [headerSize + 1024]byte // room for extension fields (ignored)
	oob      []byte

	// fd, once detached (Linux): the socket's own descriptor, out of the
	// runtime's poller, read when an answer is due (Client); conn is
	// closed then. -1 while conn is read.
	fd int
}

// open dials address. now reads the local clock (nil: the system clock)
// and at reads it at an earlier instant (see Querier.SystemTimeAt); the
// kernel's receive timestamps are asked for when they can be turned into
// now's clock.
func open(dial func(la, ra string) (net.Conn, error), now func() time.Time, at func(time.Time) time.Time, address string) (*socket, error) {
	if dial == nil {
		dial = dialUDP
	}
	c, err := dial("", address)
	if err != nil {
		return nil, err
	}
	s := &socket{conn: c, local: c.LocalAddr(), now: now, at: at, opened: time.Now(), fd: -1}
	s.udp, _ = c.(*net.UDPConn)
	if now == nil {
		s.now, s.at = systemTime, nil
	}
	if s.udp != nil && rxts.Supported && (now == nil || at != nil) {
		s.kernelTS = rxts.Enable(s.udp)
	}
	if s.kernelTS {
		s.oob = make([]byte, rxts.OOBSize)
	}
	return s, nil
}

func (s *socket) close() error {
	if s.fd >= 0 {
		return closeFD(s.fd)
	}
	return s.conn.Close()
}

// exchange sends one request and reads the answer, waiting at most
// timeout. The first datagram decides, as a connected socket receives
// only from the server (or one spoofing it): a mismatched origin
// timestamp is ErrOriginMismatch, not a reason to wait on.
func (s *socket) exchange(timeout time.Duration) (*ntp.Response, error) {
	cookie, err := newCookie()
	if err != nil {
		return nil, err
	}
	if err := s.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, mapError(err, timeout)
	}
	req := putRequest(s.buf[:], cookie)
	t1 := s.now()
	if _, err := s.conn.Write(req); err != nil {
		return nil, mapError(err, timeout)
	}
	b, t4, err := s.read()
	if err != nil {
		return nil, mapError(err, timeout)
	}
	return judge(b, cookie, t1, t4)
}

// read waits for one datagram and returns it with when it arrived (t4).
func (s *socket) read() ([]byte, time.Time, error) {
	var n, oobn int
	var err error
	if s.udp != nil {
		n, oobn, _, _, err = s.udp.ReadMsgUDP(s.buf[:], s.oob)
	} else {
		n, err = s.conn.Read(s.buf[:])
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	return s.buf[:n], s.arrival(oobn, time.Now()), nil
}

// arrival is when the datagram just read, its control messages oobn
// bytes of s.oob, arrived, on s's clock: the kernel's timestamp if there
// is one, else the clock read now. readAt is time.Now() just after the
// read.
func (s *socket) arrival(oobn int, readAt time.Time) time.Time {
	if s.kernelTS && oobn > 0 {
		if ts, ok := rxts.Parse(s.oob[:oobn]); ok {
			if s.at == nil {
				return ts
			}
			// The stamp is the system clock's; its age, in that
			// clock, dates it on time.Now's, which s.at reads.
			age := max(readAt.Round(0).Sub(ts), 0)
			return s.at(readAt.Add(-age))
		}
	}
	return s.now()
}

// judge reads an answer to the request carrying cookie: the header's
// own checks first, then the origin timestamp (RFC 5905 section 8,
// test 2), as beevik/ntp did.
func judge(b []byte, cookie uint64, t1, t4 time.Time) (*ntp.Response, error) {
	r, err := parseResponse(b, t1, t4)
	if err != nil {
		return nil, err
	}
	if origin, _ := cookieOf(b); origin != cookie {
		return nil, engine.ErrOriginMismatch
	}
	return r, nil
}

// mapError turns a socket error into the engine's vocabulary.
func mapError(err error, timeout time.Duration) error {
	var nerr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return engine.ErrRefused
	case errors.As(err, &nerr) && nerr.Timeout():
		return noReplyWithin(timeout)
	default:
		return fmt.Errorf("%w: %w", engine.ErrNoReply, err)
	}
}

// noReplyWithin is the error of an exchange that timed out.
func noReplyWithin(timeout time.Duration) error {
	return fmt.Errorf("%w within %v", engine.ErrNoReply, engine.RoundDuration(timeout))
}

// dialUDP is the default dialer: a connected UDP socket, so that an ICMP
// port unreachable comes back as ECONNREFUSED and only the server's
// datagrams are received.
func dialUDP(localAddress, remoteAddress string) (net.Conn, error) {
	var laddr *net.UDPAddr
	if localAddress != "" {
		var err error
		if laddr, err = net.ResolveUDPAddr("udp", net.JoinHostPort(localAddress, "0")); err != nil {
			return nil, err
		}
	}
	raddr, err := net.ResolveUDPAddr("udp", remoteAddress)
	if err != nil {
		return nil, err
	}
	return net.DialUDP("udp", laddr, raddr)
}
