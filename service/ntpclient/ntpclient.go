// Package ntpclient holds the client side's socket code: NTPv4 client
// exchanges over UDP, their errors mapped onto the engine's vocabulary
// (engine.ErrNoReply, engine.ErrRefused, engine.ErrOriginMismatch,
// engine.ErrBadMode), so that service/engine stays pure. It builds and
// reads the packets itself (packet.go) and hands the engine the
// github.com/beevik/ntp Response type the rest of the code judges.
//
// Two doors: Querier.Query, one blocking exchange on a socket of its own
// (timesync --once), and Client.Exchange, the service's asynchronous
// exchanges on one connected socket per server kept open between polls,
// read by one parked goroutine per server (what the idle service costs
// is mostly per exchange: a socket per query cost ~25 system calls).
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
	// (default the system clock, and then kernel receive timestamps
	// where available; a dry run's virtual clock otherwise).
	GetSystemTime func() time.Time
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
	s, err := open(q.Dialer, q.GetSystemTime, address)
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
	now      func() time.Time
	kernelTS bool // the kernel timestamps what arrives
	opened   time.Time
	buf      [headerSize + 1024]byte // room for extension fields (ignored)
	oob      []byte

	// raw: the client's exchanges are raw system calls, timed out by a
	// timer of the client's instead of a read deadline (setRaw, Linux).
	raw bool
}

// open dials address. now reads the local clock (nil: the system clock,
// with kernel receive timestamps where the OS has them).
func open(dial func(la, ra string) (net.Conn, error), now func() time.Time, address string) (*socket, error) {
	if dial == nil {
		dial = dialUDP
	}
	c, err := dial("", address)
	if err != nil {
		return nil, err
	}
	s := &socket{conn: c, now: now, opened: time.Now()}
	s.udp, _ = c.(*net.UDPConn)
	if now == nil {
		s.now = systemTime
		if s.udp != nil && rxts.Supported {
			s.kernelTS = rxts.Enable(s.udp)
		}
	}
	if s.kernelTS {
		s.oob = make([]byte, rxts.OOBSize)
	}
	return s, nil
}

func (s *socket) close() error {
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

// read returns one datagram and when it arrived (t4): the kernel's
// timestamp if there is one, else the clock read just after.
func (s *socket) read() ([]byte, time.Time, error) {
	var n, oobn int
	var err error
	if s.raw {
		n, oobn, err = s.readRaw()
	} else if s.udp != nil {
		n, oobn, _, _, err = s.udp.ReadMsgUDP(s.buf[:], s.oob)
	} else {
		n, err = s.conn.Read(s.buf[:])
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	t4 := s.now()
	if s.kernelTS && oobn > 0 {
		if ts, ok := rxts.Parse(s.oob[:oobn]); ok {
			t4 = ts
		}
	}
	return s.buf[:n], t4, nil
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
		return fmt.Errorf("%w within %v", engine.ErrNoReply, engine.RoundDuration(timeout))
	default:
		return fmt.Errorf("%w: %w", engine.ErrNoReply, err)
	}
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
