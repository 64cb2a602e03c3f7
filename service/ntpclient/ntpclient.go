package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/beevik/ntp"
)

// ErrNoReply wraps failures where no answer came back at all (timeout,
// unreachable network, refused port, unresolvable name): the source is
// unreachable rather than invalid.
var ErrNoReply = errors.New("no reply")

func isNetErr(err error) bool { return errors.Is(err, ErrNoReply) }

// NTPQuerier is the production Querier, on github.com/beevik/ntp.
type NTPQuerier struct {
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
func (q NTPQuerier) Query(ctx context.Context, address string) (*ntp.Response, error) {
	timeout := q.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
		if timeout <= 0 {
			return nil, fmt.Errorf("%w: %w", ErrNoReply, context.DeadlineExceeded)
		}
	}
	r, err := ntp.QueryWithOptions(address, ntp.QueryOptions{
		Timeout:       timeout,
		Dialer:        q.Dialer,
		GetSystemTime: q.GetSystemTime,
	})
	if err == nil {
		return r, nil
	}
	var nerr net.Error
	var aerr *net.AddrError
	var derr *net.DNSError
	switch {
	case errors.Is(err, ntp.ErrServerResponseMismatch):
		return nil, ErrOriginMismatch
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil, fmt.Errorf("%w: port unreachable (connection refused; is an NTP server running there?)", ErrNoReply)
	case errors.As(err, &nerr) && nerr.Timeout():
		return nil, fmt.Errorf("%w within %v", ErrNoReply, timeout)
	case errors.As(err, &derr), errors.As(err, &aerr), errors.As(err, &nerr), errors.Is(err, net.ErrClosed):
		return nil, fmt.Errorf("%w: %w", ErrNoReply, err)
	case errors.Is(err, ntp.ErrInvalidMode), errors.Is(err, ntp.ErrInvalidTransmitTime),
		errors.Is(err, ntp.ErrServerTickedBackwards), errors.Is(err, ntp.ErrInvalidTime):
		return nil, fmt.Errorf("%w: %w", ErrBadMode, err)
	default:
		var oerr *net.OpError
		if errors.As(err, &oerr) {
			return nil, fmt.Errorf("%w: %w", ErrNoReply, err)
		}
		return nil, err
	}
}
