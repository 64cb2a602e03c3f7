package ntpclient

// client.go: the service's exchanges. One connected UDP socket per server
// stays open between polls: an exchange costs a write and a read, where a
// socket per query cost ~25 system calls (socket, setsockopt, connect,
// getsockname, getpeername, two epoll_ctl, close…) and a goroutine.
//
// On Linux (kernel receive timestamps, the default dialer) the answers are
// read when they are due, not when they come: the socket's descriptor is
// taken out of the runtime's poller (detach), and one timer of the
// client's looks at the sockets of a round's exchanges once their answers
// should all be there — twice the server's last round trip plus a margin
// after the last request of the round — then, for any not there yet, at 4×
// the time waited so far, until the timeout. The kernel stamped each
// answer as it arrived, so reading it later changes no measurement, and
// the idle process wakes once for a round's answers instead of once for
// each (what the idle service costs is mostly wake-ups). Elsewhere one
// parked goroutine per socket reads its answers as they come, bounded by
// a read deadline.
//
// A socket is kept only while its exchanges succeed: after any failure
// (no answer, refused, malformed, a mismatched origin) the next exchange
// opens a new one, so a late answer to a request that timed out never
// meets the next request, and a changed local address or route is
// picked up. Sockets are also renewed every socketMaxAge, so the source
// port still changes now and then (chronyd opens one per request).

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/beevik/ntp"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/engine"
)

// socketMaxAge is how long a socket serves before a new one is opened.
const socketMaxAge = time.Hour

// How long after its request a detached socket is first looked at: twice
// the server's recent round trip plus dueMargin, or dueUnknown before the
// server has answered; never past the timeout. Requests sent within
// dueTogether of each other (a round: the poll loop sends them together)
// are looked at together, when the last of them is due. A socket whose
// answer is not there is looked at again at dueBackoff times the time
// waited so far.
const (
	dueMargin   = 10 * time.Millisecond
	dueUnknown  = 50 * time.Millisecond
	dueTogether = 100 * time.Millisecond
	dueBackoff  = 4
)

// Client performs asynchronous exchanges (it is a loop.Exchanger) on
// sockets kept open per server. The zero value is not usable: set the
// fields and call nothing else before the first Exchange; Close when
// done.
type Client struct {
	// Timeout bounds one exchange (default 2 s).
	Timeout time.Duration
	// Dialer, GetSystemTime and SystemTimeAt are as in Querier.
	Dialer        func(localAddress, remoteAddress string) (net.Conn, error)
	GetSystemTime func() time.Time
	SystemTimeAt  func(t time.Time) time.Time

	mu      sync.Mutex
	servers map[string]*server
	closed  bool
	// The timer that looks at the detached sockets (collect).
	lookStop func() bool
	lookAt   time.Time // when it fires; zero: not armed
	lookGen  uint64
}

// server is the open socket to one address and its exchange in flight.
type server struct {
	sock *socket
	// work: the exchange whose answer the socket's goroutine is to read
	// (capacity 1); nil for a detached socket, whose exchange is p.
	work chan pending
	// Guarded by Client.mu:
	busy    bool   // an exchange is in flight
	seq     uint64 // the exchanges sent on sock
	p       pending
	timeout time.Duration
	sent    time.Time     // when p was sent (time.Now)
	look    time.Time     // when to look for p's answer next
	looked  bool          // the socket was looked at once for p already
	rtt     time.Duration // recent round trip (a decaying maximum); 0: none yet
}

type pending struct {
	cookie uint64
	t1     time.Time
	done   func(*ntp.Response, error)
}

// timers is the clock of the looks at detached sockets.
var timers platform.RealTimers

// Hooks for tests: onLook learns how many exchanges each timer's look
// ended; afterSend runs between a detached socket's request and the look
// at it that follows at once.
var (
	onLook    func(ended int)
	afterSend func()
)

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
		s, err := open(c.Dialer, c.GetSystemTime, c.SystemTimeAt, address)
		if err != nil {
			fail(mapError(err, timeout))
			return
		}
		sv = &server{sock: s}
		if !s.detach() {
			sv.work = make(chan pending, 1)
			go c.read(address, sv, timeout)
		}
		if c.servers == nil {
			c.servers = map[string]*server{}
		}
		c.servers[address] = sv
	}
	p, err := sv.send(timeout, done)
	if err != nil {
		c.dropLocked(address, sv)
		fail(err)
		return
	}
	sv.busy = true
	sv.seq++
	if sv.work != nil {
		sv.work <- p
		return
	}
	sv.p, sv.timeout = p, timeout
	if afterSend != nil {
		afterSend()
	}
	// A server on this machine may have answered already: woken by the
	// request, it often runs before the write returns. Its answer is
	// taken now, and reported once the caller is done.
	if r, err, done := sv.lookFor(time.Now(), false); done {
		sv.busy = false
		if err != nil {
			c.dropLocked(address, sv)
		}
		go p.done(r, err)
		return
	}
	c.awaitLocked(sv, time.Now())
}

// send writes a request on sv's socket.
func (sv *server) send(timeout time.Duration, done func(*ntp.Response, error)) (pending, error) {
	s := sv.sock
	cookie, err := newCookie()
	if err != nil {
		return pending{}, err
	}
	if s.fd < 0 {
		if err := s.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return pending{}, mapError(err, timeout)
		}
	}
	var b [headerSize]byte
	req := putRequest(b[:], cookie)
	t1 := s.now()
	if s.fd >= 0 {
		err = s.writeFD(req)
	} else {
		_, err = s.conn.Write(req)
	}
	if err != nil {
		return pending{}, mapError(err, timeout)
	}
	return pending{cookie: cookie, t1: t1, done: done}, nil
}

// read is the goroutine of a socket that is not detached: for each
// exchange sent, it reads the answer (or the deadline's passing) and
// reports it. It ends when the socket is dropped.
func (c *Client) read(address string, sv *server, timeout time.Duration) {
	for p := range sv.work {
		b, t4, err := sv.sock.read()
		var r *ntp.Response
		if err == nil {
			r, err = judge(b, p.cookie, p.t1, t4)
		} else {
			err = mapError(err, timeout)
		}
		c.mu.Lock()
		sv.busy = false
		if err != nil {
			c.dropLocked(address, sv)
		}
		c.mu.Unlock()
		p.done(r, err)
	}
}

// awaitLocked arranges for the detached sv's exchange, sent just before
// now, to be read when its answer is due, with the round's others.
// Called with c.mu held.
func (c *Client) awaitLocked(sv *server, now time.Time) {
	wait := dueUnknown
	if sv.rtt > 0 {
		wait = 2*sv.rtt + dueMargin
	}
	look := now.Add(min(wait, sv.timeout))
	var round []*server
	for _, o := range c.servers {
		if o != sv && o.busy && o.work == nil && !o.looked && now.Sub(o.sent) < dueTogether {
			round = append(round, o)
			look = latest(look, o.look)
		}
	}
	for _, o := range round {
		o.look = look
	}
	sv.sent, sv.look, sv.looked = now, look, false
	c.armLocked()
}

// armLocked sets the look timer to the earliest look due, or stops it.
func (c *Client) armLocked() {
	var next time.Time
	for _, sv := range c.servers {
		if sv.busy && sv.work == nil && (next.IsZero() || sv.look.Before(next)) {
			next = sv.look
		}
	}
	if next.Equal(c.lookAt) {
		return
	}
	if c.lookStop != nil {
		c.lookStop()
	}
	c.lookStop, c.lookAt = nil, next
	if next.IsZero() {
		return
	}
	c.lookGen++
	gen := c.lookGen
	c.lookStop = timers.AfterFunc(time.Until(next), func() { c.collect(gen) })
}

// ended is an exchange's outcome, to report once c.mu is released.
type ended struct {
	p   pending
	r   *ntp.Response
	err error
}

// collect looks at the detached sockets whose look is due (the look
// timer, armed as generation gen) and reports the exchanges that ended,
// in the order they were sent.
func (c *Client) collect(gen uint64) {
	c.mu.Lock()
	if gen == c.lookGen {
		c.lookStop, c.lookAt = nil, time.Time{}
	}
	now := time.Now()
	var out []ended
	for address, sv := range c.servers {
		if !sv.busy || sv.work != nil || sv.look.After(now) {
			continue
		}
		r, err, done := sv.lookFor(now, true)
		if !done {
			continue
		}
		sv.busy = false
		if err != nil {
			c.dropLocked(address, sv)
		}
		out = append(out, ended{sv.p, r, err})
	}
	c.armLocked()
	c.mu.Unlock()
	if onLook != nil {
		onLook(len(out))
	}
	slices.SortFunc(out, func(a, b ended) int { return a.p.t1.Compare(b.p.t1) })
	for _, e := range out {
		e.p.done(e.r, e.err)
	}
}

// lookFor reads the answer to sv's exchange if it is there, and reports
// whether the exchange ended (answered, failed or timed out); if not, and
// if this was a look it was due for (due), it sets the next one. Called
// with the Client's mu held.
func (sv *server) lookFor(now time.Time, due bool) (r *ntp.Response, err error, done bool) {
	b, t4, err := sv.sock.receive()
	switch {
	case errors.Is(err, syscall.EAGAIN) && !due:
		return nil, nil, false
	case errors.Is(err, syscall.EAGAIN):
		waited := now.Sub(sv.sent)
		if waited >= sv.timeout {
			return nil, noReplyWithin(sv.timeout), true
		}
		sv.looked = true
		sv.look = sv.sent.Add(min(dueBackoff*waited, sv.timeout))
		return nil, nil, false
	case err != nil:
		return nil, mapError(err, sv.timeout), true
	}
	if r, err = judge(b, sv.p.cookie, sv.p.t1, t4); err == nil {
		rtt := min(max(t4.Sub(sv.p.t1), 0), sv.timeout)
		sv.rtt = max(rtt, sv.rtt-sv.rtt/4)
	}
	return r, err, true
}

// latest is the later of a and b.
func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// dropLocked closes sv's socket and forgets it; its goroutine ends after
// reporting what it was waiting for, and a detached socket's exchange in
// flight ends now with ErrNoReply. Called with c.mu held.
func (c *Client) dropLocked(address string, sv *server) {
	if c.servers[address] != sv {
		return
	}
	delete(c.servers, address)
	sv.sock.close()
	if sv.work != nil {
		close(sv.work)
		return
	}
	if sv.busy {
		sv.busy = false
		done := sv.p.done
		go done(nil, fmt.Errorf("%w: %w", engine.ErrNoReply, net.ErrClosed))
		c.armLocked()
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
