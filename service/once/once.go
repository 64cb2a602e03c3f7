// Package once implements timesync --once: query every server in parallel
// with a short burst, judge the replies with the engine exactly as the
// service does (validation, filter, intersection, combining), decide between
// a step and a slew, and apply it through the clock driver — or, on a dry
// run, only report.
//
// It owns no policy of its own beyond the burst: the step threshold and
// minsources come from the configuration, and all judging is the engine's.
package once

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/engine"
	"github.com/timesync/timesync/service/ntpclient"
)

// Defaults.
const (
	// DefaultStepThreshold is ntpd's and chrony's makestep default: an
	// offset larger than this is stepped, smaller ones are slewed.
	DefaultStepThreshold = 128 * time.Millisecond
	// DefaultTimeout bounds the whole query phase.
	DefaultTimeout = 5 * time.Second
	// BurstSize is how many requests each server gets: at most 4, sent one
	// after another (the politeness limit for a first burst).
	BurstSize = 4
	// requestTimeout bounds one exchange within the burst, so a lost
	// packet costs a retry rather than the whole server.
	requestTimeout = 1 * time.Second
	// minRequestTime: a request with less time than this left in the run
	// is not sent.
	minRequestTime = 50 * time.Millisecond
	// retryInterval is the least time between requests to a server that
	// has not answered the first burst.
	retryInterval = 2 * time.Second
	// DefaultGrace is how long servers that have not answered at all are
	// waited for after the last answer, when the answers in hand do not
	// already settle the outcome.
	DefaultGrace = 1 * time.Second
)

// Action is what --once does (or would do) to the clock.
type Action string

// Actions. The strings are part of the JSON contract.
const (
	ActionStep Action = "step"
	ActionSlew Action = "slew"
	ActionNone Action = "none" // no trustworthy time, nothing to do
)

// Options configures Run.
type Options struct {
	// Servers are what to query; a Server whose name did not resolve
	// (Err set) is reported unreachable and not queried.
	Servers []Server
	// Querier performs the exchanges (default ntpclient.Querier).
	Querier engine.Querier
	// Timeout bounds the query phase (default DefaultTimeout).
	Timeout time.Duration
	// Grace is how long servers that have not answered at all are waited
	// for after the last answer from any server, once the answers in hand
	// no longer settle the outcome by themselves (default DefaultGrace).
	Grace time.Duration
	// StepThreshold: offsets beyond it are stepped (default 0.128 s;
	// negative means never step, as ntpd -x).
	StepThreshold time.Duration
	// MinSources is the number of agreeing sources required (default 1).
	MinSources int
	// Samples per server (default BurstSize, at most BurstSize).
	Samples int
	// Clock applies the correction; nil means report only (dry run).
	Clock *platform.Clock
	// After waits, as time.After (the default); tests inject their own.
	// It times the retries, the grace and the wait for a slew to end.
	After func(time.Duration) <-chan time.Time
}

// Server is one server to query.
type Server struct {
	// Address is "host:port" as the Querier should dial it.
	Address string
	// Name is what the user wrote, when it differs (a host name).
	Name   string
	Prefer bool
	// Err is why Name could not be resolved; such a server is reported
	// unreachable with this reason and never queried.
	Err error
}

// SourceResult is one server's outcome, for the table and the JSON.
type SourceResult struct {
	Address string       `json:"address"`
	Name    string       `json:"name,omitempty"`
	State   engine.State `json:"state"`
	Offset  float64      `json:"offset_seconds"`
	Delay   float64      `json:"delay_seconds"`
	Stratum int          `json:"stratum"`
	Reason  string       `json:"reason"`
	Samples int          `json:"samples"`
	// Requests is how many requests the server was sent.
	Requests int `json:"requests"`
}

// Result is the outcome of Run; it marshals to the --once --json contract.
type Result struct {
	Offset  float64        `json:"offset_seconds"`
	Delay   float64        `json:"delay_seconds"`
	Action  Action         `json:"action"`
	Applied bool           `json:"applied"`
	Sources []SourceResult `json:"sources"`
	// Duration is how long the slew takes (0 for a step); not in the
	// contract's required fields but useful to scripts.
	SlewSeconds float64 `json:"slew_seconds,omitempty"`
	// Why says why no time was found or applied, in words.
	Why string `json:"error,omitempty"`
}

// Errors returned by Run.
var (
	// ErrNoTime means no trustworthy time was found; Result.Why says why.
	ErrNoTime = errors.New("no trustworthy time found")
)

// Run queries the servers, selects and combines, and applies the
// correction unless opt.Clock is nil. The Result is filled in even when an
// error is returned, so the caller can show what was seen.
//
// Run reads no clock of its own: the samples are judged at the instant of
// the latest reply (the local clock's reading in it), so the result does
// not depend on when, or on what date, it runs.
func Run(ctx context.Context, opt Options) (*Result, error) {
	if opt.Querier == nil {
		opt.Querier = ntpclient.Querier{}
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Grace <= 0 {
		opt.Grace = DefaultGrace
	}
	if opt.StepThreshold == 0 {
		opt.StepThreshold = DefaultStepThreshold
	}
	if opt.Samples <= 0 || opt.Samples > BurstSize {
		opt.Samples = BurstSize
	}
	if opt.After == nil {
		opt.After = time.After
	}
	if len(opt.Servers) == 0 {
		return &Result{Action: ActionNone, Why: "no servers to query", Sources: []SourceResult{}}, fmt.Errorf("%w: no servers to query", ErrNoTime)
	}

	r := newRound(opt)
	r.query(ctx)
	res := r.judge()
	if res.Action == ActionNone {
		return res, fmt.Errorf("%w: %s", ErrNoTime, res.Why)
	}
	if opt.Clock == nil {
		return res, nil
	}
	if err := apply(opt.Clock, res, opt.After); err != nil {
		res.Why = err.Error()
		return res, err
	}
	res.Applied = true
	return res, nil
}

// round is one run's sources and what is known of each. The burst
// goroutines and the coordinator share it under mu.
type round struct {
	opt   Options
	mu    sync.Mutex
	srcs  []*engine.Source
	peers []peerState
	news  chan struct{} // a burst made progress (buffered, coalescing)
	// replies counts the replies that came back, usable or not.
	replies int
}

// peerState is what the coordinator needs to know of one server's burst.
type peerState struct {
	sent     int  // requests sent
	answered bool // some reply came back, usable or not
	done     bool // the burst is over (or was never started)
}

func newRound(opt Options) *round {
	r := &round{
		opt:   opt,
		srcs:  make([]*engine.Source, len(opt.Servers)),
		peers: make([]peerState, len(opt.Servers)),
		news:  make(chan struct{}, 1),
	}
	for i, s := range opt.Servers {
		r.srcs[i] = engine.NewSource(s.Address, s.Prefer)
		if s.Err != nil {
			r.srcs[i].Received(nil, engine.Unreachable(s.Err.Error()), engine.ValidateOptions{})
			r.peers[i].done = true
		}
	}
	return r
}

// query runs every server's burst in parallel and returns when the
// outcome can no longer change (see settled), after the grace for silent
// servers, or at the timeout — whichever comes first. Bursts still going
// then are cancelled and waited for.
func (r *round) query(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, r.opt.Timeout)
	defer cancel()
	var wg sync.WaitGroup
	for i := range r.srcs {
		if r.peers[i].done {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.burst(ctx, i)
		}()
	}
	var grace <-chan time.Time
	graceFrom, graceLen := -1, time.Duration(0) // replies counted and length when the grace began
	for {
		r.mu.Lock()
		settled, wait := r.settled()
		replies := r.replies
		r.mu.Unlock()
		if settled {
			break
		}
		if wait > 0 && (replies != graceFrom || wait != graceLen) {
			// Only silent servers are left: they get a grace from the
			// last answer, restarted by every answer.
			grace, graceFrom, graceLen = r.opt.After(wait), replies, wait
		}
		select {
		case <-r.news:
			continue
		case <-ctx.Done():
		case <-grace:
			r.mu.Lock()
			_, wait = r.settled()
			replies = r.replies
			r.mu.Unlock()
			if wait == 0 || replies != graceFrom {
				continue // an answer came in meanwhile
			}
		}
		break
	}
	cancel()
	wg.Wait()
}

// settled reports whether waiting longer cannot change the outcome: every
// burst is over. Otherwise, when the only bursts left are of servers that
// have not answered at all ("silent") and some server has answered, wait
// is how long the silent ones are still given after the last answer: the
// full Grace while the answers in hand leave the outcome open, a fifth of
// it once they hold a majority that the silent ones could not overturn
// (more agreeing sources than the other usable and silent ones together),
// so that a server merely a little slower still shows in the report.
// wait is 0 while other bursts are going or nobody has answered.
// Called with mu held.
func (r *round) settled() (settled bool, wait time.Duration) {
	silent, answered := 0, false
	for _, p := range r.peers {
		answered = answered || p.answered
		switch {
		case p.done:
		case p.answered:
			return false, 0 // a burst is going: it ends soon
		default:
			silent++
		}
	}
	if silent == 0 {
		return true, 0
	}
	if !answered {
		return false, 0
	}
	if cands, sel, ok := r.selection(); ok && sel.OK {
		agree := 0
		for _, st := range sel.States {
			if st == engine.StateSelected {
				agree++
			}
		}
		if 2*agree > cands+silent {
			return false, r.opt.Grace / 5
		}
	}
	return false, r.opt.Grace
}

// burst sends up to n requests to one server, one after another. The
// first burst is at most n (≤ 4) requests. A server that answers at all —
// even with an unusable answer — gets no more than that burst; one whose
// answer says it cannot be used now (not synchronized, a kiss-o'-death) or
// whose port is refused gets no more requests at all; once a sample is in,
// a lost reply ends the burst (servers that rate-limit by dropping, as
// ntpd's "restrict limited", are not pestered). Only a server that has
// never answered is asked again, no sooner than retryInterval after the
// request before, until the coordinator gives up on it.
func (r *round) burst(ctx context.Context, i int) {
	src, p, n := r.srcs[i], &r.peers[i], r.opt.Samples
	defer func() {
		r.mu.Lock()
		p.done = true
		r.mu.Unlock()
		r.notify()
	}()
	for got := 0; got < n; {
		r.mu.Lock()
		sent, answered := p.sent, p.answered
		r.mu.Unlock()
		if sent >= n {
			if answered {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-r.opt.After(retryInterval):
			}
		}
		if ctx.Err() != nil {
			return
		}
		// A request gets requestTimeout, or what is left of the run; one
		// with next to nothing left is not sent (nor counted).
		wait := requestTimeout
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		if wait < minRequestTime {
			return
		}
		rctx, cancel := context.WithTimeout(ctx, wait)
		r.mu.Lock()
		src.Sent()
		p.sent++
		r.mu.Unlock()
		resp, err := r.opt.Querier.Query(rctx, src.Address)
		cancel()
		if ctx.Err() != nil && err != nil {
			return // given up on: the coordinator has what it needs
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w within %v", engine.ErrNoReply, engine.RoundDuration(wait))
		}
		r.mu.Lock()
		_, err = src.Received(resp, err, engine.ValidateOptions{})
		if !errors.Is(err, engine.ErrNoReply) {
			p.answered = true
			r.replies++
		}
		r.mu.Unlock()
		r.notify()
		switch {
		case err == nil:
			got++
		case final(err):
			return
		case got > 0 && errors.Is(err, engine.ErrNoReply):
			return
		}
	}
}

// final reports whether an error means that asking the same server again
// within this run cannot help: a kiss-o'-death (DENY/RSTR: go away; RATE:
// not one more request; INIT, STEP and the rest: the server itself is not
// usable now), a server that says it is not synchronized, and a refused
// port.
func final(err error) bool {
	var kiss *engine.KissError
	return errors.As(err, &kiss) ||
		errors.Is(err, engine.ErrUnsynchronized) ||
		errors.Is(err, engine.ErrStratum) ||
		errors.Is(err, engine.ErrNoReference) ||
		errors.Is(err, engine.ErrRefused)
}

// notify tells the coordinator that a burst made progress.
func (r *round) notify() {
	select {
	case r.news <- struct{}{}:
	default:
	}
}

// judgeTime is the instant the samples are judged at: the local clock's
// reading in the latest reply. Called with mu held.
func (r *round) judgeTime() time.Time {
	var now time.Time
	for _, src := range r.srcs {
		if smp, ok := src.Last(); ok && smp.Time.After(now) {
			now = smp.Time
		}
	}
	return now
}

// selection runs selection over the usable sources as they stand: the
// number of candidates, the selection, and whether there were any.
// Called with mu held.
func (r *round) selection() (int, engine.Selection, bool) {
	now := r.judgeTime()
	var cands []engine.Candidate
	for _, src := range r.srcs {
		if c, _, ok := src.Candidate(now, true); ok {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return 0, engine.Selection{}, false
	}
	return len(cands), engine.Select(cands, r.opt.MinSources), true
}

// judge turns the sources' samples into the decision.
func (r *round) judge() *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	srcs, opt, now := r.srcs, r.opt, r.judgeTime()
	res := &Result{Action: ActionNone, Sources: make([]SourceResult, len(srcs))}
	var cands []engine.Candidate
	var candIdx []int
	var candSample []engine.Sample
	for i, src := range srcs {
		sr := &res.Sources[i]
		sr.Address, sr.Name = src.Address, opt.Servers[i].Name
		sr.Samples = src.Filter().Len()
		sr.Requests = r.peers[i].sent
		st, why := src.Status()
		sr.State, sr.Reason = st, why
		c, smp, ok := src.Candidate(now, true)
		if !ok {
			continue
		}
		sr.Offset, sr.Delay, sr.Stratum = smp.Offset.Seconds(), smp.Delay.Seconds(), int(smp.Stratum)
		cands = append(cands, c)
		candIdx = append(candIdx, i)
		candSample = append(candSample, smp)
	}
	if len(cands) == 0 {
		res.Why = noSourceReason(res.Sources)
		return res
	}
	sel := engine.Select(cands, opt.MinSources)
	for k, i := range candIdx {
		res.Sources[i].State, res.Sources[i].Reason = sel.States[k], sel.Reasons[k]
	}
	if !sel.OK {
		res.Why = sel.Why
		return res
	}
	// The selected sources are combined by the service's own rule.
	var ests []engine.Estimate
	for k, i := range candIdx {
		if sel.States[k] == engine.StateSelected {
			ests = append(ests, engine.SampleEstimate(candSample[k], srcs[i].Filter().Jitter(now)))
		}
	}
	res.Offset = engine.Combine(ests).Offset.Seconds()
	res.Delay = candSample[sel.Best].Delay.Seconds()
	switch {
	case opt.StepThreshold > 0 && math.Abs(res.Offset) > opt.StepThreshold.Seconds():
		res.Action = ActionStep
	default:
		res.Action = ActionSlew
	}
	return res
}

// noSourceReason says in one line why no source could be used: the
// server's own reason when there is one, else a count per state with its
// distinct reasons ("none of the 4 servers gave a usable reply: 1 invalid
// (…), 1 kod (server not synchronized yet (INIT)), 2 unreachable (no reply
// within 1s; port unreachable …)").
func noSourceReason(srcs []SourceResult) string {
	if len(srcs) == 1 {
		return fmt.Sprintf("%s: %s", srcs[0].Address, srcs[0].Reason)
	}
	count := map[engine.State]int{}
	reasons := map[engine.State][]string{} // distinct, in order of appearance
	for _, s := range srcs {
		count[s.State]++
		if s.Reason != "" && !slices.Contains(reasons[s.State], s.Reason) {
			reasons[s.State] = append(reasons[s.State], s.Reason)
		}
	}
	states := make([]string, 0, len(count))
	for st, n := range count {
		states = append(states, fmt.Sprintf("%d %s (%s)", n, st, strings.Join(reasons[st], "; ")))
	}
	sort.Strings(states)
	return fmt.Sprintf("none of the %d servers gave a usable reply: %s", len(srcs), strings.Join(states, ", "))
}

// apply steps or slews the clock. A slew must outlive this process, so the
// kernel's own one-shot slew is used where the driver has one; otherwise
// the shared layer slews and Run waits for it to finish.
func apply(clk *platform.Clock, res *Result, after func(time.Duration) <-chan time.Time) error {
	offset := time.Duration(res.Offset * 1e9)
	if res.Action == ActionStep {
		if err := clk.Step(offset); err != nil {
			return explain(err)
		}
		return nil
	}
	if ks, ok := clk.Driver().(platform.KernelSlewer); ok {
		d, err := ks.KernelSlew(offset)
		if err != nil {
			return explain(err)
		}
		res.SlewSeconds = d.Seconds()
		return nil
	}
	// No kernel slew (Windows): slew through the shared layer, wait for
	// it and end it before exiting, so the clock is never left fast.
	d, err := clk.Slew(offset, 0)
	if err != nil {
		return explain(err)
	}
	res.SlewSeconds = d.Seconds()
	<-after(d)
	if err := clk.EndSlew(); err != nil {
		return explain(err)
	}
	return nil
}

// explain turns a driver error into the one line a user reads. The
// drivers already say what privilege is missing.
func explain(err error) error {
	if errors.Is(err, platform.ErrPermission) {
		return fmt.Errorf("cannot set the clock: %w; use --dry-run to only measure", err)
	}
	return fmt.Errorf("cannot set the clock: %w", err)
}
