// Package ntpclient is the production engine.Querier: one NTPv4 client
// exchange over UDP with github.com/beevik/ntp, its errors mapped onto the
// engine's vocabulary (engine.ErrNoReply, engine.ErrRefused,
// engine.ErrOriginMismatch, engine.ErrBadMode). It holds the only socket
// code of the client side, so that service/engine stays pure.
package ntpclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/beevik/ntp"

	"github.com/timesync/timesync/service/engine"
)

// Querier is the production engine.Querier, on github.com/beevik/ntp.
type Querier struct {
	// Timeout bounds one exchange (default 2 s).
	Timeout time.Duration
	// Dialer and GetSystemTime are passed to beevik/ntp; nil means its
	// defaults (UDP, and kernel receive timestamps where available).
	Dialer        func(localAddress, remoteAddress string) (net.Conn, error)
	GetSystemTime func() time.Time
}

// Query performs one NTPv4 client exchange. Errors are mapped: no answer →
// wraps ErrNoReply; an answer to someone else's request → ErrOriginMismatch;
// a malformed answer → wraps ErrBadMode.
func (q Querier) Query(ctx context.Context, address string) (*ntp.Response, error) {
	timeout := q.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
		if timeout <= 0 {
			return nil, fmt.Errorf("%w: %w", engine.ErrNoReply, context.DeadlineExceeded)
		}
	}
	// beevik/ntp takes no context: the socket is closed when ctx ends,
	// so that a caller that gives up on a silent server does not wait
	// out the exchange's timeout.
	dial := q.Dialer
	if dial == nil {
		dial = dialUDP
	}
	// The socket itself goes to beevik/ntp unwrapped: it reads kernel
	// receive timestamps only from a *net.UDPConn.
	stop := func() bool { return false }
	defer func() { stop() }()
	r, err := ntp.QueryWithOptions(address, ntp.QueryOptions{
		Timeout: timeout,
		Dialer: func(la, ra string) (net.Conn, error) {
			c, err := dial(la, ra)
			if err == nil {
				stop = context.AfterFunc(ctx, func() { c.Close() })
			}
			return c, err
		},
		GetSystemTime: q.GetSystemTime,
	})
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return nil, fmt.Errorf("%w: %w", engine.ErrNoReply, ctx.Err())
	}
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("%w within %v", engine.ErrNoReply, engine.RoundDuration(timeout))
	}
	if err == nil {
		return r, nil
	}
	var nerr net.Error
	var aerr *net.AddrError
	var derr *net.DNSError
	switch {
	case errors.Is(err, ntp.ErrServerResponseMismatch):
		return nil, engine.ErrOriginMismatch
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil, engine.ErrRefused
	case errors.As(err, &nerr) && nerr.Timeout():
		return nil, fmt.Errorf("%w within %v", engine.ErrNoReply, engine.RoundDuration(timeout))
	case errors.As(err, &derr), errors.As(err, &aerr), errors.As(err, &nerr), errors.Is(err, net.ErrClosed):
		return nil, fmt.Errorf("%w: %w", engine.ErrNoReply, err)
	case errors.Is(err, ntp.ErrInvalidMode), errors.Is(err, ntp.ErrInvalidTransmitTime),
		errors.Is(err, ntp.ErrServerTickedBackwards), errors.Is(err, ntp.ErrInvalidTime):
		return nil, fmt.Errorf("%w: %w", engine.ErrBadMode, err)
	default:
		var oerr *net.OpError
		if errors.As(err, &oerr) {
			return nil, fmt.Errorf("%w: %w", engine.ErrNoReply, err)
		}
		return nil, err
	}
}

// dialUDP is beevik/ntp's default dialer: a connected UDP socket, so that
// an ICMP port unreachable comes back as ECONNREFUSED.
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
