package serve

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/timesync/timesync/service/config"
)

// fakeClock is an injected wall and monotonic clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) mono() time.Duration     { return time.Duration(c.t.UnixNano()) }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestServer(t testing.TB, clk *fakeClock, rules ...string) *Server {
	t.Helper()
	s := New(Options{Now: clk.now, Mono: clk.mono, Precision: -20, Readers: 1})
	if len(rules) > 0 {
		s.SetRules(parseRules(t, rules...))
	}
	return s
}

var (
	lan    = netip.MustParseAddr("192.168.1.5")
	synced = SyncState{
		Synchronized: true, Stratum: 3, RefID: [4]byte{192, 0, 2, 1},
		RefTime:   time.Date(2036, 2, 7, 6, 28, 0, 0, time.UTC),
		RootDelay: 20 * time.Millisecond, RootDispersion: 5 * time.Millisecond,
	}
)

func TestHandleAnswersWithOurSync(t *testing.T) {
	clk := &fakeClock{t: time.Date(2036, 2, 7, 6, 29, 40, 0, time.UTC)} // 100 s after RefTime, past the era boundary
	s := newTestServer(t, clk, "default")
	s.SetSync(synced)
	req := request(4, ModeClient, 0x1122334455667788)
	req[2] = 7 // poll
	rx := clk.now()
	reply, v := s.Handle(nil, req, lan, rx)
	if v != Answered || len(reply) != HeaderLen {
		t.Fatalf("verdict %v, %d bytes; want Answered, 48", v, len(reply))
	}
	if reply[0] != 0<<6|4<<3|ModeServer || reply[1] != 3 || reply[2] != 7 || int8(reply[3]) != -20 {
		t.Errorf("header % x: want leap 0, version 4, mode 4, stratum 3, poll 7, precision -20", reply[:4])
	}
	if got := binary.BigEndian.Uint32(reply[offRootDelay:]); got != ShortFormat(20*time.Millisecond) {
		t.Errorf("root delay %#x, want %#x", got, ShortFormat(20*time.Millisecond))
	}
	// 5 ms + 100 s × 15 ppm = 6.5 ms
	if got, want := binary.BigEndian.Uint32(reply[offRootDisp:]), ShortFormat(6500*time.Microsecond); got != want {
		t.Errorf("root dispersion %#x, want %#x (5 ms grown by 15 ppm over 100 s)", got, want)
	}
	if string(reply[offRefID:offRefID+4]) != string([]byte{192, 0, 2, 1}) {
		t.Errorf("refid % x", reply[offRefID:offRefID+4])
	}
	if got := TimeFromNTP(binary.BigEndian.Uint64(reply[offRefTime:]), rx); !got.Equal(synced.RefTime) {
		t.Errorf("reference time %v, want %v", got, synced.RefTime)
	}
	if got := binary.BigEndian.Uint64(reply[offOrigin:]); got != 0x1122334455667788 {
		t.Errorf("origin %#x, want the request's transmit", got)
	}
	if got := TimeFromNTP(binary.BigEndian.Uint64(reply[offReceive:]), rx); !got.Equal(rx) {
		t.Errorf("receive %v, want %v", got, rx)
	}
}

// Unsynchronized — never synchronized, told so, or without a correction
// for so long that the error bound passed 16 s — the answer says leap 3
// and stratum 16, with nothing that looks like a reference.
func TestHandleUnsynchronized(t *testing.T) {
	stale := synced
	stale.RefTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // 16 s / 15 ppm ≈ 12.3 days before "now"
	noStratum := synced
	noStratum.Stratum = 16
	for _, tc := range []struct {
		name string
		st   *SyncState
	}{{"never set", nil}, {"not synchronized", &SyncState{Stratum: 2, RefTime: synced.RefTime}}, {"stale", &stale}, {"stratum 16", &noStratum}} {
		clk := &fakeClock{t: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
		s := newTestServer(t, clk)
		if tc.st != nil {
			s.SetSync(*tc.st)
		}
		reply, v := s.Handle(nil, request(4, ModeClient, 1), lan, clk.now())
		if v != Answered {
			t.Fatalf("%s: verdict %v", tc.name, v)
		}
		if reply[0]>>6 != LeapUnsynch || reply[1] != MaxStratum || binary.BigEndian.Uint64(reply[offRefTime:]) != 0 || binary.BigEndian.Uint32(reply[offRefID:]) != 0 {
			t.Errorf("%s: leap %d stratum %d reftime %#x refid %#x; want 3, 16, 0, 0", tc.name, reply[0]>>6,
				reply[1], binary.BigEndian.Uint64(reply[offRefTime:]), binary.BigEndian.Uint32(reply[offRefID:]))
		}
	}
}

func TestHandleRefusesAndDrops(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	s := newTestServer(t, clk, "default", "192.168.1.0 mask 255.255.255.0 noserve", "192.168.1.9 ignore")
	s.SetSync(synced)
	ignored := netip.MustParseAddr("192.168.1.9")
	other := netip.MustParseAddr("10.0.0.1")
	for _, tc := range []struct {
		name string
		req  []byte
		from netip.Addr
		want Verdict
	}{
		{"client request", request(4, ModeClient, 1), other, Answered},
		{"NTPv3 client", request(3, ModeClient, 1), other, Answered},
		{"ntpq (mode 6)", request(2, ModeControl, 1), other, Refused},
		{"ntpdc (mode 7)", request(2, ModePrivate, 1), other, Refused},
		{"symmetric active", request(4, ModeSymmetricActive, 1), other, Refused},
		{"symmetric passive", request(4, ModeSymmetricPassive, 1), other, Refused},
		{"server reply", request(4, ModeServer, 1), other, Refused},
		{"broadcast", request(4, ModeBroadcast, 1), other, Refused},
		{"short", request(4, ModeClient, 1)[:47], other, Malformed},
		{"version 0", request(0, ModeClient, 1), other, Malformed},
		{"noserve subnet", request(4, ModeClient, 1), lan, DroppedByRule},
		{"noserve: mode 6 still refused", request(2, ModeControl, 1), lan, Refused},
		{"ignore: even garbage is dropped by rule", []byte{1, 2, 3}, ignored, DroppedByRule},
		{"ignore", request(4, ModeClient, 1), ignored, DroppedByRule},
	} {
		reply, v := s.Handle(nil, tc.req, tc.from, clk.now())
		if v != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, v, tc.want)
		}
		if (len(reply) > 0) != (tc.want == Answered) {
			t.Errorf("%s: %d-byte reply", tc.name, len(reply))
		}
	}
	want := Counters{Answered: 2, Refused: 7, Malformed: 2, DroppedByRule: 3}
	if got := s.Counters(); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
}

// "limited kod": a burst gets one served reply, then a RATE kiss, then
// silence; with "limited" alone there is no kiss.
func TestHandleLimitedKoD(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	s := newTestServer(t, clk, "default limited kod", "10.0.0.0 mask 255.0.0.0 limited")
	var got []Verdict
	for i := 0; i < 4; i++ {
		req := request(4, ModeClient, uint64(i+1))
		req[2] = 0 // poll 1 s
		reply, v := s.Handle(nil, req, lan, clk.now())
		got = append(got, v)
		if v == KoDSent {
			if len(reply) != HeaderLen || reply[1] != 0 || string(reply[offRefID:offRefID+4]) != "RATE" ||
				reply[0]>>6 != LeapUnsynch || int8(reply[2]) != KoDPoll || binary.BigEndian.Uint64(reply[offOrigin:]) != uint64(i+1) {
				t.Errorf("KoD % x: want stratum 0, RATE, leap 3, poll %d, origin = request's transmit", reply[:16], KoDPoll)
			}
		}
		clk.advance(100 * time.Millisecond)
	}
	if want := []Verdict{Answered, KoDSent, RateLimited, RateLimited}; !equalVerdicts(got, want) {
		t.Errorf("limited kod burst: %v, want %v", got, want)
	}
	got = nil
	for i := 0; i < 3; i++ {
		_, v := s.Handle(nil, request(4, ModeClient, 1), netip.MustParseAddr("10.1.1.1"), clk.now())
		got = append(got, v)
	}
	if want := []Verdict{Answered, RateLimited, RateLimited}; !equalVerdicts(got, want) {
		t.Errorf("limited without kod: %v, want %v", got, want)
	}
	if c := s.Counters(); c.Answered != 2 || c.RateLimited != 5 || c.KoDSent != 1 {
		t.Errorf("counters %+v, want 2 answered, 5 rate-limited, 1 KoD", c)
	}
}

// The KoDs to all clients together are bounded per second.
func TestKoDGlobalBudget(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	s := New(Options{Now: clk.now, Mono: clk.mono, Precision: -20, KoDPerSecond: 3})
	s.SetRules(parseRules(t, "default limited kod"))
	kods := 0
	for i := uint32(0); i < 10; i++ {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		s.Handle(nil, request(4, ModeClient, 1), a, clk.now())
		if _, v := s.Handle(nil, request(4, ModeClient, 1), a, clk.now()); v == KoDSent {
			kods++
		}
	}
	if kods != 3 {
		t.Errorf("%d KoDs within one second, want the budget of 3", kods)
	}
}

func equalVerdicts(a, b []Verdict) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (v Verdict) String() string {
	return [...]string{"answered", "dropped-by-rule", "rate-limited", "kod-sent", "malformed", "refused"}[v]
}

// exchange sends req from c to the server at to and returns the reply,
// or nil after wait.
func exchange(t *testing.T, c *net.UDPConn, to netip.AddrPort, req []byte, wait time.Duration) []byte {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(req, to); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 2048)
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

// On a real loopback socket: the reply carries a receive time from the
// kernel (Linux) or the reader, a later transmit time, and rules change
// under the running socket without closing it.
func TestServeOnLoopback(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	if err := s.Listen([]string{"127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	to := s.Addrs()["127.0.0.1:0"]
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.SetSync(SyncState{Synchronized: true, Stratum: 2, RefTime: time.Now(), RefID: [4]byte{127, 0, 0, 9}})

	before := time.Now()
	reply := exchange(t, c, to, request(4, ModeClient, 42), 2*time.Second)
	after := time.Now()
	if len(reply) != HeaderLen {
		t.Fatalf("no reply (%d bytes)", len(reply))
	}
	rx := TimeFromNTP(binary.BigEndian.Uint64(reply[offReceive:]), before)
	tx := TimeFromNTP(binary.BigEndian.Uint64(reply[offTransmit:]), before)
	if rx.Before(before.Add(-time.Millisecond)) || tx.After(after.Add(time.Millisecond)) || tx.Before(rx) {
		t.Errorf("sent %v, receive %v, transmit %v, got back %v: want sent ≤ receive ≤ transmit ≤ got back",
			before, rx, tx, after)
	}
	if reply[1] != 2 {
		t.Errorf("stratum %d, want 2", reply[1])
	}

	s.SetRules(parseRules(t, "default", "127.0.0.1 ignore"))
	if reply := exchange(t, c, to, request(4, ModeClient, 43), 200*time.Millisecond); reply != nil {
		t.Errorf("ignored client got a reply")
	}
	s.SetRules(parseRules(t, "default"))
	if reply := exchange(t, c, to, request(4, ModeClient, 44), 2*time.Second); len(reply) != HeaderLen {
		t.Errorf("after the rules changed back: no reply; the socket must survive rule changes")
	}
	if got := s.Addrs()["127.0.0.1:0"]; got != to {
		t.Errorf("socket changed from %v to %v", to, got)
	}
	if c := s.Counters(); c.Answered != 2 || c.DroppedByRule != 1 {
		t.Errorf("counters %+v, want 2 answered, 1 dropped by rule", c)
	}
}

func TestListenReconciles(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	if err := s.Listen([]string{"127.0.0.1:0", "[::1]:0"}); err != nil {
		t.Skipf("no IPv6 loopback? %v", err)
	}
	first := s.Addrs()
	if err := s.Listen([]string{"127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	second := s.Addrs()
	if len(second) != 1 || second["127.0.0.1:0"] != first["127.0.0.1:0"] {
		t.Errorf("after dropping [::1]: %v; want only the same IPv4 socket %v", second, first["127.0.0.1:0"])
	}
	if err := s.Listen([]string{"192.0.2.1:0"}); err == nil {
		t.Errorf("listening on an address this machine does not have: no error")
	}
}

func TestConfigRulesRoundTrip(t *testing.T) {
	// The rules the daemon hands over are config.Restrict values, as
	// parsed from the file: the default flags survive.
	s := New(Options{Precision: -20})
	s.SetRules([]config.Restrict{{Default: true, NoQuery: true}})
	if got := s.Rules().Default(); got != FlagNoQuery {
		t.Errorf("default flags %q, want noquery", got)
	}
}

// IPv6: a socket on [::1] answers; an IPv6 rule applies to its clients.
func TestServeIPv6(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	if err := s.Listen([]string{"[::1]:0"}); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	s.SetSync(SyncState{Synchronized: true, Stratum: 3, RefTime: time.Now()})
	to := s.Addrs()["[::1]:0"]
	c, err := net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("[::1]:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reply := exchange(t, c, to, request(4, ModeClient, 7), 2*time.Second)
	if len(reply) != HeaderLen || reply[1] != 3 {
		t.Fatalf("reply % x, want a 48-byte stratum-3 answer", reply)
	}
	s.SetRules(parseRules(t, "default", "::1 noserve"))
	if reply := exchange(t, c, to, request(4, ModeClient, 8), 200*time.Millisecond); reply != nil {
		t.Errorf("noserve client [::1] got a reply")
	}
}

// Sockets come from Options.ListenUDP (the privileged parent's seam).
func TestListenUDPSeam(t *testing.T) {
	var asked []string
	s := New(Options{ListenUDP: func(network string, laddr *net.UDPAddr) (*net.UDPConn, error) {
		asked = append(asked, network+" "+laddr.String())
		return net.ListenUDP(network, laddr)
	}})
	defer s.Close()
	if err := s.Listen([]string{"127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0] != "udp4 127.0.0.1:0" {
		t.Errorf("ListenUDP asked for %q, want [udp4 127.0.0.1:0]", asked)
	}
}

// The portable loop (every OS but Linux) answers too: run here on a
// socket of its own.
func TestReadSingle(t *testing.T) {
	s := New(Options{Readers: 1})
	defer s.Close()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	sk := &socket{conn: conn}
	sk.wg.Add(1)
	go func() {
		defer sk.wg.Done()
		s.readSingle(sk)
	}()
	defer sk.close()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	if reply := exchange(t, c, to, request(4, ModeClient, 9), 2*time.Second); len(reply) != HeaderLen {
		t.Fatalf("no reply from the portable loop")
	}
	if reply := exchange(t, c, to, request(4, ModeClient, 9)[:40], 200*time.Millisecond); reply != nil {
		t.Errorf("reply to a truncated request")
	}
	if c := s.Counters(); c.Answered != 1 || c.Malformed != 1 {
		t.Errorf("counters %+v, want 1 answered, 1 malformed", c)
	}
}
