package ntptest

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/beevik/ntp"
)

// start starts a server on a loopback address and closes it at test end.
func start(t *testing.T, addr string, cfg Config) *Server {
	t.Helper()
	s, err := Start(addr, cfg)
	if err != nil {
		t.Fatalf("Start(%q): %v", addr, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// query asks s with beevik/ntp, the client the project uses.
func query(t *testing.T, s *Server, timeout time.Duration) (*ntp.Response, error) {
	t.Helper()
	return ntp.QueryWithOptions(s.Addr(), ntp.QueryOptions{Timeout: timeout})
}

// bestOf returns the lowest-delay response of n queries, the sample a
// client's filter would pick; it fails the test if any query fails.
func bestOf(t *testing.T, s *Server, n int) *ntp.Response {
	t.Helper()
	var best *ntp.Response
	for i := 0; i < n; i++ {
		r, err := query(t, s, 2*time.Second)
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		if best == nil || r.RTT < best.RTT {
			best = r
		}
	}
	return best
}

func TestServedOffset(t *testing.T) {
	tests := []struct {
		name   string
		offset time.Duration
	}{
		{"positive quarter second", 250 * time.Millisecond},
		{"negative", -1500 * time.Millisecond},
		{"zero", 0},
		{"three hours ahead", 3 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, "127.0.0.1:0", Config{Offset: tt.offset, DelayOut: time.Millisecond, DelayBack: time.Millisecond})
			r := bestOf(t, s, 3)
			if err := r.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if d := r.ClockOffset - tt.offset; d.Abs() > time.Millisecond {
				t.Errorf("measured offset %v, want %v ± 1ms (off by %v)", r.ClockOffset, tt.offset, d)
			}
			if r.RTT < 2*time.Millisecond {
				t.Errorf("RTT %v, want at least the 2ms of added delay", r.RTT)
			}
		})
	}
}

func TestAsymmetricDelayShiftsOffset(t *testing.T) {
	// A path that is 20 ms slower outbound makes the server's receive
	// timestamp late: the client sees offset + (out − back)/2.
	tests := []struct {
		name      string
		out, back time.Duration
		wantShift time.Duration
	}{
		{"slow outbound", 20 * time.Millisecond, 0, 10 * time.Millisecond},
		{"slow return", 0, 20 * time.Millisecond, -10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const offset = 250 * time.Millisecond
			s := start(t, "127.0.0.1:0", Config{Offset: offset, DelayOut: tt.out, DelayBack: tt.back})
			r := bestOf(t, s, 3)
			want := offset + tt.wantShift
			if d := r.ClockOffset - want; d.Abs() > 2*time.Millisecond {
				t.Errorf("measured offset %v, want %v ± 2ms", r.ClockOffset, want)
			}
			if r.RTT < tt.out+tt.back {
				t.Errorf("RTT %v, want at least %v", r.RTT, tt.out+tt.back)
			}
		})
	}
}

func TestKissOfDeath(t *testing.T) {
	for _, code := range []string{"DENY", "RSTR", "RATE"} {
		t.Run(code, func(t *testing.T) {
			s := start(t, "127.0.0.1:0", Config{Kiss: code, Stratum: 2})
			r, err := query(t, s, 2*time.Second)
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			if r.Stratum != 0 {
				t.Errorf("stratum %d, want 0", r.Stratum)
			}
			if r.KissCode != code {
				t.Errorf("kiss code %q, want %q", r.KissCode, code)
			}
			if err := r.Validate(); !errors.Is(err, ntp.ErrKissOfDeath) {
				t.Errorf("Validate = %v, want %v", err, ntp.ErrKissOfDeath)
			}
		})
	}
}

func TestHeaderFieldsReachClient(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"stratum 1 defaults", Config{}},
		{"stratum 2 leap insert", Config{Stratum: 2, Leap: 1, RefID: 0x0a000001}},
		{"stratum 3 leap delete", Config{Stratum: 3, Leap: 2, Precision: -10}},
		{"stratum 15 alarm", Config{Stratum: 15, Leap: 3, RootDelay: 12 * time.Millisecond, RootDispersion: 34 * time.Millisecond}},
		{"stratum 16 unsynchronized", Config{Stratum: 16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, "127.0.0.1:0", tt.cfg)
			r, err := query(t, s, 2*time.Second)
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			wantStratum, wantRefID, wantPrec := tt.cfg.Stratum, tt.cfg.RefID, tt.cfg.Precision
			if wantStratum == 0 {
				wantStratum = 1
			}
			if wantRefID == 0 {
				wantRefID = RefIDFromString("LOCL")
			}
			if wantPrec == 0 {
				wantPrec = -20
			}
			if r.Stratum != wantStratum {
				t.Errorf("stratum %d, want %d", r.Stratum, wantStratum)
			}
			if got := uint8(r.Leap); got != tt.cfg.Leap {
				t.Errorf("leap %d, want %d", got, tt.cfg.Leap)
			}
			if r.ReferenceID != wantRefID {
				t.Errorf("refid %#x, want %#x", r.ReferenceID, wantRefID)
			}
			if want := time.Duration(float64(time.Second) * pow2(wantPrec)); (r.Precision - want).Abs() > time.Nanosecond {
				t.Errorf("precision %v, want %v", r.Precision, want)
			}
			for _, f := range []struct {
				name      string
				got, want time.Duration
			}{{"root delay", r.RootDelay, tt.cfg.RootDelay}, {"root dispersion", r.RootDispersion, tt.cfg.RootDispersion}} {
				if (f.got - f.want).Abs() > 16*time.Microsecond {
					t.Errorf("%s %v, want %v", f.name, f.got, f.want)
				}
			}
			if !r.ReferenceTime.Before(r.Time) {
				t.Errorf("reference time %v not before transmit time %v", r.ReferenceTime, r.Time)
			}
		})
	}
}

func pow2(e int8) float64 {
	v := 1.0
	for ; e < 0; e++ {
		v /= 2
	}
	for ; e > 0; e-- {
		v *= 2
	}
	return v
}

func TestMalformedRejected(t *testing.T) {
	want := map[MalformedKind]error{
		MalformedShort:        ntp.ErrInvalidTime,
		MalformedBadMode:      ntp.ErrInvalidMode,
		MalformedWrongOrigin:  ntp.ErrServerResponseMismatch,
		MalformedZeroTransmit: ntp.ErrInvalidTransmitTime,
		MalformedBackwards:    ntp.ErrServerTickedBackwards,
		MalformedGarbage:      nil, // any error but a timeout
	}
	for _, k := range MalformedKinds() {
		t.Run(k.String(), func(t *testing.T) {
			wantErr, ok := want[k]
			if !ok {
				t.Fatalf("no expectation for kind %v", k)
			}
			for seed := int64(0); seed < 4; seed++ { // several garbage draws
				s := start(t, "127.0.0.1:0", Config{Malformed: k, Seed: seed})
				r, err := query(t, s, 2*time.Second)
				if err == nil {
					t.Fatalf("seed %d: beevik accepted a %v reply: %+v", seed, k, r)
				}
				var nerr net.Error
				if errors.As(err, &nerr) && nerr.Timeout() {
					t.Fatalf("seed %d: got timeout %v, want a rejected reply", seed, err)
				}
				if wantErr != nil && !errors.Is(err, wantErr) {
					t.Errorf("seed %d: error %v, want %v", seed, err, wantErr)
				}
				if s.Replies() != 1 {
					t.Errorf("seed %d: %d replies sent, want 1", seed, s.Replies())
				}
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	for _, k := range append(MalformedKinds(), MalformedNone) {
		got, err := ParseMalformed(k.String())
		if err != nil || got != k {
			t.Errorf("ParseMalformed(%q) = %v, %v; want %v", k.String(), got, err, k)
		}
	}
	if _, err := ParseMalformed("bogus"); err == nil {
		t.Error("ParseMalformed(bogus) succeeded")
	}
}

func TestLossDropsEverything(t *testing.T) {
	s := start(t, "127.0.0.1:0", Config{Loss: 1})
	for i := 0; i < 2; i++ {
		_, err := query(t, s, 150*time.Millisecond)
		var nerr net.Error
		if !errors.As(err, &nerr) || !nerr.Timeout() {
			t.Fatalf("query %d: error %v, want a timeout", i, err)
		}
	}
	if got, want := s.Requests(), 2; got != want {
		t.Errorf("requests %d, want %d", got, want)
	}
	if got, want := s.Dropped(), 2; got != want {
		t.Errorf("dropped %d, want %d", got, want)
	}
}

// blast sends n client requests from one socket and counts the replies,
// stopping 300 ms after the last one.
func blast(t *testing.T, addr string, n int) int {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := (&Header{Version: 4, Mode: ModeClient, Transmit: 0x1234}).Marshal()
	for i := 0; i < n; i++ {
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 512)
	got := 0
	for {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Read(buf); err != nil {
			return got
		}
		got++
	}
}

func TestLossFractionIsSeeded(t *testing.T) {
	const n = 200
	var dropped []int
	for i, addr := range []string{"127.0.0.1:0", "127.0.0.2:0"} {
		s := start(t, addr, Config{Loss: 0.3, Seed: 7})
		got := blast(t, s.Addr(), n)
		if s.Requests() != n {
			t.Fatalf("server %d: %d requests arrived, want %d", i, s.Requests(), n)
		}
		if got != n-s.Dropped() {
			t.Errorf("server %d: %d replies received, want %d − %d dropped", i, got, n, s.Dropped())
		}
		if f := float64(s.Dropped()) / n; f < 0.2 || f > 0.4 {
			t.Errorf("server %d: dropped fraction %.2f, want 0.3 ± 0.1", i, f)
		}
		dropped = append(dropped, s.Dropped())
	}
	if dropped[0] != dropped[1] {
		t.Errorf("same seed dropped %d and %d, want equal", dropped[0], dropped[1])
	}
}

func TestEraRollover(t *testing.T) {
	tests := []struct {
		name  string
		start time.Time
	}{
		{"just after 2036 rollover", Era1.Add(2 * time.Second)},
		{"years into era 1", time.Date(2050, 7, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := StartingAt(tt.start)
			s := start(t, "127.0.0.1:0", Config{Now: base})
			r, err := query(t, s, 2*time.Second)
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			expect := base()
			xmit := r.Timestamps.ServerXmit
			if !xmit.After(Era1) {
				t.Fatalf("server transmit %v, want after the era 1 start %v", xmit, Era1)
			}
			if d := expect.Sub(xmit); d < 0 || d > time.Second {
				t.Errorf("server transmit %v, want shortly before %v", xmit, expect)
			}
			if r.Era != 1 {
				t.Errorf("era %d, want 1", r.Era)
			}
			if err := r.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestConcurrentQueriesDoNotSerialize(t *testing.T) {
	// 60 queries held 100 ms each way: serialized they would need 12 s and
	// the 3 s client timeouts would fire.
	const n = 60
	const offset = 250 * time.Millisecond
	s := start(t, "127.0.0.3:0", Config{Offset: offset, DelayOut: 100 * time.Millisecond, DelayBack: 100 * time.Millisecond})
	var wg sync.WaitGroup
	errs := make([]error, n)
	offsets := make([]time.Duration, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := ntp.QueryWithOptions(s.Addr(), ntp.QueryOptions{Timeout: 3 * time.Second})
			errs[i] = err
			if err == nil {
				offsets[i] = r.ClockOffset
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("query %d: %v", i, err)
			continue
		}
		// Loose: 60 goroutines on a shared 2-core machine (and -race)
		// schedule unevenly; this checks every answer is the served time.
		if d := offsets[i] - offset; d.Abs() > 25*time.Millisecond {
			t.Errorf("query %d: offset %v, want %v ± 25ms", i, offsets[i], offset)
		}
	}
	if got := s.Requests(); got != n {
		t.Errorf("requests %d, want %d", got, n)
	}
}

func TestWireReply(t *testing.T) {
	s := start(t, "127.0.0.1:0", Config{Stratum: 2, Offset: time.Hour})
	c, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 512)

	// A mode-4 packet is not a request: no answer, not counted.
	c.Write((&Header{Version: 4, Mode: ModeServer, Transmit: 1}).Marshal())
	// A version-3 request with poll 6 and a chosen transmit timestamp.
	req := Header{Version: 3, Mode: ModeClient, Poll: 6, Transmit: 0xdeadbeef_01020304}
	c.Write(req.Marshal())
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	if n != HeaderSize {
		t.Errorf("reply length %d, want %d", n, HeaderSize)
	}
	h, _ := ParseHeader(buf[:n])
	if h.Mode != ModeServer || h.Version != 3 || h.Poll != 6 {
		t.Errorf("mode/version/poll = %d/%d/%d, want 4/3/6", h.Mode, h.Version, h.Poll)
	}
	if h.Origin != req.Transmit {
		t.Errorf("origin %#x, want the request's transmit %#x", uint64(h.Origin), uint64(req.Transmit))
	}
	now := time.Now()
	recv, xmit, ref := h.Receive.Time(now), h.Transmit.Time(now), h.RefTime.Time(now)
	if !ref.Before(recv) || xmit.Before(recv) {
		t.Errorf("reference %v, receive %v, transmit %v: want reference < receive ≤ transmit", ref, recv, xmit)
	}
	if d := recv.Sub(now.Add(time.Hour)); d.Abs() > time.Second {
		t.Errorf("receive %v, want about now + 1h", recv)
	}
	// The mode-4 packet got no answer.
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.Read(buf); err == nil {
		t.Error("got a second reply, want none for the mode-4 packet")
	}
	if got := s.Requests(); got != 1 {
		t.Errorf("requests %d, want 1", got)
	}
}

func TestSetConfig(t *testing.T) {
	s := start(t, "127.0.0.1:0", Config{Offset: time.Second})
	r1 := bestOf(t, s, 1)
	s.SetConfig(Config{Offset: -time.Second, Stratum: 4})
	r2 := bestOf(t, s, 1)
	if d := r1.ClockOffset - time.Second; d.Abs() > 5*time.Millisecond {
		t.Errorf("first offset %v, want 1s", r1.ClockOffset)
	}
	if d := r2.ClockOffset + time.Second; d.Abs() > 5*time.Millisecond {
		t.Errorf("offset after SetConfig %v, want -1s", r2.ClockOffset)
	}
	if r2.Stratum != 4 {
		t.Errorf("stratum after SetConfig %d, want 4", r2.Stratum)
	}
}

func TestJitterDistributions(t *testing.T) {
	const j = 4 * time.Millisecond
	const n = 20000
	tests := []struct {
		dist     JitterDist
		wantMean time.Duration
		max      time.Duration
	}{
		{JitterUniform, j / 2, j},
		{JitterExponential, j, 10 * j},
	}
	for _, tt := range tests {
		s := &Server{rng: rand.New(rand.NewPCG(1, 2))}
		var sum time.Duration
		for i := 0; i < n; i++ {
			d := s.jitter(j, tt.dist)
			if d < 0 || d > tt.max {
				t.Fatalf("dist %d: draw %v outside [0, %v]", tt.dist, d, tt.max)
			}
			sum += d
		}
		if mean := sum / n; (mean - tt.wantMean).Abs() > tt.wantMean/20 {
			t.Errorf("dist %d: mean %v, want %v ± 5%%", tt.dist, mean, tt.wantMean)
		}
	}
	if got := (&Server{}).jitter(0, JitterUniform); got != 0 {
		t.Errorf("zero jitter drew %v, want 0", got)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:123", "[::]:0", "10.0.2.2:12300"} {
		if s, err := Start(addr, Config{}); !errors.Is(err, ErrNotLoopback) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Start(%q) error = %v, want %v", addr, err, ErrNotLoopback)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "127.1.2.3:0", "[::1]:0"} {
		if _, err := CheckLoopback(addr); err != nil {
			t.Errorf("CheckLoopback(%q) = %v, want nil", addr, err)
		}
	}
}

func TestConsecutive(t *testing.T) {
	got, err := Consecutive("127.0.0.11", 12300, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.11:12300", "127.0.0.12:12300", "127.0.0.13:12300", "127.0.0.14:12300"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("address %d = %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := Consecutive("127.255.255.255", 1, 2); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("running past 127/8: error %v, want %v", err, ErrNotLoopback)
	}
	if _, err := Consecutive("10.0.0.1", 1, 1); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("10.0.0.1: error %v, want %v", err, ErrNotLoopback)
	}
}

func TestAtRate(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		ppm     float64
		elapsed time.Duration
		want    time.Duration // served minus start
	}{
		{50, 0, 0},
		{50, 1000 * time.Second, 1000*time.Second + 50*time.Millisecond},
		{-20, 100 * time.Second, 100*time.Second - 2*time.Millisecond},
		{0, time.Hour, time.Hour},
	}
	for _, tt := range tests {
		now := atRate(start, tt.ppm, func() time.Duration { return tt.elapsed })
		if got := now().Sub(start); got != tt.want {
			t.Errorf("%+g ppm after %v: served start%+v, want start%+v", tt.ppm, tt.elapsed, got, tt.want)
		}
	}
}
