package loop_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/ntp"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/discipline"
	"github.com/timesync/timesync/service/engine"
	"github.com/timesync/timesync/service/loop"
	"github.com/timesync/timesync/sim"
)

// reportingClock is the simulator's clock with the kernel sync status of
// the Linux driver, recorded.
type reportingClock struct {
	*sim.Clock
	synced  []bool
	reports int // every SetSyncStatus
	freqs   int // every SetFrequency
}

func (c *reportingClock) SetFrequency(ppm float64) error {
	c.freqs++
	return c.Clock.SetFrequency(ppm)
}

func (c *reportingClock) SetSyncStatus(synced bool, maxErr, estErr time.Duration) error {
	c.reports++
	if n := len(c.synced); n == 0 || c.synced[n-1] != synced {
		c.synced = append(c.synced, synced)
	}
	return nil
}

// recordingDrift records every save.
type recordingDrift struct {
	saves []discipline.Drift
}

func (r *recordingDrift) Save(d discipline.Drift) error { r.saves = append(r.saves, d); return nil }

// countingExchanger counts exchanges per address and passes them on.
type countingExchanger struct {
	next  loop.Exchanger
	sched *sim.Scheduler
	at    map[string][]time.Duration
}

func (c *countingExchanger) Exchange(addr string, done func(*ntp.Response, error)) {
	c.at[addr] = append(c.at[addr], c.sched.Mono()) // the loop schedules on the monotonic clock
	c.next.Exchange(addr, done)
}

type rig struct {
	sched *sim.Scheduler
	clock *reportingClock
	pc    *platform.Clock
	net   *sim.Network
	ex    *countingExchanger
	drift *recordingDrift
	loop  *loop.Loop
}

func newRig(t testing.TB, netCfg sim.NetworkConfig, servers []sim.ServerConfig, opt loop.Options) *rig {
	t.Helper()
	s := sim.NewScheduler()
	sc, err := sim.NewClock(s, sim.ClockConfig{StartOffset: 20 * time.Millisecond, FreqPPM: 30}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	rc := &reportingClock{Clock: sc}
	log := slog.New(slog.DiscardHandler)
	pc, err := platform.NewClock(rc, platform.ClockOptions{Timers: s, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	n, err := sim.NewNetwork(s, sc, netCfg, rand.New(rand.NewPCG(1, 2)), servers)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{sched: s, clock: rc, pc: pc, net: n, drift: &recordingDrift{}}
	r.ex = &countingExchanger{next: n, sched: s, at: map[string][]time.Duration{}}
	opt.Timers, opt.Exchanger, opt.Clock, opt.Logger, opt.Drift = s, r.ex, pc, log, r.drift
	if rigTimers != nil {
		opt.Timers = rigTimers(s)
	}
	if opt.Discipline.Step == 0 {
		opt.Discipline = discipline.DefaultConfig()
	}
	if opt.Servers == nil {
		for _, sv := range servers {
			opt.Servers = append(opt.Servers, loop.Server{Address: sv.Address, MinPoll: 6, MaxPoll: 6})
		}
	}
	if r.loop, err = loop.New(opt); err != nil {
		t.Fatal(err)
	}
	return r
}

// rigTimers, if set, wraps the scheduler as the loop's Timers in newRig.
var rigTimers func(*sim.Scheduler) platform.Timers

// lateStops are Timers whose stop never prevents the callback, as when
// the timer was already taken out to run (its callback waiting for the
// loop's lock): a stale callback still comes, at the time first set.
type lateStops struct{ *sim.Scheduler }

func (l lateStops) AfterFunc(d time.Duration, f func()) func() bool {
	l.Scheduler.AfterFunc(d, f)
	return func() bool { return false }
}

// A poll re-armed while its old timer's callback is already on its way
// (SyncNow here) is polled once, at the new time: the stale callback
// neither polls nor takes the new timer's place.
func TestStaleTimerCallbackIgnored(t *testing.T) {
	count := func(timers func(*sim.Scheduler) platform.Timers) []time.Duration {
		rigTimers = timers
		defer func() { rigTimers = nil }()
		r := newRig(t, goodNet, []sim.ServerConfig{{Address: "a:123"}}, loop.Options{})
		r.loop.Start()
		for _, at := range []time.Duration{100 * time.Second, 230 * time.Second, 400 * time.Second} {
			r.sched.Run(at)
			r.loop.SyncNow()
		}
		r.sched.Run(20 * time.Minute)
		return r.ex.at["a:123"]
	}
	want := count(nil)
	got := count(func(s *sim.Scheduler) platform.Timers { return lateStops{s} })
	if len(got) != len(want) {
		t.Fatalf("with stale callbacks: %d polls, want %d as with timers that stop (%v against %v)", len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("poll %d at %v, want %v", i, got[i], want[i])
		}
	}
}

var goodNet = sim.NetworkConfig{Delay: time.Millisecond, JitterMean: 200 * time.Microsecond}

func TestNewRejectsBadOptions(t *testing.T) {
	s := sim.NewScheduler()
	sc, _ := sim.NewClock(s, sim.ClockConfig{}, rand.New(rand.NewPCG(1, 1)))
	pc, _ := platform.NewClock(sc, platform.ClockOptions{Timers: s})
	ex := loop.Blocking{}
	tests := []struct {
		name string
		opt  loop.Options
	}{
		{"no exchanger", loop.Options{Clock: pc, Servers: []loop.Server{{Address: "a:123"}}}},
		{"no clock", loop.Options{Exchanger: ex, Servers: []loop.Server{{Address: "a:123"}}}},
		{"no servers", loop.Options{Exchanger: ex, Clock: pc}},
		{"duplicate", loop.Options{Exchanger: ex, Clock: pc, Servers: []loop.Server{{Address: "a:123"}, {Address: "a:123"}}}},
		{"empty address", loop.Options{Exchanger: ex, Clock: pc, Servers: []loop.Server{{}}}},
	}
	for _, tt := range tests {
		if _, err := loop.New(tt.opt); err == nil {
			t.Errorf("%s: got nil error", tt.name)
		}
	}
}

func TestStatusAndKernelReport(t *testing.T) {
	r := newRig(t, goodNet, []sim.ServerConfig{{Address: "a:123", Stratum: 2}}, loop.Options{})
	st := r.loop.Status()
	if st.State != loop.StateUnsynchronized || st.Stratum != engine.MaxStratum || len(st.Sources) != 1 {
		t.Errorf("before start: got %+v, want unsynchronized, stratum 16, one source", st)
	}
	r.loop.Start()
	r.sched.Run(20*64*time.Second + time.Second) // the 21st answer is in
	st = r.loop.Status()
	if st.State != loop.StateSynchronized {
		t.Fatalf("after 20 polls: state %s (%s), want synchronized", st.State, st.Reason)
	}
	if st.Reference != "a:123" || st.Stratum != 3 {
		t.Errorf("reference %q stratum %d, want a:123 and 3", st.Reference, st.Stratum)
	}
	if st.LastSync.IsZero() || r.sched.Now().Sub(st.LastSync) > 64*time.Second {
		t.Errorf("last sync %v, want within the last poll of %v", st.LastSync, r.sched.Now())
	}
	if st.FrequencyPPM > -29 || st.FrequencyPPM < -31 {
		t.Errorf("frequency %v ppm, want about -30", st.FrequencyPPM)
	}
	src := st.Sources[0]
	if src.State != engine.StateSelected || src.Reach != 0377 || src.Poll != 64*time.Second || src.Stratum != 2 || src.Samples != 21 {
		t.Errorf("source status %+v, want selected, reach 0377, poll 64 s, stratum 2, 21 samples", src)
	}
	if src.Delay < 2*time.Millisecond || src.Delay > 3*time.Millisecond {
		t.Errorf("source delay %v, want between 2 and 3 ms", src.Delay)
	}
	if len(r.clock.synced) == 0 || !r.clock.synced[len(r.clock.synced)-1] {
		t.Errorf("kernel sync status reports %v, want ending synchronized", r.clock.synced)
	}
}

func TestDriftSavedHourlyAndAtStop(t *testing.T) {
	r := newRig(t, goodNet, []sim.ServerConfig{{Address: "a:123"}}, loop.Options{DriftInterval: time.Hour})
	r.loop.Start()
	r.sched.Run(3*time.Hour + 30*time.Minute)
	// Saved at the first update, then at the first update an hour or more
	// later: 0 h, 1 h, 2 h, 3 h.
	if n := len(r.drift.saves); n != 4 {
		t.Errorf("saves in 3.5 h: got %d, want 4", n)
	}
	r.loop.Stop()
	if n := len(r.drift.saves); n != 5 {
		t.Fatalf("saves after Stop: got %d, want 5", n)
	}
	last := r.drift.saves[len(r.drift.saves)-1]
	if last.FrequencyPPM > -29.9 || last.FrequencyPPM < -30.1 || last.SkewPPM <= 0 || last.SkewPPM > 0.1 {
		t.Errorf("saved %+v, want about -30 ppm with a small skew", last)
	}
	// Stopped: no more requests.
	n := len(r.ex.at["a:123"])
	r.sched.Run(5 * time.Hour)
	if len(r.ex.at["a:123"]) != n {
		t.Errorf("requests after Stop: %d more", len(r.ex.at["a:123"])-n)
	}
}

func TestFirstCorrectionWaitsForAllSources(t *testing.T) {
	// b's answers are all lost: its first exchange ends by timeout after
	// 2 s, and only then is the clock corrected, from a alone.
	r := newRig(t, goodNet, []sim.ServerConfig{{Address: "a:123"}, {Address: "b:123"}}, loop.Options{})
	r.ex.next = dropper{r.ex.next, "b:123", r.sched}
	r.loop.Start()
	r.sched.Run(1900 * time.Millisecond)
	if st := r.loop.Status(); st.Updates != 0 || st.State != loop.StateSyncing {
		t.Errorf("at 1.9 s: %d updates, state %s; want 0 and syncing", st.Updates, st.State)
	}
	r.sched.Run(2100 * time.Millisecond)
	if st := r.loop.Status(); st.Updates != 1 {
		t.Errorf("at 2.1 s: %d updates, want 1", st.Updates)
	}
}

// dropper never answers requests to one address (a 2 s timeout).
type dropper struct {
	next  loop.Exchanger
	addr  string
	sched *sim.Scheduler
}

func (d dropper) Exchange(addr string, done func(*ntp.Response, error)) {
	if addr != d.addr {
		d.next.Exchange(addr, done)
		return
	}
	d.sched.AfterFunc(2*time.Second, func() { done(nil, engine.ErrNoReply) })
}

func TestIBurstAndSyncNow(t *testing.T) {
	r := newRig(t, goodNet, []sim.ServerConfig{{Address: "a:123"}},
		loop.Options{Servers: []loop.Server{{Address: "a:123", MinPoll: 6, MaxPoll: 6, IBurst: true}}})
	r.loop.Start()
	r.sched.Run(100 * time.Second)
	want := []time.Duration{0, 2 * time.Second, 4 * time.Second, 6 * time.Second, 70 * time.Second}
	got := r.ex.at["a:123"]
	// By the monotonic clock, to the nanosecond of the scheduler's
	// rounding.
	near := func(a, b time.Duration) bool { return (a - b).Abs() <= time.Microsecond }
	if len(got) != len(want) {
		t.Fatalf("requests at %v, want %v", got, want)
	}
	for i := range want {
		if !near(got[i], want[i]) {
			t.Fatalf("requests at %v, want %v", got, want)
		}
	}
	r.loop.SyncNow()
	at := r.sched.Mono()
	r.sched.Run(110 * time.Second)
	if got := r.ex.at["a:123"][len(want):]; len(got) != 4 || !near(got[0], at) || !near(got[3], at+6*time.Second) {
		t.Errorf("SyncNow burst at %v, want 4 requests from %v, 2 s apart", got, at)
	}
}

func TestConfirmStepWithoutPending(t *testing.T) {
	r := newRig(t, goodNet, []sim.ServerConfig{{Address: "a:123"}}, loop.Options{})
	r.loop.Start()
	r.sched.Run(time.Minute)
	if err := r.loop.ConfirmStep(); !errors.Is(err, discipline.ErrNothingPending) {
		t.Errorf("ConfirmStep with nothing pending: got %v, want ErrNothingPending", err)
	}
}

// fakeQuerier answers from another goroutine's point of view.
type fakeQuerier struct {
	mu    sync.Mutex
	addrs []string
}

func (f *fakeQuerier) Query(ctx context.Context, addr string) (*ntp.Response, error) {
	f.mu.Lock()
	f.addrs = append(f.addrs, addr)
	f.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("no deadline set")
	}
	return &ntp.Response{Stratum: 1}, nil
}

func TestBlockingExchanger(t *testing.T) {
	q := &fakeQuerier{}
	got := make(chan *ntp.Response, 1)
	loop.Blocking{Querier: q, Timeout: time.Second}.Exchange("x:123", func(r *ntp.Response, err error) {
		if err != nil {
			t.Error(err)
		}
		got <- r
	})
	if r := <-got; r == nil || r.Stratum != 1 {
		t.Errorf("got %+v, want the querier's response", r)
	}
	if len(q.addrs) != 1 || q.addrs[0] != "x:123" {
		t.Errorf("queried %v, want [x:123]", q.addrs)
	}
}

// silencer drops every request to the addresses in off from true time
// from on (servers gone for good).
type silencer struct {
	next  loop.Exchanger
	sched *sim.Scheduler
	off   map[string]bool
	from  time.Duration
}

func (s silencer) Exchange(addr string, done func(*ntp.Response, error)) {
	if s.off[addr] && s.sched.Elapsed() >= s.from {
		s.sched.AfterFunc(2*time.Second, func() { done(nil, engine.ErrNoReply) })
		return
	}
	s.next.Exchange(addr, done)
}

// A minority of the servers never carries the clock: when two of three go
// silent the clock is held, and the status says so; once they have been
// silent for a day they no longer count, and the one left carries it.
func TestMinorityHoldsUntilTheOthersAreGone(t *testing.T) {
	servers := []sim.ServerConfig{{Address: "a:123"}, {Address: "b:123"}, {Address: "c:123"}}
	r := newRig(t, goodNet, servers, loop.Options{})
	// Rebuild the loop on an exchanger that silences b and c after 1000 s.
	opt := loop.Options{Timers: r.sched, Clock: r.pc, Discipline: discipline.DefaultConfig(), Logger: slog.New(slog.DiscardHandler),
		Exchanger: silencer{next: r.net, sched: r.sched, off: map[string]bool{"b:123": true, "c:123": true}, from: 1000 * time.Second}}
	opt.Discipline.Logger = opt.Logger
	for _, sv := range servers {
		opt.Servers = append(opt.Servers, loop.Server{Address: sv.Address, MinPoll: 6, MaxPoll: 6})
	}
	lp, err := loop.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	lp.Start()
	r.sched.Run(1000 * time.Second)
	if st := lp.Status(); st.State != loop.StateSynchronized {
		t.Fatalf("with three servers answering: state %s (%s), want synchronized", st.State, st.Reason)
	}
	r.sched.Run(1000*time.Second + 2*time.Hour)
	st := lp.Status()
	if st.State != loop.StateUnsynchronized || !strings.Contains(st.Reason, "majority") {
		t.Errorf("with one of three answering: state %s (%q), want unsynchronized, waiting for a majority", st.State, st.Reason)
	}
	updates := st.Updates
	r.sched.Run(1000*time.Second + 2*time.Hour + 10*time.Minute)
	if got := lp.Status().Updates; got != updates {
		t.Errorf("the lone server corrected the clock %d times while held", got-updates)
	}
	r.sched.Run(1000*time.Second + 25*time.Hour)
	if st := lp.Status(); st.State != loop.StateSynchronized || st.Reference != "a:123" {
		t.Errorf("a day after the others went silent: state %s (%s), reference %q; want synchronized to a:123", st.State, st.Reason, st.Reference)
	}
}

// Servers polled at one interval are polled together, and the clock is
// corrected once per round with all their answers, not once per answer:
// each correction is requests to the privileged parent and a slew to end.
// The kernel hears the sync status once per update, not at every poll.
func TestOneUpdatePerRound(t *testing.T) {
	servers := []sim.ServerConfig{{Address: "a:123"}, {Address: "b:123"}, {Address: "c:123"}}
	r := newRig(t, goodNet, servers, loop.Options{})
	r.loop.Start()
	r.sched.Run(20*time.Minute + time.Second)
	rounds := len(r.ex.at["a:123"])
	for _, a := range []string{"b:123", "c:123"} {
		if got := r.ex.at[a]; len(got) != rounds {
			t.Fatalf("%s polled %d times, a:123 %d", a, len(got), rounds)
		}
		for i, at := range r.ex.at[a] {
			if at != r.ex.at["a:123"][i] {
				t.Fatalf("poll %d of %s at %v, of a:123 at %v: want together", i, a, at, r.ex.at["a:123"][i])
			}
		}
	}
	st := r.loop.Status()
	if rounds < 18 || st.Updates != rounds {
		t.Errorf("%d rounds of three answers, %d updates; want one update per round", rounds, st.Updates)
	}
	// Per update: the frequency, the slew's start and its end.
	if r.clock.freqs > 3*st.Updates+1 {
		t.Errorf("%d frequency changes for %d updates; want at most three per update", r.clock.freqs, st.Updates)
	}
	if r.clock.reports > st.Updates+1 {
		t.Errorf("%d sync status reports for %d updates and %d polls; want one per update", r.clock.reports, st.Updates, 3*rounds)
	}
	if st.State != loop.StateSynchronized {
		t.Errorf("state %s (%s), want synchronized", st.State, st.Reason)
	}
}

// lateFires are Timers that fire late, each by its own fraction of a
// millisecond, as on a real machine.
type lateFires struct {
	*sim.Scheduler
	n *int
}

func (l lateFires) AfterFunc(d time.Duration, f func()) func() bool {
	*l.n++
	return l.Scheduler.AfterFunc(d+time.Duration(*l.n%7)*170*time.Microsecond, f)
}

// Timers that fire late do not pull the polls of one round apart: the
// servers stay polled together, once a round, not each at its own
// wake-up a fraction of a millisecond after the other's.
func TestRoundStaysTogetherWithLateTimers(t *testing.T) {
	n := 0
	rigTimers = func(s *sim.Scheduler) platform.Timers { return lateFires{s, &n} }
	defer func() { rigTimers = nil }()
	servers := []sim.ServerConfig{{Address: "a:123"}, {Address: "b:123"}, {Address: "c:123"}}
	r := newRig(t, goodNet, servers, loop.Options{})
	r.loop.Start()
	r.sched.Run(20*time.Minute + time.Second)
	a := r.ex.at["a:123"]
	if len(a) < 18 {
		t.Fatalf("a:123 polled %d times in 20 minutes", len(a))
	}
	for _, name := range []string{"b:123", "c:123"} {
		got := r.ex.at[name]
		if len(got) != len(a) {
			t.Fatalf("%s polled %d times, a:123 %d", name, len(got), len(a))
		}
		for i := range got {
			if got[i] != a[i] {
				t.Fatalf("poll %d of %s at %v, of a:123 at %v: want together", i, name, got[i], a[i])
			}
		}
	}
	if st := r.loop.Status(); st.Updates != len(a) {
		t.Errorf("%d rounds, %d updates; want one update per round", len(a), st.Updates)
	}
}

// A poll held back by a RATE kiss is not sent early with another
// server's round: pulled 50 ms ahead, it would come under the server's
// floor and earn another kiss (and a doubled back-off).
func TestRoundDoesNotPullUnderRateFloor(t *testing.T) {
	floor := 192*time.Second + 50*time.Millisecond
	servers := []sim.ServerConfig{{Address: "a:123"}, {Address: "b:123", Kiss: "RATE", MinInterval: floor}}
	r := newRig(t, goodNet, servers, loop.Options{})
	r.loop.Start()
	r.sched.Run(30 * time.Minute)
	b := r.ex.at["b:123"]
	if len(b) < 4 {
		t.Fatalf("b polled at %v: want a poll every %v after its kiss", b, floor)
	}
	// b's first poll is answered, its second (64 s later) kissed; from
	// then on every poll must respect the floor.
	for i := 2; i < len(b); i++ {
		if gap := b[i] - b[i-1]; gap < floor {
			t.Fatalf("b polled at %v: poll %d only %v after the one before, under its RATE floor %v", b, i, gap, floor)
		}
	}
}

// A round's update does not wait for ever: a server that does not answer
// holds it up for its exchange's 2 s timeout only, and the answers of the
// others then correct the clock.
func TestRoundWaitsForTimeoutOnly(t *testing.T) {
	servers := []sim.ServerConfig{{Address: "a:123"}, {Address: "b:123"}, {Address: "c:123"}}
	r := newRig(t, goodNet, servers, loop.Options{})
	r.ex.next = dropper{r.ex.next, "c:123", r.sched}
	r.loop.Start()
	r.sched.Run(10 * time.Minute)
	before := r.loop.Status().Updates
	at := r.sched.Mono()
	// The next round: a and b answer within milliseconds, c never.
	var next time.Duration
	for next = at; next < at+2*time.Minute; next += 10 * time.Millisecond {
		r.sched.Run(next)
		if len(r.ex.at["a:123"]) > 0 && r.ex.at["a:123"][len(r.ex.at["a:123"])-1] > at {
			break
		}
	}
	sent := r.ex.at["a:123"][len(r.ex.at["a:123"])-1]
	r.sched.Run(r.sched.Elapsed() + 1900*time.Millisecond)
	if got := r.loop.Status().Updates; got != before {
		t.Errorf("1.9 s into a round whose third server is silent: %d updates, want %d (waiting)", got, before)
	}
	r.sched.Run(r.sched.Elapsed() + 200*time.Millisecond)
	if got := r.loop.Status().Updates; got != before+1 {
		t.Errorf("after the silent server's timeout (round sent at %v): %d updates, want %d", sent, got, before+1)
	}
}

// With UpdateInterval, a synchronized clock polled every 16 s is corrected
// about once a minute while its offset stays within the noise, and at
// once when it does not: the servers all move 2 ms at 1000 s, and the
// round that sees it corrects the clock.
func TestUpdateIntervalHoldsOnlyNoise(t *testing.T) {
	var servers []sim.ServerConfig
	for _, a := range []string{"a:123", "b:123", "c:123"} {
		servers = append(servers, sim.ServerConfig{Address: a, StepAt: 1000 * time.Second, StepBy: 2 * time.Millisecond})
	}
	opt := loop.Options{UpdateInterval: 64 * time.Second, UpdateDeadband: 2}
	for _, sv := range servers {
		opt.Servers = append(opt.Servers, loop.Server{Address: sv.Address, MinPoll: 4, MaxPoll: 4})
	}
	r := newRig(t, goodNet, servers, opt)
	r.loop.Start()
	r.sched.Run(300 * time.Second)
	u0, n0 := r.loop.Status().Updates, len(r.ex.at["a:123"])
	r.sched.Run(900 * time.Second)
	u1, n1 := r.loop.Status().Updates, len(r.ex.at["a:123"])
	rounds, updates := n1-n0, u1-u0
	// 600 s: 37 or 38 rounds; one update a minute is 10, plus the few
	// whose offset fell outside two standard deviations.
	if updates < 8 || updates > 16 || rounds < 36 {
		t.Errorf("from 300 to 900 s: %d updates in %d rounds; want about one a minute", updates, rounds)
	}
	if st := r.loop.Status(); st.State != loop.StateSynchronized {
		t.Fatalf("state %s (%s), want synchronized", st.State, st.Reason)
	}
	// The servers jump at 1000 s. The discipline holds the first answers
	// that show it aside as outliers until they persist (as it does
	// without UpdateInterval); the round that accepts them corrects the
	// clock at once, by about 2 ms, at 1046 s here, without waiting for a
	// minute since the last update.
	r.sched.Run(1000 * time.Second)
	u2 := r.loop.Status().Updates
	r.sched.Run(1050 * time.Second)
	st := r.loop.Status()
	if st.Updates != u2+1 || st.Offset < 1900*time.Microsecond {
		t.Errorf("after the servers moved 2 ms: %d updates since 1000 s, last offset %v; want one update, of about +2 ms", st.Updates-u2, st.Offset)
	}
}

// A burst's rounds each end by the silent server's 2 s timeout, even
// though the answering servers are polled again meanwhile: each of the
// four rounds of an iburst corrects the clock by itself.
func TestBurstRoundsWithASilentServer(t *testing.T) {
	servers := []sim.ServerConfig{{Address: "a:123"}, {Address: "b:123"}, {Address: "c:123"}}
	var opt loop.Options
	for _, sv := range servers {
		opt.Servers = append(opt.Servers, loop.Server{Address: sv.Address, MinPoll: 6, MaxPoll: 6, IBurst: true})
	}
	opt.UpdateInterval, opt.UpdateDeadband = 64*time.Second, 2
	r := newRig(t, goodNet, servers, opt)
	r.ex.next = dropper{r.ex.next, "c:123", r.sched}
	r.loop.Start()
	r.sched.Run(8100 * time.Millisecond)
	if got := r.loop.Status().Updates; got != 4 {
		t.Errorf("8.1 s into an iburst with a silent server: %d updates, want 4 (one per round, each 2 s after its polls)", got)
	}
}

// Removing the server a round waits for ends the round.
func TestRemovingAwaitedServerEndsRound(t *testing.T) {
	servers := []sim.ServerConfig{{Address: "a:123"}, {Address: "b:123"}}
	r := newRig(t, goodNet, servers, loop.Options{})
	r.ex.next = dropper{r.ex.next, "b:123", r.sched}
	r.loop.Start()
	r.sched.Run(10 * time.Minute)
	before := r.loop.Status().Updates
	// Into the next round: a answers within milliseconds, b never.
	next := r.ex.at["a:123"][len(r.ex.at["a:123"])-1] + 64*time.Second
	r.sched.Run(r.sched.Elapsed() + (next - r.sched.Mono()) + 100*time.Millisecond)
	if got := r.loop.Status().Updates; got != before {
		t.Fatalf("round still waiting for b: %d updates, want %d", got, before)
	}
	if err := r.loop.RemoveServer("b:123"); err != nil {
		t.Fatal(err)
	}
	if got := r.loop.Status().Updates; got != before+1 {
		t.Errorf("after removing b: %d updates, want %d", got, before+1)
	}
}

// BenchmarkPollRound is what the loop computes for one poll of three
// servers in steady state (three answers, each judged, fitted and
// selected, and a correction): the idle service's own work per poll,
// most of it the discipline's fit.
func BenchmarkPollRound(b *testing.B) {
	var servers []sim.ServerConfig
	var ls []loop.Server
	for _, a := range []string{"a:123", "b:123", "c:123"} {
		servers = append(servers, sim.ServerConfig{Address: a, Stratum: 2})
		ls = append(ls, loop.Server{Address: a, MinPoll: 4, MaxPoll: 4})
	}
	r := newRig(b, goodNet, servers, loop.Options{Servers: ls})
	r.loop.Start()
	at := 200 * 16 * time.Second // histories full
	r.sched.Run(at)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		at += 16 * time.Second
		r.sched.Run(at)
	}
}

// roundWatcher counts the answers after which the loop's round is over
// (RoundOpen false), as the daemon asks before publishing the status.
type roundWatcher struct {
	next   loop.Exchanger
	lp     **loop.Loop
	closed *int
}

func (w roundWatcher) Exchange(addr string, done func(*ntp.Response, error)) {
	w.next.Exchange(addr, func(r *ntp.Response, err error) {
		done(r, err)
		if !(*w.lp).RoundOpen() {
			*w.closed++
		}
	})
}

// A round stays open from its first answer to its last, also while a
// silent server holds it for its timeout: the daemon publishes the status
// once a round, not once an answer.
func TestRoundOpenUntilItsLastAnswer(t *testing.T) {
	servers := []sim.ServerConfig{{Address: "a:123"}, {Address: "b:123"}, {Address: "c:123"}}
	r := newRig(t, goodNet, servers, loop.Options{})
	closed := 0
	r.ex.next = roundWatcher{dropper{r.ex.next, "c:123", r.sched}, &r.loop, &closed}
	r.loop.Start()
	r.sched.Run(10 * time.Minute)
	rounds := len(r.ex.at["a:123"])
	if closed != rounds {
		t.Errorf("%d answers ended a round, in %d rounds of three (one silent); want one per round", closed, rounds)
	}
	// Within a round: a and b have answered, c is silent.
	at := r.sched.Elapsed()
	for r.sched.Run(r.sched.Elapsed() + 10*time.Millisecond); len(r.ex.at["a:123"]) == rounds; r.sched.Run(r.sched.Elapsed() + 10*time.Millisecond) {
		if r.sched.Elapsed() > at+2*time.Minute {
			t.Fatal("no new round")
		}
	}
	r.sched.Run(r.sched.Elapsed() + time.Second)
	if !r.loop.RoundOpen() {
		t.Error("1 s into a round whose third server is silent: RoundOpen false")
	}
	r.sched.Run(r.sched.Elapsed() + 2*time.Second)
	if r.loop.RoundOpen() {
		t.Error("after the silent server's timeout: RoundOpen true")
	}
}

// While a round waits for its other answers, the sources' states are
// judged only when the round ends, or when someone asks: a status taken
// mid-round shows the answer that came in (a selected, with its offset),
// not the states from before it.
func TestStatusMidRoundShowsItsAnswers(t *testing.T) {
	servers := []sim.ServerConfig{{Address: "a:123"}, {Address: "b:123"}, {Address: "c:123"}}
	r := newRig(t, goodNet, servers, loop.Options{})
	r.ex.next = dropper{dropper{r.ex.next, "c:123", r.sched}, "b:123", r.sched}
	r.loop.Start()
	r.sched.Run(100 * time.Millisecond)
	if !r.loop.RoundOpen() {
		t.Fatal("100 ms into the first round, b and c silent: RoundOpen false")
	}
	st := r.loop.Status()
	a := st.Sources[0]
	if a.Address != "a:123" || a.State != engine.StateSelected || a.Reach != 1 || a.Offset == 0 {
		t.Errorf("mid-round, after a's answer: %+v; want a:123 selected, reach 1, with its offset", a)
	}
	for _, s := range st.Sources[1:] {
		if s.State != engine.StateUnreachable || s.Reason != "no reply yet" {
			t.Errorf("mid-round: %+v; want unreachable, no reply yet", s)
		}
	}
	r.sched.Run(2500 * time.Millisecond)
	for _, s := range r.loop.Status().Sources[1:] {
		if s.Reason != "no reply" {
			t.Errorf("after the round's timeouts: %+v; want no reply", s)
		}
	}
}

// A poll due within a round's spread of another's but on a timer of its
// own (a server added 50 ms after the others) is sent with the round's
// first: from its second poll on the added server is polled with the
// others, and each round ends once.
func TestPollWithinSpreadJoinsRound(t *testing.T) {
	servers := []sim.ServerConfig{{Address: "a:123"}, {Address: "b:123"}, {Address: "c:123"}}
	r := newRig(t, goodNet, servers, loop.Options{})
	if err := r.loop.RemoveServer("c:123"); err != nil {
		t.Fatal(err)
	}
	closed := 0
	r.ex.next = roundWatcher{r.ex.next, &r.loop, &closed}
	r.loop.Start()
	r.sched.Run(50 * time.Millisecond)
	if err := r.loop.AddServer(loop.Server{Address: "c:123", MinPoll: 6, MaxPoll: 6}); err != nil {
		t.Fatal(err)
	}
	r.sched.Run(10 * time.Minute)
	a, c := r.ex.at["a:123"], r.ex.at["c:123"]
	if len(a) < 8 || len(c) < 8 || c[0]-a[0] < 40*time.Millisecond || c[len(c)-1] != a[len(a)-1] {
		t.Fatalf("polls of a at %v, of c at %v: want c's first 50 ms after a's, its last with a's", a, c)
	}
	closed = 0
	r.sched.Run(20 * time.Minute)
	rounds := len(r.ex.at["a:123"]) - len(a)
	if closed != rounds {
		t.Errorf("%d answers ended a round in %d rounds; want one per round", closed, rounds)
	}
}
