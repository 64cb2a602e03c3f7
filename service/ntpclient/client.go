package ntpclient

// client.go: the service's exchanges. One connected UDP socket per server
// stays open between polls, and one goroutine per socket waits (parked,
// no thread) for the next exchange: an exchange costs a write and a read,
// where a socket per query cost ~25 system calls (socket, setsockopt,
// connect, getsockname, getpeername, two epoll_ctl, close…) and a
// goroutine. On Linux the write and the read are raw system calls and the
// exchange's timeout a platform.RealTimers timer (raw_linux.go: the
// runtime's syscall entry and its timers wake the idle process's system
// monitor); elsewhere the read waits on a read deadline.
//
// A socket is kept only while its exchanges succeed: after any failure
// (no answer, refused, malformed, a mismatched origin) the next exchange
// opens a new one, so a late answer to a request that timed out never
// meets the next request, and a changed local address or route is
// picked up. Sockets are also renewed every socketMaxAge, so the source
// port still changes now and then (chronyd opens one per request).

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/beevik/ntp"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/engine"
)

// socketMaxAge is how long a socket serves before a new one is opened.
const socketMaxAge = time.Hour

// Client performs asynchronous exchanges (it is a loop.Exchanger) on
// sockets kept open per server. The zero value is not usable: set the
// fields and call nothing else before the first Exchange; Close when
// done.
type Client struct {
	// Timeout bounds one exchange (default 2 s).
	Timeout time.Duration
	// Dialer and GetSystemTime are as in Querier.
	Dialer        func(localAddress, remoteAddress string) (net.Conn, error)
	GetSystemTime func() time.Time

	mu      sync.Mutex
	servers map[string]*server
	closed  bool
}

// server is the open socket to one address and the goroutine reading it.
type server struct {
	sock *socket
	work chan pending // the exchange to read the answer of; capacity 1
	// Guarded by Client.mu:
	busy    bool   // an exchange is in flight
	seq     uint64 // the exchanges sent on sock
	expired bool   // the in-flight exchange's timer ended its read (raw)
}

type pending struct {
	cookie uint64
	t1     time.Time
	done   func(*ntp.Response, error)
	stop   func() bool // the exchange's timer (raw sockets)
}

// Exchange sends a request to address now and arranges for done to be
// called once with the outcome, from another goroutine. An exchange with
// a server that has one in flight already fails at once (the poll loop
// never asks for that).
func (c *Client) Exchange(address string, done func(*ntp.Response, error)) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	fail := func(err error) { go done(nil, err) }
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		fail(fmt.Errorf("%w: %w", engine.ErrNoReply, net.ErrClosed))
		return
	}
	sv := c.servers[address]
	if sv != nil && sv.busy {
		fail(fmt.Errorf("%w: the previous exchange with %s is still in flight", engine.ErrNoReply, address))
		return
	}
	if sv != nil && time.Since(sv.sock.opened) >= socketMaxAge {
		c.dropLocked(address, sv)
		sv = nil
	}
	if sv == nil {
		s, err := open(c.Dialer, c.GetSystemTime, address)
		if err != nil {
			fail(mapError(err, timeout))
			return
		}
		s.setRaw()
		sv = &server{sock: s, work: make(chan pending, 1)}
		if c.servers == nil {
			c.servers = map[string]*server{}
		}
		c.servers[address] = sv
		go c.read(address, sv, timeout)
	}
	p, err := sv.send(timeout, done)
	if err != nil {
		c.dropLocked(address, sv)
		fail(err)
		return
	}
	sv.busy = true
	sv.seq++
	if sv.sock.raw {
		seq := sv.seq
		p.stop = timers.AfterFunc(timeout, func() { c.expire(sv, seq) })
	}
	sv.work <- p
}

// timers times the raw exchanges out.
var timers platform.RealTimers

// afterRead, if set (tests), runs between a read's end and its report.
var afterRead func(*server)

// expire ends exchange seq on sv if it is still waiting for its answer.
func (c *Client) expire(sv *server, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sv.busy && sv.seq == seq && !sv.expired {
		sv.expired = true
		sv.sock.expire()
	}
}

// send writes a request on sv's socket.
func (sv *server) send(timeout time.Duration, done func(*ntp.Response, error)) (pending, error) {
	s := sv.sock
	cookie, err := newCookie()
	if err != nil {
		return pending{}, err
	}
	if !s.raw {
		if err := s.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return pending{}, mapError(err, timeout)
		}
	}
	var b [headerSize]byte
	req := putRequest(b[:], cookie)
	t1 := s.now()
	if s.raw {
		err = s.writeRaw(req)
	} else {
		_, err = s.conn.Write(req)
	}
	if err != nil {
		return pending{}, mapError(err, timeout)
	}
	return pending{cookie: cookie, t1: t1, done: done}, nil
}

// read is sv's goroutine: for each exchange sent, it reads the answer
// (or the deadline's passing) and reports it. It ends when the socket is
// dropped.
func (c *Client) read(address string, sv *server, timeout time.Duration) {
	for p := range sv.work {
		b, t4, err := sv.sock.read()
		if afterRead != nil {
			afterRead(sv)
		}
		var r *ntp.Response
		if err == nil {
			r, err = judge(b, p.cookie, p.t1, t4)
		} else {
			err = mapError(err, timeout)
		}
		if p.stop != nil {
			p.stop()
		}
		c.mu.Lock()
		sv.busy = false
		if sv.expired {
			// The timer fired as the answer came: the next read must
			// not find its deadline.
			sv.expired = false
			if err == nil {
				sv.sock.unexpire()
			}
		}
		if err != nil {
			c.dropLocked(address, sv)
		}
		c.mu.Unlock()
		p.done(r, err)
	}
}

// dropLocked closes sv's socket and forgets it; its goroutine ends after
// reporting what it was waiting for. Called with c.mu held.
func (c *Client) dropLocked(address string, sv *server) {
	if c.servers[address] == sv {
		delete(c.servers, address)
		sv.sock.close()
		close(sv.work)
	}
}

// Forget closes the socket to address, if one is open (a server no
// longer polled).
func (c *Client) Forget(address string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sv := c.servers[address]; sv != nil {
		c.dropLocked(address, sv)
	}
}

// Close closes every socket; exchanges in flight end with ErrNoReply,
// later ones fail at once.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for a, sv := range c.servers {
		c.dropLocked(a, sv)
	}
	return nil
}
