// Package loop is the service's poll loop: it polls each configured server
// on its own schedule, judges the answers with the engine (validation,
// reachability, kiss-o'-death, selection), feeds the discipline and keeps
// a status snapshot for the control API.
//
// It is pure apart from what is injected: time and timers (platform.Timers),
// the exchanges with servers (Exchanger) and the clock (platform.Clock). The
// service runs it on real time and UDP; the simulator (sim/) runs the very
// same code on virtual time and a simulated network. Every state change
// happens under one mutex, from timer callbacks and exchange completions.
//
// Time bases: the loop's own times (poll schedule, the instant a
// measurement refers to, the last update) are Timers times, the
// monotonic clock in the service; only the NTP timestamps inside responses
// are readings of the disciplined clock.
//
// Per-source state lives in one place, the peer: its configuration, its
// engine.Source (reachability, kiss codes, validation), its poll control
// and its discipline.Track (the measurement history).
//
// A minority never carries the clock: the selected sources must be at
// least half of the servers that have given a valid answer in the last
// day (and not denied us). Otherwise the clock is held, free-running on the frequency
// learned, until a majority agrees again; the status says so. After an
// outage, the first server to answer thus cannot take the clock alone.
package loop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/beevik/ntp"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/discipline"
	"github.com/timesync/timesync/service/engine"
)

// Exchanger starts one client/server exchange with address and arranges
// for done to be called exactly once with the outcome, later: never
// before Exchange returns. done may be called from another goroutine.
type Exchanger interface {
	Exchange(address string, done func(*ntp.Response, error))
}

// Blocking adapts a blocking engine.Querier to an Exchanger: each
// exchange runs in its own goroutine. (The service's production exchanges
// go through ntpclient.Client instead, which keeps a socket per server.)
type Blocking struct {
	Querier engine.Querier
	// Timeout bounds one exchange; default 2 s.
	Timeout time.Duration
}

// Exchange runs the query in a goroutine and reports to done.
func (b Blocking) Exchange(address string, done func(*ntp.Response, error)) {
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		r, err := b.Querier.Query(ctx, address)
		done(r, err)
	}()
}

// Server is one configured time server.
type Server struct {
	// Address is "host:port".
	Address string
	// MinPoll and MaxPoll are poll exponents (2^n s); defaults 6 and 10.
	MinPoll, MaxPoll int
	// IBurst sends a burst of requests at start, to synchronize quickly.
	IBurst bool
	// Prefer marks the source as preferred.
	Prefer bool
}

// DriftStore keeps the frequency across restarts (the drift file).
type DriftStore interface {
	Save(discipline.Drift) error
}

// Options configures a Loop.
type Options struct {
	Servers []Server
	// Timers is the time base of the loop: platform.RealTimers (the
	// default) in the service, virtual time in tests and the simulator,
	// which must always set it (sim's scenario at a date in 2041 catches
	// a test that ages anything with the real clock).
	Timers platform.Timers
	// Exchanger performs the exchanges (required).
	Exchanger Exchanger
	// Clock is the clock to discipline (required).
	Clock *platform.Clock
	// Discipline is the discipline's policy (discipline.DefaultConfig()
	// is a good start).
	Discipline discipline.Config
	// MinSources is how many sources must agree before the clock is
	// corrected; default 1.
	MinSources int
	// Validate tunes the engine's checks.
	Validate engine.ValidateOptions
	// Drift, if set, is saved every DriftInterval (default 1 h) and at
	// Stop.
	Drift         DriftStore
	DriftInterval time.Duration
	// MaxError is the estimated error (root distance growing at 15 ppm
	// since the last update) beyond which the clock is reported
	// unsynchronized; default 1 s.
	MaxError time.Duration
	// SyncThreshold: after an update whose offset exceeded it the state
	// is "syncing" rather than "synchronized"; default 10 ms.
	SyncThreshold time.Duration
	// UpdateInterval and UpdateDeadband: once synchronized, an update
	// sooner than UpdateInterval after the last one is skipped when its
	// combined offset is within UpdateDeadband standard deviations of
	// zero (see mayWait). 0 corrects at every round (the simulator's
	// scenarios set what they test); the service uses 64 s and 2.
	UpdateInterval time.Duration
	UpdateDeadband float64
	// BurstCount and BurstInterval shape iburst and SyncNow bursts;
	// defaults 4 requests 2 s apart.
	BurstCount    int
	BurstInterval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// The service's UpdateInterval and UpdateDeadband: with polls shorter
// than a minute, a synchronized clock whose offset is within two
// standard deviations of the measurements' noise is corrected about once
// a minute instead of at every round. In the simulator (3 servers polled
// every 16 s, seeds 11-60) that cost 3 % of RMS offset (21.2 -> 21.9 µs)
// and, on a 100 µs LAN, 0.3 µs (3.75 -> 4.05 µs); see the README.
const (
	DefaultUpdateInterval = 64 * time.Second
	DefaultUpdateDeadband = 2.0
)

// Loop is the running discipline of one clock by a set of servers.
type Loop struct {
	mu    sync.Mutex
	opt   Options
	log   *slog.Logger
	disc  *discipline.Discipline
	peers []*peer
	// refreshStates's work space
	cands []engine.Candidate
	ests  []discipline.Estimate
	idx   []*peer

	running    bool
	roundOpen  bool // the last answer's round waits for another (roundEnded)
	updates    int
	lastUpdate time.Time
	lastDist   time.Duration
	ref        *peer
	refStratum uint8
	lastDrift  time.Time
	unsync     bool // last reported to the kernel as unsynchronized
	kernelSet  bool
	// holding says why the clock is held although sources answer (a
	// minority agrees); empty when not.
	holding string
	// statesStale: an answer came in since the sources' states were last
	// judged (refreshStates); Status judges them before it reports.
	statesStale bool
}

// peer is everything the loop knows of one server.
type peer struct {
	cfg   Server
	src   *engine.Source
	track discipline.Track // the discipline's history of its measurements
	poll  *engine.PollControl
	timer func() bool
	// timerGen counts the timers armed for p; a callback of an earlier
	// one is stale.
	timerGen uint64
	next     time.Time // when the next poll is due
	stopped  bool      // denied: never polled again

	inflight  bool
	fresh     bool      // a measurement added since the last update
	freshSent time.Time // when the exchange that gave it was sent
	inBurst   bool      // the exchange in flight, or the last, was part of a burst
	answered  bool      // the first exchange has ended (answer or failure)
	lastValid time.Time // when the last valid answer arrived; zero: never
	seq       uint64
	sendAt    time.Time
	steps     uint64
	burst     int           // requests of a burst still to send
	rateMin   time.Duration // floor after a RATE kiss; 0: none
	state     engine.State
	reason    string
}

// New checks the options and builds a loop; Start starts polling.
func New(opt Options) (*Loop, error) {
	if opt.Exchanger == nil || opt.Clock == nil {
		return nil, errors.New("loop: Exchanger and Clock are required")
	}
	if opt.Timers == nil {
		opt.Timers = platform.RealTimers{}
	}
	if len(opt.Servers) == 0 {
		return nil, errors.New("loop: no servers configured")
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.MinSources < 1 {
		opt.MinSources = 1
	}
	if opt.DriftInterval <= 0 {
		opt.DriftInterval = time.Hour
	}
	if opt.MaxError <= 0 {
		opt.MaxError = time.Second
	}
	if opt.SyncThreshold <= 0 {
		opt.SyncThreshold = 10 * time.Millisecond
	}
	if opt.BurstCount <= 0 {
		opt.BurstCount = 4
	}
	if opt.BurstInterval <= 0 {
		opt.BurstInterval = 2 * time.Second
	}
	if opt.Discipline.Logger == nil {
		opt.Discipline.Logger = opt.Logger
	}
	l := &Loop{opt: opt, log: opt.Logger}
	l.disc = discipline.New(opt.Clock, opt.Discipline, opt.Timers.Now())
	seen := map[string]bool{}
	for _, s := range opt.Servers {
		if s.Address == "" {
			return nil, errors.New("loop: server with an empty address")
		}
		if seen[s.Address] {
			return nil, fmt.Errorf("loop: server %s configured twice", s.Address)
		}
		seen[s.Address] = true
		if s.MinPoll == 0 {
			s.MinPoll = 6
		}
		if s.MaxPoll == 0 {
			s.MaxPoll = max(10, s.MinPoll)
		}
		l.peers = append(l.peers, &peer{
			cfg:    s,
			src:    engine.NewSource(s.Address, s.Prefer),
			poll:   engine.NewPollControl(s.MinPoll, s.MaxPoll),
			state:  engine.StateUnreachable,
			reason: "no reply yet",
		})
	}
	return l, nil
}

// Start sends the first request to every server now (a burst with
// iburst) and keeps polling until Stop.
func (l *Loop) Start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running {
		return
	}
	l.running = true
	l.roundOpen = false
	now := l.opt.Timers.Now()
	for _, p := range l.peers {
		// Measurements from before a Stop stay in the histories; they
		// no longer make a round.
		p.fresh, p.inBurst = false, false
		if p.cfg.IBurst {
			p.burst = l.opt.BurstCount
		}
		l.schedule(p, now)
	}
}

// Stop stops polling (exchanges in flight are ignored when they end) and
// saves the drift file.
func (l *Loop) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.running {
		return
	}
	l.running, l.roundOpen = false, false
	for _, p := range l.peers {
		if p.timer != nil {
			p.timer()
			p.timer = nil
		}
	}
	if l.opt.Drift != nil && l.updates > 0 {
		l.saveDrift(l.opt.Timers.Now())
	}
}

// SyncNow sends a burst of requests to every server at once (after the
// machine woke up, or on the user's request).
func (l *Loop) SyncNow() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.running {
		return
	}
	now := l.opt.Timers.Now()
	for _, p := range l.peers {
		if p.stopped {
			continue
		}
		p.burst = l.opt.BurstCount
		l.schedule(p, now)
	}
}

// ConfirmStep allows the correction refused at the panic threshold to be
// made, and makes it now (by a step) from the present estimates.
func (l *Loop) ConfirmStep() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.disc.Confirm(); err != nil {
		return err
	}
	l.log.Warn("correction beyond the panic threshold confirmed by the administrator")
	l.update(l.opt.Timers.Now(), nil)
	return nil
}

// NextPollIn reports how long until the next poll of any server is due;
// false when none is (stopped, or no servers).
func (l *Loop) NextPollIn() (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.running {
		return 0, false
	}
	var next time.Time
	for _, p := range l.peers {
		if !p.stopped && p.timer != nil && (next.IsZero() || p.next.Before(next)) {
			next = p.next
		}
	}
	if next.IsZero() {
		return 0, false
	}
	return next.Sub(l.opt.Timers.Now()), true
}

// Settled reports whether start-up is over: the clock has been corrected
// at least once and no burst is under way (iburst, Sync now, a wake from
// sleep). The daemon then collects the start-up's garbage, once.
func (l *Loop) Settled() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.running || l.updates == 0 {
		return false
	}
	for _, p := range l.peers {
		if !p.stopped && (p.burst > 0 || p.inflight && p.inBurst) {
			return false
		}
	}
	return true
}

// RoundOpen reports whether a round of polls is under way: an exchange
// is in flight, or the last answer's round waits for another (roundEnded).
// The daemon publishes the status once a round is over.
func (l *Loop) RoundOpen() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.roundOpen {
		return true
	}
	// As roundEnded waits: for exchanges of the round's age only.
	now := l.opt.Timers.Now()
	for _, p := range l.peers {
		if p.inflight && now.Sub(p.sendAt) < roundWait {
			return true
		}
	}
	return false
}

// schedule (re)arms p's poll timer for at.
func (l *Loop) schedule(p *peer, at time.Time) {
	if p.timer != nil {
		p.timer()
	}
	p.next = at
	d := at.Sub(l.opt.Timers.Now())
	// A timer already taken out to run cannot be stopped: its callback
	// may still come, waiting for l.mu meanwhile, and must not poll, nor
	// take the place of the timer armed here (timerGen).
	p.timerGen++
	gen := p.timerGen
	p.timer = l.opt.Timers.AfterFunc(d, func() { l.pollTimer(p, gen) })
}

// interval is p's present poll interval: the poll exponent's, the burst
// spacing during a burst, never under a RATE kiss's floor.
func (l *Loop) interval(p *peer) time.Duration {
	iv := p.poll.Interval()
	if p.burst > 0 {
		iv = l.opt.BurstInterval
	}
	return max(iv, p.rateMin)
}

func (l *Loop) pollTimer(p *peer, gen uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen != p.timerGen {
		return // replaced by a later schedule
	}
	p.timer = nil
	if !l.running || p.stopped {
		return
	}
	now := l.opt.Timers.Now()
	l.checkSync(now, false)
	l.poll(p, now)
	// The polls due with this one go now too, as one round: timers fire
	// late, each by its own fraction of a millisecond, and the polls of
	// servers at one interval, each rescheduled from when it was sent,
	// would otherwise drift apart and wake the process once each. Brought
	// forward by at most roundSpread, they stay together from then on;
	// never under a RATE kiss's floor. Each is stamped when it is sent
	// (an exchange may dial, and so take a while, under l.mu).
	for _, q := range l.peers {
		if q != p && q.timer != nil && !q.stopped && !q.inflight && q.next.Sub(now) <= roundSpread &&
			(q.rateMin == 0 || now.Sub(q.sendAt) >= q.rateMin) {
			l.poll(q, l.opt.Timers.Now()) // its schedule replaces q's timer
		}
	}
}

// poll sends p's request now and schedules its next one.
func (l *Loop) poll(p *peer, now time.Time) {
	if p.inflight {
		// The previous exchange has not ended (a slow Exchanger): let it.
		l.schedule(p, now.Add(l.interval(p)))
		return
	}
	p.src.Sent()
	p.inflight = true
	p.seq++
	seq := p.seq
	p.sendAt = now
	p.steps = l.opt.Clock.Steps()
	p.inBurst = p.burst > 0
	if p.burst > 0 {
		p.burst--
	}
	l.schedule(p, now.Add(l.interval(p)))
	l.opt.Exchanger.Exchange(p.cfg.Address, func(r *ntp.Response, err error) { l.received(p, seq, r, err) })
}

func (l *Loop) received(p *peer, seq uint64, r *ntp.Response, qerr error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq != p.seq || !p.inflight {
		return
	}
	p.inflight = false
	if !l.running || p.stopped {
		return
	}
	p.answered = true
	now := l.opt.Timers.Now()
	l.measured(p, r, qerr, now)
	l.roundEnded(now)
}

// measured judges the answer (or failure) of p's exchange that just ended
// and adds a valid measurement to its history.
func (l *Loop) measured(p *peer, r *ntp.Response, qerr error, now time.Time) {
	smp, err := p.src.Received(r, qerr, l.opt.Validate)
	if err != nil {
		l.rejected(p, r, err)
		return
	}
	p.lastValid = now
	if l.opt.Clock.Steps() != p.steps {
		l.log.Debug("measurement spans a clock step; discarded", "server", p.cfg.Address)
		return
	}
	at := p.sendAt.Add(now.Sub(p.sendAt) / 2)
	if err := l.disc.Add(&p.track, at, smp); err != nil {
		if errors.Is(err, discipline.ErrOutlier) {
			l.log.Debug("measurement held aside", "server", p.cfg.Address, "offset_seconds", smp.Offset.Seconds(), "delay_seconds", smp.Delay.Seconds())
		} else {
			l.log.Warn("measurement not used", "server", p.cfg.Address, "err", err)
		}
		return
	}
	p.fresh, p.freshSent = true, p.sendAt
	l.log.Debug("measurement", "server", p.cfg.Address, "offset_seconds", smp.Offset.Seconds(), "delay_seconds", smp.Delay.Seconds())
}

// roundWait bounds how long an update waits for the other exchanges of
// its round: an exchange counts as part of the round while it is younger
// than this, and no measurement waits longer than this for its update.
// Exchanges time out after 2 s by default.
const roundWait = 2 * time.Second

// roundSpread is how close to a round's first poll another source's poll
// must be due to belong to the round.
const roundSpread = 100 * time.Millisecond

// roundEnded corrects the clock once the exchanges of a round have all
// ended. Servers polled at the same interval are polled together (see
// schedule), and their answers arrive within milliseconds of each other;
// one update with all of them does what one update per answer did, with
// a third of the clock changes (each a request to the privileged parent)
// and of the slews to end. An update is not held for an exchange sent
// more than roundWait ago, nor does a measurement wait longer than that.
func (l *Loop) roundEnded(now time.Time) {
	l.roundOpen = false
	var fresh []*peer
	oldest := now
	for _, q := range l.peers {
		if q.fresh && !q.stopped {
			fresh = append(fresh, q)
			if q.freshSent.Before(oldest) {
				oldest = q.freshSent
			}
		}
	}
	if now.Sub(oldest) < roundWait {
		for _, q := range l.peers {
			if q.stopped {
				continue
			}
			waiting := q.inflight && now.Sub(q.sendAt) < roundWait
			// A poll due with this round's whose timer has not run yet
			// (pollTimer sends the polls due together at once, but not
			// one held by a RATE floor, one still in flight then, or
			// one of a server added just before the round).
			waiting = waiting || !q.inflight && !q.fresh && q.timer != nil && q.sendAt.Before(oldest) && q.next.Sub(oldest) < roundSpread
			if waiting {
				// Another answer of this round is on its way. The
				// sources' states are judged again when the round
				// ends, or sooner if someone asks (Status): the
				// selection is most of an answer's cost, and its
				// result would be replaced milliseconds later.
				l.statesStale = true
				l.roundOpen = true
				return
			}
		}
	}
	if !l.firstRoundDone() {
		l.refreshStates(now, nil)
		return
	}
	if len(fresh) == 0 && l.updates > 0 {
		l.refreshStates(now, nil)
		return
	}
	// With nothing fresh this is the first round's last exchange failing:
	// judge the sources that did answer.
	for _, q := range fresh {
		q.fresh = false
	}
	l.update(now, fresh)
}

// pollDisturbed is the offset, in jitters, reported to the poll control
// when the discipline's window had to shrink.
const pollDisturbed = 5

// firstRoundDone reports whether the clock may be corrected: after the
// first correction always; before it, only once every source's first
// exchange has ended, so that the first correction (which may step) is
// judged by all the sources that answer quickly, not by whichever
// answered first.
func (l *Loop) firstRoundDone() bool {
	if l.updates > 0 {
		return true
	}
	for _, p := range l.peers {
		if !p.stopped && !p.answered {
			return false
		}
	}
	return true
}

// rejected handles a failed exchange: a kiss-o'-death backs off or drops
// the source, anything else only shows in its state.
func (l *Loop) rejected(p *peer, r *ntp.Response, err error) {
	var kiss *engine.KissError
	switch {
	case errors.As(err, &kiss) && kiss.Drop():
		p.stopped = true
		if p.timer != nil {
			p.timer()
			p.timer = nil
		}
		p.track.Reset()
		l.log.Warn("server denied access (kiss-o'-death); it will not be polled again", "server", p.cfg.Address, "code", kiss.Code)
	case errors.As(err, &kiss) && kiss.RateLimited():
		floor := 2 * l.interval(p)
		if r != nil && r.Poll > floor {
			floor = r.Poll
		}
		p.rateMin = min(floor, engine.PollInterval(engine.MaxPollExp))
		p.burst = 0
		l.schedule(p, p.sendAt.Add(p.rateMin))
		l.log.Warn("server asks us to poll less often (kiss-o'-death RATE)", "server", p.cfg.Address, "interval", p.rateMin)
	default:
		l.log.Debug("exchange failed", "server", p.cfg.Address, "err", err)
	}
}

// update runs selection over every usable source and corrects the clock
// with the selected ones. fresh are the sources whose new measurements
// triggered it (none after a confirmation); their poll intervals adapt to
// the result.
func (l *Loop) update(now time.Time, fresh []*peer) {
	ests, best := l.refreshStates(now, nil)
	if len(ests) == 0 {
		return
	}
	if off, ok := l.mayWait(now, ests, fresh); ok {
		// The measurements stay in the sources' histories for the next
		// update; only the poll intervals adapt now.
		l.adaptPolls(now, fresh, off)
		l.checkSync(now, false)
		return
	}
	u := l.disc.Update(now, ests)
	if u.Err != nil {
		l.log.Error("correcting the clock", "err", u.Err)
	}
	switch u.Action {
	case discipline.ActionSlew, discipline.ActionStep:
		l.updates++
		l.lastUpdate, l.lastDist = now, u.Distance
		l.ref = best
		if best != nil {
			if e, ok := l.disc.Estimate(&best.track, now); ok {
				l.refStratum = min(e.Stratum+1, engine.MaxStratum)
			}
		}
	}
	if u.Action == discipline.ActionStep {
		for _, p := range l.peers {
			p.src.Filter().Shift(u.Offset)
			p.poll.Reset()
			if !p.stopped && !p.inflight && p.burst == 0 && p.next.After(now.Add(l.interval(p))) {
				l.schedule(p, now.Add(l.interval(p)))
			}
		}
	}
	if u.Action == discipline.ActionSlew {
		l.adaptPolls(now, fresh, u.Offset)
	}
	if l.opt.Drift != nil && u.Action == discipline.ActionSlew && now.Sub(l.lastDrift) >= l.opt.DriftInterval {
		l.saveDrift(now)
	}
	l.checkSync(now, true)
}

// mayWait reports whether a synchronized clock may skip this update and
// take its correction at a later one: when the last update is younger
// than UpdateInterval and the combined offset of ests is within
// UpdateDeadband times the measurements' standard deviation (a
// correction that is mostly their noise), now and, at the frequency in
// force, when the next update is due. It returns the combined offset.
// (In the simulator the second condition adds 1-4 % of updates once
// settled, and takes a start on one jittery server from 111 to 89 µs RMS;
// sim test 013.)
// Polls shorter than UpdateInterval then still measure at their pace,
// but the clock (a request to the privileged parent, and a slew to end)
// is touched about once per UpdateInterval while nothing changes; an
// offset beyond the deadband is corrected at once, and so are the
// answers of a burst (iburst, Sync now, a wake from sleep), which ask for
// a prompt correction.
func (l *Loop) mayWait(now time.Time, ests []discipline.Estimate, fresh []*peer) (time.Duration, bool) {
	for _, p := range fresh {
		if p.inBurst {
			return 0, false
		}
	}
	// An eighth of the interval absorbs the rounds' own jitter: polls
	// exactly UpdateInterval apart are never held.
	if l.opt.UpdateInterval <= 0 || l.updates == 0 || now.Sub(l.lastUpdate)+l.opt.UpdateInterval/8 >= l.opt.UpdateInterval {
		return 0, false
	}
	if st, _ := l.state(now); st != StateSynchronized {
		return 0, false
	}
	// The deadband is the measurements' own noise: the combined
	// estimate's deviation also counts each server's error bound (root
	// delay and dispersion, milliseconds for servers across the
	// internet), which an update would not reduce; and it never exceeds
	// a tenth of SyncThreshold.
	var w float64
	for _, e := range ests {
		w += 1 / max(e.OffsetSD.Seconds()*e.OffsetSD.Seconds(), 1e-18)
	}
	band := min(l.opt.UpdateDeadband*math.Sqrt(1/w)*1e9, float64(l.opt.SyncThreshold/10))
	c := discipline.Combine(ests)
	if float64(c.Offset.Abs()) > band {
		return c.Offset, false
	}
	// The offset is small now, but a frequency in force that the
	// estimates no longer agree with (an early estimate from a short
	// history) carries it away until the next update: wait only if the
	// offset it will have reached by then, give or take the frequency's
	// own standard error over that time, is still within the band.
	if c.HasFrequency {
		left := l.opt.UpdateInterval - now.Sub(l.lastUpdate)
		drift := (c.FrequencyPPM - l.disc.Frequency().FrequencyPPM) * 1e3 * left.Seconds() // ns
		if math.Abs(float64(c.Offset)+drift)+c.SkewPPM*1e3*left.Seconds() > band {
			return c.Offset, false
		}
	}
	return c.Offset, true
}

// adaptPolls lets the poll interval of each source with a fresh
// measurement follow off, the clock's offset as the sources see it.
func (l *Loop) adaptPolls(now time.Time, fresh []*peer, off time.Duration) {
	for _, from := range fresh {
		if e, ok := l.disc.Estimate(&from.track, now); ok {
			jit := max(e.Jitter, e.OffsetSD, time.Microsecond)
			o := off
			if e.Samples >= 8 && e.Used < e.Samples/2 {
				// The discipline had to drop most of the history to
				// follow the clock: the polls are too far apart for
				// how the frequency wanders. That counts as a large
				// offset.
				o = pollDisturbed * jit
			}
			if from.poll.Update(o, jit) && from.burst == 0 && !from.inflight {
				l.schedule(from, from.sendAt.Add(l.interval(from)))
			}
		}
	}
}

func (l *Loop) saveDrift(now time.Time) {
	l.lastDrift = now
	if err := l.opt.Drift.Save(l.disc.Frequency()); err != nil {
		l.log.Error("saving the drift file", "err", err)
	}
}

// refreshStates runs selection and sets every peer's state and reason. It
// returns the estimates of the selected sources and the system peer.
func (l *Loop) refreshStates(now time.Time, from *peer) ([]discipline.Estimate, *peer) {
	l.statesStale = false
	// The work space is the loop's, kept from round to round (refit's
	// note in package discipline: the idle service does this at every
	// answer); chosen, returned, is new.
	cands, ests, idx := l.cands[:0], l.ests[:0], l.idx[:0]
	defer func() {
		clear(idx) // no peer kept alive by the work space
		l.cands, l.ests, l.idx = cands[:0], ests[:0], idx[:0]
	}()
	for _, p := range l.peers {
		if p.stopped || !p.src.Usable() {
			p.state, p.reason = p.src.Status()
			continue
		}
		e, ok := l.disc.Estimate(&p.track, now)
		if !ok {
			p.state, p.reason = p.src.Status()
			continue
		}
		cands = append(cands, engine.Candidate{
			Offset:   e.Offset,
			Distance: max(e.Distance+e.Jitter, time.Nanosecond),
			Stratum:  e.Stratum,
			Prefer:   p.cfg.Prefer,
		})
		ests = append(ests, e)
		idx = append(idx, p)
	}
	sel := engine.Select(cands, l.opt.MinSources)
	chosen := make([]discipline.Estimate, 0, len(idx))
	for i, p := range idx {
		p.state, p.reason = sel.States[i], sel.Reasons[i]
		if sel.OK && sel.States[i] == engine.StateSelected {
			chosen = append(chosen, ests[i])
		}
	}
	if !sel.OK {
		l.holding = ""
		if len(cands) > 0 {
			l.log.Info("no trustworthy time", "why", sel.Why)
			if l.updates > 0 {
				l.holding = sel.Why
			}
		}
		return nil, nil
	}
	if known := l.known(now); 2*len(chosen) < known {
		why := fmt.Sprintf("only %d of the %d servers that have answered agree now; holding the last frequency until a majority agrees", len(chosen), known)
		if l.holding != why {
			l.log.Warn("a minority of the servers cannot carry the clock", "agree", len(chosen), "servers", known)
		}
		l.holding = why
		for i, p := range idx {
			if sel.States[i] == engine.StateSelected {
				p.state, p.reason = engine.StateCandidate, "waiting for a majority of the servers to agree"
			}
		}
		return nil, nil
	}
	l.holding = ""
	return chosen, idx[sel.Best]
}

// majorityMemory is how long a server that stopped answering still
// counts towards the majority: long enough for any outage of the network,
// short enough that servers gone for good do not hold the clock for ever.
const majorityMemory = 24 * time.Hour

// known counts the servers a majority is taken of: those that have given a
// valid answer within majorityMemory and have not denied us. A server that
// never answered does not count, so a configuration with dead entries
// still synchronizes; one that answered before an outage does, so that the
// first server to answer after it cannot carry the clock alone.
func (l *Loop) known(now time.Time) int {
	n := 0
	for _, p := range l.peers {
		if !p.stopped && !p.lastValid.IsZero() && now.Sub(p.lastValid) < majorityMemory {
			n++
		}
	}
	return n
}

// errorBound is the estimated error of the clock: the root distance of
// the last update grown at the frequency tolerance since.
func (l *Loop) errorBound(now time.Time) time.Duration {
	if l.updates == 0 {
		return time.Duration(math.MaxInt64)
	}
	return l.lastDist + time.Duration(15e-6*float64(now.Sub(l.lastUpdate)))
}

// reachable reports whether any source answered in its last eight polls.
func (l *Loop) reachable() bool {
	for _, p := range l.peers {
		if !p.stopped && p.src.Reach() != 0 {
			return true
		}
	}
	return false
}

// state computes the synchronization state and why.
func (l *Loop) state(now time.Time) (State, string) {
	if off, ok := l.disc.Pending(); ok {
		return StateUnsynchronized, fmt.Sprintf("offset %+.3f s exceeds the panic threshold; waiting for an administrator to confirm the step", off.Seconds())
	}
	if l.updates == 0 {
		for _, p := range l.peers {
			if p.track.Samples() > 0 {
				return StateSyncing, "first measurements received; correcting the clock"
			}
		}
		return StateUnsynchronized, "no time source has answered yet"
	}
	if !l.reachable() {
		return StateUnsynchronized, "no time source has answered in its last eight polls; holding the last frequency"
	}
	if l.holding != "" {
		return StateUnsynchronized, l.holding
	}
	if eb := l.errorBound(now); eb > l.opt.MaxError {
		return StateUnsynchronized, fmt.Sprintf("estimated error %.3f s exceeds %v since the last update", eb.Seconds(), l.opt.MaxError)
	}
	last := l.disc.Last()
	if last.Action == discipline.ActionSpike {
		return StateSyncing, fmt.Sprintf("offset %+.3f s beyond the step threshold; waiting for it to persist", last.Offset.Seconds())
	}
	if last.Offset.Abs() > l.opt.SyncThreshold {
		return StateSyncing, fmt.Sprintf("correcting an offset of %+.6f s", last.Offset.Seconds())
	}
	return StateSynchronized, ""
}

// checkSync tells a kernel that keeps sync status (Linux) whether the
// clock is synchronized and how well: after every update (fresh error
// bounds), and at each poll only if the state changed since (the error
// bound grew past MaxError, or the sources went quiet). Between reports
// the kernel grows its maximum error by itself, at 500 ppm, faster than
// ours grows, so it never claims better than we know. A report is a
// request to the privileged parent, so polls that change nothing send
// none.
func (l *Loop) checkSync(now time.Time, updated bool) {
	if _, ok := l.opt.Clock.Driver().(platform.SyncStatusReporter); !ok {
		return
	}
	st, _ := l.state(now)
	synced := st == StateSynchronized
	if l.kernelSet && synced != l.unsync && (!updated || !synced) {
		return // nothing new to say
	}
	var maxErr, estErr time.Duration
	if synced {
		maxErr = l.errorBound(now)
		estErr = l.disc.Last().OffsetSD
	}
	// Through the Clock, which passes it with the end of the update's
	// slew where that saves a request to the privileged parent.
	if err := l.opt.Clock.SetSyncStatus(synced, maxErr, estErr); err != nil {
		l.log.Debug("reporting sync status to the kernel", "err", err)
		return
	}
	l.kernelSet, l.unsync = true, !synced
}
