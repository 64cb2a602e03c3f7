package serve

// server.go: the Server — the request path (Handle: restrict rule, form,
// mode, noserve, limited, then the reply), our synchronization as the
// replies announce it, the counters, and the sockets with their readers
// (Listen keeps, opens and closes sockets to match the listen lines).

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/timesync/timesync/service/config"
)

// SyncState is our own synchronization, as the server announces it. The
// daemon sets it (SetSync) whenever its status changes; the server only
// reads it.
type SyncState struct {
	// Synchronized reports whether the clock follows a trustworthy
	// reference. When false every reply says leap 3 and stratum 16, and
	// nothing else of this state is used.
	Synchronized bool
	// Leap is LeapNone, LeapAdd or LeapDelete (a leap second announced
	// for the end of the day).
	Leap uint8
	// Stratum is ours, as written in replies: our reference's + 1, 1..15.
	Stratum uint8
	// RefID identifies our reference (RefID of its address).
	RefID [4]byte
	// RefTime is when the clock was last corrected.
	RefTime time.Time
	// RootDelay is the round-trip delay to the primary reference.
	RootDelay time.Duration
	// RootDispersion is the dispersion to the primary reference, valid at
	// DispersionAt (RefTime if zero); it grows from there at the
	// frequency tolerance PHI (15 ppm, RFC 5905), as ntpd's does.
	RootDispersion time.Duration
	DispersionAt   time.Time
}

// phi is the frequency tolerance (RFC 5905: 15 ppm): how fast our error
// bound grows between corrections.
const phi = 15e-6

// maxDispersion is RFC 5905's MAXDISP: a root dispersion this large
// means our time is no longer worth serving.
const maxDispersion = 16 * time.Second

// Counters are what the server did with the packets it received; each
// packet counts in exactly one of Answered, DroppedByRule, RateLimited,
// Malformed and Refused. KoDSent counts the RATE kisses sent for
// rate-limited requests.
type Counters struct {
	// Answered: client requests answered with the time.
	Answered uint64
	// DroppedByRule: packets dropped by "ignore" or "noserve".
	DroppedByRule uint64
	// RateLimited: requests over the "limited" rate (answered with a KoD
	// or not at all).
	RateLimited uint64
	// KoDSent: RATE kiss-o'-death replies sent.
	KoDSent uint64
	// Malformed: datagrams that are not well-formed NTP packets
	// (ParseRequest); never answered.
	Malformed uint64
	// Refused: well-formed packets that are not client requests: ntpq and
	// ntpdc queries (modes 6, 7), symmetric, server and broadcast modes.
	Refused uint64
}

// Verdict says what became of one packet.
type Verdict uint8

// Verdicts of Handle.
const (
	Answered Verdict = iota
	DroppedByRule
	RateLimited // silently
	KoDSent     // rate-limited, with a RATE kiss-o'-death
	Malformed
	Refused
)

// Options configures a Server. The zero value serves the real clock.
type Options struct {
	// Now reads the wall clock for the timestamps (default time.Now).
	// When set, kernel receive timestamps are not used: every time
	// comes from Now.
	Now func() time.Time
	// Mono reads a monotonic clock for the rate limiter (default: time
	// since New).
	Mono func() time.Duration
	// Precision is the clock's precision as a power of two seconds (0:
	// measured at New).
	Precision int8
	// MRUSize is how many clients "limited" remembers (default
	// DefaultMRUSize).
	MRUSize int
	// KoDPerSecond bounds the RATE kisses sent to all clients together
	// each second (default 100), on top of the per-client limit.
	KoDPerSecond int
	// Readers is how many goroutines read each socket (default
	// GOMAXPROCS, at most 4).
	Readers int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// ListenUDP opens a socket (default net.ListenUDP). It is the seam
	// for a privileged parent that binds port 123 and hands the socket
	// to an unprivileged engine (DESIGN.md, process model).
	ListenUDP func(network string, laddr *net.UDPAddr) (*net.UDPConn, error)
	// Observe, if set, is told of every packet a socket received: from
	// whom, when, and what became of it (tests, debugging). It runs on
	// the packet path and must be quick.
	Observe func(client netip.AddrPort, rx time.Time, v Verdict)
}

// Server answers NTP client requests on its sockets under the restrict
// rules in force. Rules, sync state and sockets change at run time
// without disturbing each other.
type Server struct {
	opt       Options
	log       *slog.Logger
	now       func() time.Time
	mono      func() time.Duration
	kernelRx  bool // use kernel receive timestamps when the OS gives them
	precision int8

	rules atomic.Pointer[Rules]
	sync  atomic.Pointer[SyncState]
	limit *Limiter

	kodMu     sync.Mutex
	kodSecond int64
	kodCount  int

	answered, droppedByRule, rateLimited, kodSent, malformed, refused atomic.Uint64

	mu      sync.Mutex
	sockets map[string]*socket // by listen address
	closed  bool
}

// New returns a server with the default restrict rule, unsynchronized,
// and no socket yet.
func New(opt Options) *Server {
	s := &Server{opt: opt, log: opt.Logger, now: opt.Now, mono: opt.Mono, sockets: map[string]*socket{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
		s.kernelRx = true
	}
	if s.mono == nil {
		start := time.Now()
		s.mono = func() time.Duration { return time.Since(start) }
	}
	if s.opt.KoDPerSecond <= 0 {
		s.opt.KoDPerSecond = 100
	}
	if s.opt.ListenUDP == nil {
		s.opt.ListenUDP = net.ListenUDP
	}
	if s.opt.Readers <= 0 {
		s.opt.Readers = min(runtime.GOMAXPROCS(0), 4)
	}
	s.precision = opt.Precision
	if s.precision == 0 {
		s.precision = measurePrecision(s.now)
	}
	s.limit = NewLimiter(opt.MRUSize)
	s.rules.Store(Compile(nil))
	s.sync.Store(&SyncState{})
	return s
}

// measurePrecision estimates the clock's precision (RFC 5905: log2 of
// the time to read it, at least its resolution), as ntpd does at start.
func measurePrecision(now func() time.Time) int8 {
	best := time.Second
	prev := now()
	for i := 0; i < 100; i++ {
		t := now()
		if d := t.Sub(prev); d > 0 && d < best {
			best = d
		}
		prev = t
	}
	return int8(math.Floor(math.Log2(best.Seconds())))
}

// SetRules replaces the restrict rules; packets in flight finish under
// the old ones. The rate limiter's memory of clients is kept.
func (s *Server) SetRules(rules []config.Restrict) { s.rules.Store(Compile(rules)) }

// Rules returns the table in force.
func (s *Server) Rules() *Rules { return s.rules.Load() }

// SetSync replaces the synchronization state the replies announce.
func (s *Server) SetSync(st SyncState) { s.sync.Store(&st) }

// Counters returns a snapshot of the counters.
func (s *Server) Counters() Counters {
	return Counters{
		Answered:      s.answered.Load(),
		DroppedByRule: s.droppedByRule.Load(),
		RateLimited:   s.rateLimited.Load(),
		KoDSent:       s.kodSent.Load(),
		Malformed:     s.malformed.Load(),
		Refused:       s.refused.Load(),
	}
}

// Limiter returns the rate limiter's table (for reports and tests).
func (s *Server) Limiter() *Limiter { return s.limit }

// Precision returns the precision announced in replies.
func (s *Server) Precision() int8 { return s.precision }

// Handle judges one datagram from client, received at rx, and appends
// the reply, if any, to dst. The reply's transmit timestamp is not set:
// the caller writes it with SetTransmit just before sending. It returns
// dst unchanged when nothing is to be sent. Counters are updated.
//
// The order is ntpd's: the restrict rule first ("ignore" drops even
// garbage), then the packet's form, then its mode (only client requests
// are served; ntpq/ntpdc queries and symmetric, server or broadcast
// packets are refused whatever the rule says), then "noserve", then
// "limited". A reply is 48 bytes, never longer than the request.
func (s *Server) Handle(dst, req []byte, client netip.Addr, rx time.Time) ([]byte, Verdict) {
	a16 := client.As16()
	flags := s.rules.Load().Match(a16)
	if flags&FlagIgnore != 0 {
		s.droppedByRule.Add(1)
		return dst, DroppedByRule
	}
	r, err := ParseRequest(req)
	if err != nil {
		s.malformed.Add(1)
		return dst, Malformed
	}
	if r.Mode != ModeClient {
		s.refused.Add(1)
		return dst, Refused
	}
	if flags&FlagNoServe != 0 {
		s.droppedByRule.Add(1)
		return dst, DroppedByRule
	}
	if flags&FlagLimited != 0 {
		switch s.limit.Check(a16, s.mono()) {
		case limitExceeded:
			s.rateLimited.Add(1)
			return dst, RateLimited
		case limitKoD:
			s.rateLimited.Add(1)
			if flags&FlagKoD == 0 || !s.kodAllowed(rx) {
				return dst, RateLimited
			}
			s.kodSent.Add(1)
			return AppendKoD(dst, r, s.precision, rx), KoDSent
		}
	}
	s.answered.Add(1)
	return AppendReply(dst, r, s.reply(r, rx)), Answered
}

// reply fills in what a reply says about us at rx.
func (s *Server) reply(r Request, rx time.Time) Reply {
	st := s.sync.Load()
	rp := Reply{Poll: r.Poll, Precision: s.precision, Receive: rx, Leap: LeapUnsynch, Stratum: MaxStratum}
	if !st.Synchronized || st.Stratum < 1 || st.Stratum >= MaxStratum {
		return rp
	}
	at := st.DispersionAt
	if at.IsZero() {
		at = st.RefTime
	}
	disp := st.RootDispersion
	if el := rx.Sub(at); el > 0 {
		disp += time.Duration(float64(el) * phi)
	}
	if disp >= maxDispersion {
		return rp // too long without a correction: not worth serving
	}
	rp.Leap, rp.Stratum = st.Leap&3, st.Stratum
	if rp.Leap == LeapUnsynch {
		rp.Leap = LeapNone
	}
	rp.RefID, rp.RefTime = st.RefID, st.RefTime
	rp.RootDelay, rp.RootDispersion = st.RootDelay, disp
	return rp
}

// kodAllowed reports whether one more KoD fits in this second's budget.
func (s *Server) kodAllowed(now time.Time) bool {
	sec := now.Unix()
	s.kodMu.Lock()
	defer s.kodMu.Unlock()
	if sec != s.kodSecond {
		s.kodSecond, s.kodCount = sec, 0
	}
	if s.kodCount >= s.opt.KoDPerSecond {
		return false
	}
	s.kodCount++
	return true
}

// ---- sockets ----

// ErrClosed: the server was closed.
var ErrClosed = errors.New("serve: server closed")

// Listen makes the server listen on exactly addrs ("ADDRESS:PORT", IPv6
// in brackets): sockets for new addresses are opened, those for
// addresses no longer named are closed, the others are left alone. An
// IPv4 address serves IPv4 only, an IPv6 address (including [::]) IPv6
// only. Addresses that cannot be opened are reported together; the
// others are served anyway.
func (s *Server) Listen(addrs []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	var errs []error
	for a, sk := range s.sockets {
		if !slices.Contains(addrs, a) {
			sk.close()
			delete(s.sockets, a)
			s.log.Info("no longer serving time", "address", a)
		}
	}
	for _, a := range addrs {
		if _, ok := s.sockets[a]; ok {
			continue
		}
		sk, err := s.open(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.sockets[a] = sk
		s.log.Info("serving time", "address", sk.conn.LocalAddr().String(), "kernel_rx_timestamps", sk.kernelRx)
	}
	return errors.Join(errs...)
}

// Addrs returns the local addresses of the open sockets, by the listen
// address that named them.
func (s *Server) Addrs() map[string]netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]netip.AddrPort, len(s.sockets))
	for a, sk := range s.sockets {
		m[a] = sk.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	return m
}

// Close closes every socket and waits for the readers to end.
func (s *Server) Close() error {
	s.mu.Lock()
	socks := s.sockets
	s.sockets = map[string]*socket{}
	s.closed = true
	s.mu.Unlock()
	for _, sk := range socks {
		sk.close()
	}
	return nil
}

// socket is one listening UDP socket and its readers.
type socket struct {
	conn     *net.UDPConn
	kernelRx bool
	wg       sync.WaitGroup
}

func (sk *socket) close() {
	sk.conn.Close()
	sk.wg.Wait()
}

// bufLen is the receive buffer: one byte more than any request we
// answer, so that a longer datagram (truncated to fit) is seen as too
// long rather than read as a shorter one.
const bufLen = MaxRequestLen + 1

func (s *Server) open(addr string) (*socket, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("serve: listen %s: %w", addr, err)
	}
	network := "udp4"
	if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		network = "udp6"
	}
	conn, err := s.opt.ListenUDP(network, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, fmt.Errorf("serve: listen %s: %w", addr, err)
	}
	sk := &socket{conn: conn}
	if s.kernelRx {
		sk.kernelRx = enableRxTimestamps(conn)
	}
	for i := 0; i < s.opt.Readers; i++ {
		sk.wg.Add(1)
		go func() {
			defer sk.wg.Done()
			s.readLoop(sk)
		}()
	}
	return sk, nil
}
