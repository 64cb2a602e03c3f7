package once

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	mu        sync.Mutex
	queries   int
}

// fakeQuerier answers from a table, computing timestamps the way a real
// exchange would, with a 1 ms base delay per leg.
type fakeQuerier struct {
	servers map[string]*fakeServer
	rng     *rand.Rand
	mu      sync.Mutex
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
	t1 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Millisecond + j1 + s.offset)
	t3 := t2.Add(20 * time.Microsecond)
	t4 := t3.Add(time.Millisecond + j2 - s.offset)
	st := s.stratum
	if st == 0 {
		st = 2
	}
	r := &ntp.Response{Version: 4, Stratum: st, Precision: time.Microsecond, ReferenceTime: t2.Add(-time.Minute),
		Timestamps: ntp.ProtocolTimestamps{ClientXmit: t1, ServerRecv: t2, ServerXmit: t3, ClientRecv: t4}}
	if s.kiss != "" {
		r.Stratum, r.KissCode = 0, s.kiss
	}
	return r, nil
}

func newFake(servers map[string]*fakeServer) *fakeQuerier {
	return &fakeQuerier{servers: servers, rng: rand.New(rand.NewPCG(1, 2))}
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

func TestFalsetickerAmongFive(t *testing.T) {
	const off = 2500 * time.Millisecond
	fq := newFake(map[string]*fakeServer{
		"127.0.0.1:123": {offset: off, jitter: time.Millisecond},
		"127.0.0.2:123": {offset: off, jitter: time.Millisecond},
		"127.0.0.3:123": {offset: off + 3*time.Second, jitter: time.Millisecond},
		"127.0.0.4:123": {offset: off, jitter: time.Millisecond},
		"127.0.0.5:123": {offset: off, jitter: time.Millisecond},
	})
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
	// Burst of 4 (2 malformed), then replacements 2 s apart until 4 are
	// valid: requests 5 and 7 answer, 6 is malformed.
	if res.Sources[0].Samples != BurstSize || fq.servers["127.0.0.1:123"].queries != 7 {
		t.Errorf("samples %d of %d requests, want %d of 7", res.Sources[0].Samples, fq.servers["127.0.0.1:123"].queries, BurstSize)
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
