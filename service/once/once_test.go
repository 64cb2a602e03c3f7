package once

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/ntp"
	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/engine"
)

// fakeServer is how a fake Querier answers for one address.
type fakeServer struct {
	offset    time.Duration // server time − local time
	jitter    time.Duration // uniform extra delay per leg
	kiss      string
	err       error // every query fails with this
	badEvery  int   // every n-th reply fails as malformed
	dropAfter int   // replies after this many are lost
	stratum   uint8
	leap      uint8
	silent    bool // never answers: blocks until the request is given up
	mu        sync.Mutex
	queries   int
	gaveUp    error // how the last silent request ended (ctx.Err())
}

func (s *fakeServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// fakeQuerier answers from a table, computing timestamps the way a real
// exchange would, with a 1 ms base delay per leg.
type fakeQuerier struct {
	servers map[string]*fakeServer
	rng     *rand.Rand
	mu      sync.Mutex
	// base is the local clock's reading at the first request: the run
	// must not depend on it (tests run at several dates, years apart).
	base time.Time
}

func (q *fakeQuerier) Query(ctx context.Context, addr string) (*ntp.Response, error) {
	s, ok := q.servers[addr]
	if !ok {
		return nil, fmt.Errorf("%w: no such server", engine.ErrNoReply)
	}
	s.mu.Lock()
	s.queries++
	n := s.queries
	s.mu.Unlock()
	if s.silent {
		<-ctx.Done()
		s.mu.Lock()
		s.gaveUp = ctx.Err()
		s.mu.Unlock()
		return nil, ctx.Err()
	}
	if s.err != nil {
		return nil, s.err
	}
	if s.dropAfter > 0 && n > s.dropAfter {
		return nil, fmt.Errorf("%w: i/o timeout", engine.ErrNoReply)
	}
	if s.badEvery > 0 && n%s.badEvery == 0 {
		return nil, fmt.Errorf("%w: short packet", engine.ErrBadMode)
	}
	q.mu.Lock()
	j1 := time.Duration(q.rng.Float64() * float64(s.jitter))
	j2 := time.Duration(q.rng.Float64() * float64(s.jitter))
	q.mu.Unlock()
	t1 := q.base.Add(time.Duration(n) * 10 * time.Millisecond)
	t2 := t1.Add(time.Millisecond + j1 + s.offset)
	t3 := t2.Add(20 * time.Microsecond)
	t4 := t3.Add(time.Millisecond + j2 - s.offset)
	st := s.stratum
	if st == 0 {
		st = 2
	}
	r := &ntp.Response{Version: 4, Stratum: st, Leap: ntp.LeapIndicator(s.leap), Precision: time.Microsecond, ReferenceTime: t2.Add(-time.Minute),
		Timestamps: ntp.ProtocolTimestamps{ClientXmit: t1, ServerRecv: t2, ServerXmit: t3, ClientRecv: t4}}
	if s.kiss != "" {
		r.Stratum, r.KissCode = 0, s.kiss
	}
	return r, nil
}

// someDay is the default base of the fakes' clocks; TestAnyDate runs the
// scenarios at other dates, years apart, to prove nothing ages with the
// real clock.
var someDay = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func newFake(servers map[string]*fakeServer) *fakeQuerier {
	return &fakeQuerier{servers: servers, rng: rand.New(rand.NewPCG(1, 2)), base: someDay}
}

func serverList(fq *fakeQuerier) []Server {
	var out []Server
	for i := 1; ; i++ {
		a := fmt.Sprintf("127.0.0.%d:123", i)
		if _, ok := fq.servers[a]; !ok {
			return out
		}
		out = append(out, Server{Address: a})
	}
}

func TestFalsetickerAmongFive(t *testing.T) { falsetickerAmongFive(t, someDay) }

func falsetickerAmongFive(t *testing.T, base time.Time) {
	const off = 2500 * time.Millisecond
	fq := newFake(map[string]*fakeServer{
		"127.0.0.1:123": {offset: off, jitter: time.Millisecond},
		"127.0.0.2:123": {offset: off, jitter: time.Millisecond},
		"127.0.0.3:123": {offset: off + 3*time.Second, jitter: time.Millisecond},
		"127.0.0.4:123": {offset: off, jitter: time.Millisecond},
		"127.0.0.5:123": {offset: off, jitter: time.Millisecond},
	})
	fq.base = base
	res, err := Run(context.Background(), Options{Servers: serverList(fq), Querier: fq})
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Offset - off.Seconds(); d > 0.001 || d < -0.001 {
		t.Errorf("offset: got %.6f, want %.6f ± 0.001", res.Offset, off.Seconds())
	}
	for _, s := range res.Sources {
		want := engine.StateSelected
		if s.Address == "127.0.0.3:123" {
			want = engine.StateFalseticker
		}
		if s.State != want {
			t.Errorf("%s: state %s, want %s (%s)", s.Address, s.State, want, s.Reason)
		}
	}
	if res.Action != ActionStep || res.Applied {
		t.Errorf("action %s applied %v, want step, not applied (dry run)", res.Action, res.Applied)
	}
}

func TestKissOfDeathDeny(t *testing.T) {
	fq := newFake(map[string]*fakeServer{
		"127.0.0.1:123": {offset: 50 * time.Millisecond},
		"127.0.0.2:123": {kiss: "DENY"},
	})
	res, err := Run(context.Background(), Options{Servers: serverList(fq), Querier: fq})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Sources[1]; s.State != engine.StateKoD || !strings.Contains(s.Reason, "DENY") {
		t.Errorf("DENY source: state %s reason %q, want kod naming DENY", s.State, s.Reason)
	}
	if q := fq.servers["127.0.0.2:123"].queries; q != 1 {
		t.Errorf("DENY source got %d queries, want exactly 1", q)
	}
	if res.Action != ActionSlew {
		t.Errorf("action: got %s, want slew (50 ms is below the step threshold)", res.Action)
	}
}

// virtualWait stands in for time.After: the first `fires` waits end at
// once, later ones never (the run's deadline ends them), and every wait
// asked for is recorded, so politeness is checked without real sleeping.
type virtualWait struct {
	mu    sync.Mutex
	fires int
	waits []time.Duration
}

func (v *virtualWait) After(d time.Duration) <-chan time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.waits = append(v.waits, d)
	if v.fires == 0 {
		return nil
	}
	v.fires--
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

func TestAllUnreachable(t *testing.T) {
	timeout := fmt.Errorf("%w: i/o timeout", engine.ErrNoReply)
	fq := newFake(map[string]*fakeServer{
		"127.0.0.1:123": {err: timeout},
		"127.0.0.2:123": {err: timeout},
	})
	vw := &virtualWait{fires: 2}
	res, err := Run(context.Background(), Options{Servers: serverList(fq), Querier: fq, Timeout: 100 * time.Millisecond, After: vw.After})
	if !errors.Is(err, ErrNoTime) {
		t.Fatalf("got %v, want ErrNoTime", err)
	}
	if res.Action != ActionNone || !strings.Contains(res.Why, "2 unreachable") {
		t.Errorf("got action %s why %q", res.Action, res.Why)
	}
	// Politeness: a burst of 4, then retries only after 2 s waits.
	total := 0
	for _, s := range fq.servers {
		total += s.queries
		if s.queries < BurstSize || s.queries > BurstSize+2 {
			t.Errorf("%d queries, want the burst of %d plus at most the 2 retries allowed", s.queries, BurstSize)
		}
	}
	if total != 2*BurstSize+2 {
		t.Errorf("%d queries in all, want %d (two bursts, two retries)", total, 2*BurstSize+2)
	}
	for _, w := range vw.waits {
		if w < 2*time.Second {
			t.Errorf("retry after %v, want at least 2 s", w)
		}
	}
}

func TestMalformedRepliesIgnored(t *testing.T) {
	fq := newFake(map[string]*fakeServer{
		"127.0.0.1:123": {offset: -time.Second, badEvery: 2},
	})
	vw := &virtualWait{fires: 3}
	res, err := Run(context.Background(), Options{Servers: serverList(fq), Querier: fq, After: vw.After})
	if err != nil {
		t.Fatal(err)
	}
	// A server that answers, even badly, gets its first burst and no
	// more: 4 requests, 2 of them malformed, 2 samples.
	if res.Sources[0].Samples != 2 || fq.servers["127.0.0.1:123"].queries != BurstSize {
		t.Errorf("samples %d of %d requests, want 2 of %d", res.Sources[0].Samples, fq.servers["127.0.0.1:123"].queries, BurstSize)
	}
	if d := res.Offset + 1; d > 0.001 || d < -0.001 {
		t.Errorf("offset: got %.6f, want -1", res.Offset)
	}
}

// A server that stops answering after the first reply (rate limiting by
// dropping, as ntpd's "restrict limited" does) is not waited for.
func TestLossAfterFirstReplyEndsBurst(t *testing.T) {
	fq := newFake(map[string]*fakeServer{"127.0.0.1:123": {offset: time.Second, dropAfter: 1}})
	res, err := Run(context.Background(), Options{Servers: serverList(fq), Querier: fq, After: (&virtualWait{}).After})
	if err != nil {
		t.Fatal(err)
	}
	if q := fq.servers["127.0.0.1:123"].queries; q != 2 || res.Sources[0].Samples != 1 {
		t.Errorf("%d queries, %d samples; want 2 queries (one answered, one lost), 1 sample", q, res.Sources[0].Samples)
	}
}

func TestAllMalformedIsInvalid(t *testing.T) {
	fq := newFake(map[string]*fakeServer{"127.0.0.1:123": {badEvery: 1}})
	res, err := Run(context.Background(), Options{Servers: serverList(fq), Querier: fq, Timeout: 100 * time.Millisecond, After: (&virtualWait{}).After})
	if err == nil || res.Sources[0].State != engine.StateInvalid {
		t.Errorf("got err %v state %s, want an error and state invalid", err, res.Sources[0].State)
	}
}

// recDriver records what it was asked to do.
type recDriver struct {
	freq   float64
	steps  []time.Duration
	slews  []time.Duration
	denied bool
}

func (d *recDriver) Name() string                { return "rec" }
func (d *recDriver) Frequency() (float64, error) { return d.freq, nil }
func (d *recDriver) SetFrequency(p float64) error {
	if d.denied {
		return platform.ErrPermission
	}
	d.freq = p
	return nil
}
func (d *recDriver) MaxFrequency() float64 { return 500 }
func (d *recDriver) Step(o time.Duration) error {
	if d.denied {
		return platform.ErrPermission
	}
	d.steps = append(d.steps, o)
	return nil
}
func (d *recDriver) KernelSlew(o time.Duration) (time.Duration, error) {
	if d.denied {
		return 0, platform.ErrPermission
	}
	d.slews = append(d.slews, o)
	return time.Duration(float64(o.Abs()) / 500e-6), nil
}

func TestApplyStepOrSlew(t *testing.T) {
	for _, tc := range []struct {
		offset     time.Duration
		step, slew bool
	}{
		{3600 * time.Second, true, false},
		{-200 * time.Millisecond, true, false},
		{20 * time.Millisecond, false, true},
		{-100 * time.Millisecond, false, true},
	} {
		t.Run(tc.offset.String(), func(t *testing.T) {
			fq := newFake(map[string]*fakeServer{"127.0.0.1:123": {offset: tc.offset}})
			d := &recDriver{}
			clk, err := platform.NewClock(d, platform.ClockOptions{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), Options{Servers: serverList(fq), Querier: fq, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Applied {
				t.Error("not applied")
			}
			if got := len(d.steps) == 1; got != tc.step {
				t.Errorf("stepped %v, want %v", d.steps, tc.step)
			}
			if got := len(d.slews) == 1; got != tc.slew {
				t.Errorf("kernel slews %v, want %v", d.slews, tc.slew)
			}
			all := append(d.steps, d.slews...)
			if len(all) == 1 {
				if e := all[0] - tc.offset; e > time.Millisecond || e < -time.Millisecond {
					t.Errorf("applied %v, want %v", all[0], tc.offset)
				}
			}
		})
	}
}

func TestNoPrivilegeSaysSo(t *testing.T) {
	fq := newFake(map[string]*fakeServer{"127.0.0.1:123": {offset: time.Hour}})
	d := &recDriver{denied: true}
	clk, err := platform.NewClock(d, platform.ClockOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Options{Servers: serverList(fq), Querier: fq, Clock: clk})
	if !errors.Is(err, platform.ErrPermission) || res.Applied {
		t.Fatalf("got err %v applied %v, want ErrPermission, not applied", err, res.Applied)
	}
	if !strings.Contains(err.Error(), "--dry-run") {
		t.Errorf("error %q should say what to do", err)
	}
	if len(d.steps) != 0 {
		t.Errorf("clock changed: %v", d.steps)
	}
}

// Where the kernel cannot finish a slew on its own (Windows), --once slews
// through the shared layer, waits for it and ends it: the clock is never
// left running fast after exit.
func TestSlewWithoutKernelSlewEndsBeforeExit(t *testing.T) {
	fq := newFake(map[string]*fakeServer{"127.0.0.1:123": {offset: 50 * time.Millisecond}})
	d := &recDriver{}
	clk, err := platform.NewClock(struct{ platform.Driver }{d}, platform.ClockOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	vw := &virtualWait{fires: 1}
	res, err := Run(context.Background(), Options{Servers: serverList(fq), Querier: fq, Clock: clk, After: vw.After})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Applied || res.Action != ActionSlew || len(d.slews) != 0 {
		t.Fatalf("applied %v action %s kernel slews %v; want a shared-layer slew", res.Applied, res.Action, d.slews)
	}
	if len(vw.waits) != 1 || vw.waits[0].Seconds() != res.SlewSeconds || res.SlewSeconds < 0.1 {
		t.Errorf("waited %v for a slew of %.3f s, want one wait of that length (50 ms at ≤ 500 ppm)", vw.waits, res.SlewSeconds)
	}
	if d.freq != 0 {
		t.Errorf("driver left at %+.1f ppm after --once, want the base 0", d.freq)
	}
}

// mixedServers: three good servers among an unsynchronized one (stratum
// 16), one answering the INIT kiss (a freshly started ntpd), a refused
// port and a silent one.
func mixedServers(good bool) map[string]*fakeServer {
	m := map[string]*fakeServer{
		"127.0.0.1:123": {stratum: 16, leap: 3},
		"127.0.0.2:123": {kiss: "INIT"},
		"127.0.0.3:123": {err: engine.ErrRefused},
		"127.0.0.4:123": {silent: true},
	}
	if good {
		for i := 5; i <= 7; i++ {
			m[fmt.Sprintf("127.0.0.%d:123", i)] = &fakeServer{offset: 20 * time.Millisecond, jitter: 200 * time.Microsecond}
		}
	}
	return m
}

// heard reports whether servers 127.0.0.1 … 127.0.0.n have all been
// sent a request.
func heard(fq *fakeQuerier, n int) bool {
	for i := 1; i <= n; i++ {
		if fq.servers[fmt.Sprintf("127.0.0.%d:123", i)].count() == 0 {
			return false
		}
	}
	return true
}

// afterWhen stands in for time.After: a wait ends as soon as cond holds
// (checked every millisecond), whatever its length; its lengths must be
// the grace or its fifth.
func afterWhen(t *testing.T, cond func() bool) func(time.Duration) <-chan time.Time {
	return func(d time.Duration) <-chan time.Time {
		if d != DefaultGrace && d != DefaultGrace/5 {
			t.Errorf("wait of %v, want a grace (%v or %v)", d, DefaultGrace, DefaultGrace/5)
		}
		ch := make(chan time.Time, 1)
		go func() {
			for !cond() {
				time.Sleep(time.Millisecond)
			}
			ch <- time.Time{}
		}()
		return ch
	}
}

// runUntimed runs with a timeout that never ends the run in a test: if
// Run returns, it is because it decided to.
func runUntimed(t *testing.T, fq *fakeQuerier, after func(time.Duration) <-chan time.Time) (*Result, error) {
	t.Helper()
	return Run(context.Background(), Options{Servers: serverList(fq), Querier: fq, Timeout: time.Hour, After: after})
}

// A server that has answered, even unusably, gets no more than its first
// burst; a refused port is final; a silent server is not waited for once
// the answers in hand hold a majority it could not overturn.
func TestOnceWaitsForNothing(t *testing.T) { onceWaitsForNothing(t, someDay) }

func onceWaitsForNothing(t *testing.T, base time.Time) {
	fq := newFake(mixedServers(true))
	fq.base = base
	// The short grace ends once every server but the silent one has
	// been heard from.
	res, err := runUntimed(t, fq, afterWhen(t, func() bool { return heard(fq, 7) }))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.Offset-0.020) > 0.001 {
		t.Errorf("offset %.6f s, want 0.020 ± 0.001", res.Offset)
	}
	want := map[string]struct {
		state   engine.State
		reason  string
		maxReqs int
	}{
		"127.0.0.1:123": {engine.StateInvalid, "not synchronized", 1},
		"127.0.0.2:123": {engine.StateKoD, "server not synchronized yet (INIT)", 1},
		"127.0.0.3:123": {engine.StateUnreachable, "port unreachable", 1},
		"127.0.0.4:123": {engine.StateUnreachable, "no reply", 1},
		"127.0.0.5:123": {engine.StateSelected, "", BurstSize},
	}
	for _, s := range res.Sources {
		w, ok := want[s.Address]
		if !ok {
			w = want["127.0.0.5:123"]
		}
		if s.State != w.state || !strings.Contains(s.Reason, w.reason) {
			t.Errorf("%s: %s %q, want %s saying %q", s.Address, s.State, s.Reason, w.state, w.reason)
		}
		if q := fq.servers[s.Address].count(); q > w.maxReqs || q != s.Requests {
			t.Errorf("%s: %d requests (reported %d), want at most %d", s.Address, q, s.Requests, w.maxReqs)
		}
	}
	if g := fq.servers["127.0.0.4:123"].gaveUp; !errors.Is(g, context.Canceled) {
		t.Errorf("silent server's request ended with %v, want given up (context.Canceled), not waited out", g)
	}
}

// With only unusable servers and a silent one, the run ends one grace
// after the last answer and says why, without waiting for the timeout.
func TestOnceOnlyUnusableFailsAfterGrace(t *testing.T) { onlyUnusable(t, someDay) }

func onlyUnusable(t *testing.T, base time.Time) {
	fq := newFake(mixedServers(false))
	fq.base = base
	res, err := runUntimed(t, fq, afterWhen(t, func() bool { return heard(fq, 4) }))
	if !errors.Is(err, ErrNoTime) || res.Action != ActionNone {
		t.Fatalf("got %v, action %s; want ErrNoTime", err, res.Action)
	}
	if g := fq.servers["127.0.0.4:123"].gaveUp; !errors.Is(g, context.Canceled) {
		t.Errorf("silent server's request ended with %v, want given up after the grace", g)
	}
	for _, a := range []string{"127.0.0.1:123", "127.0.0.2:123", "127.0.0.3:123"} {
		if q := fq.servers[a].count(); q != 1 {
			t.Errorf("%s: %d requests, want 1", a, q)
		}
	}
	if !strings.Contains(res.Why, "none of the 4 servers") {
		t.Errorf("why %q, want a summary of the 4 servers", res.Why)
	}
}

// An unresolvable name is a source that is unreachable with the reason,
// not a failure of the run.
func TestUnresolvedServerIsUnreachable(t *testing.T) {
	fq := newFake(map[string]*fakeServer{"127.0.0.1:123": {offset: 10 * time.Millisecond}})
	servers := append(serverList(fq), Server{Address: "nosuch.invalid:123", Name: "nosuch.invalid", Err: errors.New(`cannot resolve "nosuch.invalid": no such host`)})
	res, err := Run(context.Background(), Options{Servers: servers, Querier: fq, After: (&virtualWait{}).After})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Sources[1]
	if s.State != engine.StateUnreachable || !strings.Contains(s.Reason, "cannot resolve") || s.Requests != 0 {
		t.Errorf("unresolved source: %s %q after %d requests, want unreachable, cannot resolve, 0 requests", s.State, s.Reason, s.Requests)
	}
}

// Nothing in a run reads the real clock: the scenarios give the same
// judgement at dates years apart, before and after the NTP era rollover.
func TestAnyDate(t *testing.T) {
	for _, base := range []time.Time{
		time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC),
		time.Date(2041, 6, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2099, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		t.Run(base.Format("2006-01-02"), func(t *testing.T) {
			falsetickerAmongFive(t, base)
			onceWaitsForNothing(t, base)
			onlyUnusable(t, base)
		})
	}
}
