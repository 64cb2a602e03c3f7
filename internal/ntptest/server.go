// Package ntptest is a configurable NTPv4 server for tests, benchmarks and
// the VM test: it serves a chosen offset from the real clock (or from an
// injected base clock), with per-leg network delay and jitter, packet loss,
// kiss-o'-death answers and deliberately malformed replies.
//
// It owns its own wire format (wire.go) so that it shares no code, and
// therefore no bugs, with the client under test. It only ever listens on
// loopback addresses (127.0.0.0/8 and ::1): Start refuses anything else.
// It reads the real clock and never changes it.
//
// On Linux every 127.x.y.z address is usable without configuration, so
// tests that need several servers give each its own address (chrony refuses
// two sources on one IP). macOS has only 127.0.0.1 unless aliases are added.
package ntptest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MalformedKind selects a deliberately broken reply. Every kind is one a
// careful client must reject.
type MalformedKind int

// Malformed reply kinds.
const (
	MalformedNone         MalformedKind = iota
	MalformedShort                      // reply truncated below the 48-byte header
	MalformedBadMode                    // mode 0 (reserved) instead of 4 (server)
	MalformedWrongOrigin                // origin timestamp does not echo the request's transmit timestamp
	MalformedZeroTransmit               // transmit timestamp is zero
	MalformedBackwards                  // receive timestamp later than transmit timestamp
	MalformedGarbage                    // 48 random bytes
)

var malformedNames = []string{"none", "short", "badmode", "wrongorigin", "zerotransmit", "backwards", "garbage"}

// String returns the kind's name as accepted by ParseMalformed.
func (k MalformedKind) String() string {
	if k < 0 || int(k) >= len(malformedNames) {
		return fmt.Sprintf("MalformedKind(%d)", int(k))
	}
	return malformedNames[k]
}

// MalformedKinds lists every kind except MalformedNone.
func MalformedKinds() []MalformedKind {
	ks := make([]MalformedKind, 0, len(malformedNames)-1)
	for k := MalformedShort; int(k) < len(malformedNames); k++ {
		ks = append(ks, k)
	}
	return ks
}

// ParseMalformed maps a name ("none", "short", "badmode", "wrongorigin",
// "zerotransmit", "backwards", "garbage"; "" means none) to its kind.
func ParseMalformed(s string) (MalformedKind, error) {
	if s == "" {
		return MalformedNone, nil
	}
	for i, n := range malformedNames {
		if strings.EqualFold(s, n) {
			return MalformedKind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown malformed kind %q (want one of %s)", s, strings.Join(malformedNames, ", "))
}

// JitterDist is the distribution of the per-leg extra delay.
type JitterDist int

// Jitter distributions.
const (
	// JitterUniform draws the extra delay uniformly from [0, J].
	JitterUniform JitterDist = iota
	// JitterExponential draws it from an exponential distribution with
	// mean J, cut at 10·J so a run stays bounded.
	JitterExponential
)

// ParseJitterDist maps "uniform" ("" too) or "exponential" to its value.
func ParseJitterDist(s string) (JitterDist, error) {
	switch strings.ToLower(s) {
	case "", "uniform":
		return JitterUniform, nil
	case "exponential", "exp":
		return JitterExponential, nil
	}
	return 0, fmt.Errorf("unknown jitter distribution %q (want uniform or exponential)", s)
}

// Config describes what a server answers. The zero value serves the real
// clock with no added delay, stratum 1, reference ID "LOCL".
type Config struct {
	// Offset is added to the base clock: served time = base + Offset. A
	// client measures Offset as its clock offset (reference minus local).
	Offset time.Duration
	// Now is the base clock; nil means time.Now. For era tests use
	// StartingAt, which serves a fixed start that advances with real time.
	Now func() time.Time

	// DelayOut is the time from a request's arrival to its receive
	// timestamp (t2); DelayBack the time from the transmit timestamp (t3)
	// to the reply leaving. Each request is handled in its own goroutine,
	// so delays overlap as on a real network, and an asymmetry shows up as
	// an offset error of (out−back)/2, as it would on a real path. Timer
	// lateness is absorbed into t3−t2 (server processing time), so the
	// legs are exact to within the socket calls.
	DelayOut, DelayBack time.Duration
	// JitterOut and JitterBack add a random extra delay per leg, drawn from
	// JitterDist with parameter J (uniform [0, J] or exponential mean J).
	JitterOut, JitterBack time.Duration
	JitterDist            JitterDist
	// Loss is the probability in [0, 1] that a request is dropped unanswered.
	Loss float64

	// Stratum is the stratum served; 0 means 1. (A kiss-o'-death, which is
	// stratum 0 on the wire, is configured with Kiss.)
	Stratum uint8
	// Leap is the leap indicator: 0 none, 1 insert, 2 delete, 3 alarm.
	Leap uint8
	// RefID is the reference ID; 0 means "LOCL". Avoid 127.0.0.1
	// (0x7f000001) at stratum ≥ 2: chrony takes it for a synchronization loop.
	RefID uint32
	// Precision is log2 of the clock precision in seconds; 0 means -20 (≈1 µs).
	Precision int8
	// RootDelay and RootDispersion are served as given.
	RootDelay, RootDispersion time.Duration

	// Kiss, if non-empty, makes every answer a kiss-o'-death: leap 3,
	// stratum 0, reference ID = the code ("DENY", "RSTR", "RATE", …).
	Kiss string
	// Malformed, if not MalformedNone, makes every answer broken that way.
	Malformed MalformedKind

	// Seed seeds the random source for jitter, loss and garbage, so a run
	// is reproducible. It is used by Start; SetConfig keeps the stream.
	Seed int64
}

// StartingAt returns a base clock for Config.Now that reads start at the
// moment of the call and then advances with the real (monotonic) clock.
func StartingAt(start time.Time) func() time.Time {
	t0 := time.Now()
	return func() time.Time { return start.Add(time.Since(t0)) }
}

// AtRate returns a base clock for Config.Now that reads start at the moment
// of the call and then advances (1 + ppm·10⁻⁶) times as fast as the real
// monotonic clock: the clock of a server whose oscillator runs ppm fast
// (negative: slow). A client disciplined to it must end with its frequency
// ppm above that of the machine serving it.
func AtRate(start time.Time, ppm float64) func() time.Time {
	t0 := time.Now()
	return atRate(start, ppm, func() time.Duration { return time.Since(t0) })
}

// atRate is AtRate over an injected elapsed-time source.
func atRate(start time.Time, ppm float64, elapsed func() time.Duration) func() time.Time {
	return func() time.Time {
		el := elapsed()
		return start.Add(el + time.Duration(float64(el)*ppm*1e-6))
	}
}

// ErrNotLoopback is returned for a listen address outside 127.0.0.0/8 and ::1.
var ErrNotLoopback = errors.New("not a loopback address (ntptest serves 127.0.0.0/8 and ::1 only)")

// referenceAge is how long ago the served reference timestamp lies: recent
// enough for every client's freshness check, and before t2 as RFC 5905
// requires.
const referenceAge = 8 * time.Second

// CheckLoopback resolves addr ("host:port") and returns the UDP address if
// its IP is a loopback address, else an error wrapping ErrNotLoopback.
// Names are resolved (only "localhost" makes sense here).
func CheckLoopback(addr string) (*net.UDPAddr, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "" {
		return nil, fmt.Errorf("listen address %q: %w", addr, ErrNotLoopback)
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if !ua.IP.IsLoopback() {
		return nil, fmt.Errorf("listen address %q: %w", addr, ErrNotLoopback)
	}
	return ua, nil
}

// Consecutive returns n "ip:port" addresses starting at base and counting
// up (127.0.0.11, 127.0.0.12, …), all checked to be loopback.
func Consecutive(base string, port, n int) ([]string, error) {
	ip, err := netip.ParseAddr(base)
	if err != nil {
		return nil, fmt.Errorf("base address: %w", err)
	}
	addrs := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if !ip.IsValid() || !ip.IsLoopback() {
			return nil, fmt.Errorf("address %d after %s: %w", i, base, ErrNotLoopback)
		}
		addrs = append(addrs, netip.AddrPortFrom(ip, uint16(port)).String())
		ip = ip.Next()
	}
	return addrs, nil
}

// Server is a running test NTP server. Its methods are safe for concurrent use.
type Server struct {
	conn *net.UDPConn

	mu  sync.Mutex // guards cfg and rng
	cfg Config
	rng *rand.Rand

	requests atomic.Int64
	dropped  atomic.Int64
	replies  atomic.Int64

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// Start listens on addr (a loopback "ip:port"; port 0 picks a free one) and
// serves cfg until Close.
func Start(addr string, cfg Config) (*Server, error) {
	ua, err := CheckLoopback(addr)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("ntptest: listen %s: %w", addr, err)
	}
	seed := uint64(cfg.Seed)
	s := &Server{
		conn: conn,
		cfg:  cfg,
		rng:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		done: make(chan struct{}),
	}
	s.wg.Add(1)
	go s.readLoop()
	return s, nil
}

// Addr returns the address the server listens on, "ip:port".
func (s *Server) Addr() string { return s.conn.LocalAddr().String() }

// Requests returns how many client requests arrived, dropped ones included.
func (s *Server) Requests() int { return int(s.requests.Load()) }

// Dropped returns how many requests were dropped by Config.Loss.
func (s *Server) Dropped() int { return int(s.dropped.Load()) }

// Replies returns how many replies were sent.
func (s *Server) Replies() int { return int(s.replies.Load()) }

// SetConfig replaces the configuration for requests arriving from now on.
// The random stream continues (Seed is only read by Start).
func (s *Server) SetConfig(cfg Config) {
	s.mu.Lock()
	s.cfg = cfg
	s.mu.Unlock()
}

// Close stops the server, abandons replies still held back by a delay and
// waits for its goroutines to finish.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		err = s.conn.Close()
		s.wg.Wait()
	})
	return err
}

// request is one client request with everything decided at arrival.
type request struct {
	hdr      Header
	from     netip.AddrPort
	arrival  time.Time // local monotonic reading when the datagram was read
	holdOut  time.Duration
	holdBack time.Duration
	cfg      Config
	garbage  []byte
}

func (s *Server) readLoop() {
	defer s.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		arrival := time.Now()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP-induced errors; keep serving
		}
		hdr, ok := ParseHeader(buf[:n])
		if !ok || hdr.Mode != ModeClient || hdr.Version < 1 || hdr.Version > 4 {
			continue // not a client request: a server stays silent
		}
		s.requests.Add(1)
		req := request{hdr: hdr, from: from, arrival: arrival}

		s.mu.Lock()
		req.cfg = s.cfg
		drop := req.cfg.Loss > 0 && s.rng.Float64() < req.cfg.Loss
		if !drop {
			req.holdOut = req.cfg.DelayOut + s.jitter(req.cfg.JitterOut, req.cfg.JitterDist)
			req.holdBack = req.cfg.DelayBack + s.jitter(req.cfg.JitterBack, req.cfg.JitterDist)
			if req.cfg.Malformed == MalformedGarbage {
				req.garbage = make([]byte, HeaderSize)
				for i := range req.garbage {
					req.garbage[i] = byte(s.rng.Uint32())
				}
			}
		}
		s.mu.Unlock()
		if drop {
			s.dropped.Add(1)
			continue
		}
		s.wg.Add(1)
		go s.handle(req)
	}
}

// jitter draws one extra delay; s.mu must be held.
func (s *Server) jitter(j time.Duration, dist JitterDist) time.Duration {
	if j <= 0 {
		return 0
	}
	switch dist {
	case JitterExponential:
		return min(time.Duration(s.rng.ExpFloat64()*float64(j)), 10*j)
	default:
		return time.Duration(s.rng.Int64N(int64(j) + 1))
	}
}

// waitUntil sleeps until the monotonic deadline; it reports false if the
// server closed first.
func (s *Server) waitUntil(deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

func (s *Server) handle(req request) {
	defer s.wg.Done()
	// The request reaches the server holdOut after it arrived. A timer
	// fires late by some tens of microseconds; the receive timestamp is
	// still the served time at the due instant, so the lateness becomes
	// server processing time (t3−t2, which NTP subtracts out) instead of
	// a random path asymmetry.
	due := req.arrival.Add(req.holdOut)
	if !s.waitUntil(due) {
		return
	}
	t2 := servedAt(req.cfg, due)
	hdr := buildReply(req, t2)
	if !s.waitUntil(due.Add(req.holdBack)) {
		return
	}
	// Likewise the transmit timestamp is the served time holdBack before
	// the reply leaves, so the return leg takes exactly holdBack (plus
	// the send system call). It is not before t2: now−holdBack ≥ due, but
	// each servedAt maps the monotonic instant onto the wall clock read
	// anew, and two readings of (wall − monotonic) differ by the gap
	// between time.Now's two clock reads (microseconds if interrupted
	// between them): with no delays t3 fell once before t2 in CI, and the
	// client rejected the reply as ticking backwards.
	t3 := servedAt(req.cfg, time.Now().Add(-req.holdBack))
	if t3.Before(t2) {
		t3 = t2
	}
	wire := finishReply(req, hdr, t3)
	// Count before sending, so a client that has its reply sees the count.
	s.replies.Add(1)
	if _, err := s.conn.WriteToUDPAddrPort(wire, req.from); err != nil {
		s.replies.Add(-1)
	}
}

// servedAt returns the served time (base clock + Offset) at the local
// instant at, which may lie in the past: the base clock is read now and
// moved back by the elapsed monotonic time.
func servedAt(cfg Config, at time.Time) time.Time {
	local := time.Now()
	base := local
	if cfg.Now != nil {
		base = cfg.Now()
	}
	return base.Add(cfg.Offset - local.Sub(at))
}

// buildReply fills every field but the transmit timestamp.
func buildReply(req request, t2 time.Time) Header {
	cfg := req.cfg
	version := req.hdr.Version
	if version < 3 {
		version = 4
	}
	h := Header{
		Leap:           cfg.Leap & 3,
		Version:        version,
		Mode:           ModeServer,
		Stratum:        cfg.Stratum,
		Poll:           req.hdr.Poll,
		Precision:      cfg.Precision,
		RootDelay:      ShortFromDuration(cfg.RootDelay),
		RootDispersion: ShortFromDuration(cfg.RootDispersion),
		RefID:          cfg.RefID,
		RefTime:        ToTimestamp(t2.Add(-referenceAge)),
		Origin:         req.hdr.Transmit,
		Receive:        ToTimestamp(t2),
	}
	if h.Stratum == 0 {
		h.Stratum = 1
	}
	if h.Precision == 0 {
		h.Precision = -20
	}
	if h.RefID == 0 {
		h.RefID = RefIDFromString("LOCL")
	}
	if cfg.Kiss != "" {
		h.Leap = 3
		h.Stratum = 0
		h.RefID = RefIDFromString(cfg.Kiss)
	}
	return h
}

// finishReply sets the transmit timestamp, applies Config.Malformed and
// encodes the reply.
func finishReply(req request, h Header, t3 time.Time) []byte {
	h.Transmit = ToTimestamp(t3)
	switch req.cfg.Malformed {
	case MalformedShort:
		return h.Marshal()[:HeaderSize-8]
	case MalformedBadMode:
		h.Mode = ModeReserved
	case MalformedWrongOrigin:
		h.Origin ^= 0x00000001_00000001
	case MalformedZeroTransmit:
		h.Transmit = 0
	case MalformedBackwards:
		h.Receive = ToTimestamp(t3.Add(time.Second))
	case MalformedGarbage:
		return req.garbage
	}
	return h.Marshal()
}
