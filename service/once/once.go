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
	"sort"
	"sync"
	"time"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/engine"
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
	// retryInterval is the least time between requests to one server
	// after the first burst.
	retryInterval = 2 * time.Second
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
	// Servers are "host:port" addresses, already resolved or resolvable
	// by the Querier.
	Servers []Server
	// Querier performs the exchanges (default engine.NTPQuerier).
	Querier engine.Querier
	// Timeout bounds the query phase (default DefaultTimeout).
	Timeout time.Duration
	// StepThreshold: offsets beyond it are stepped (default 0.128 s;
	// negative means never step, as ntpd -x).
	StepThreshold time.Duration
	// MinSources is the number of agreeing sources required (default 1).
	MinSources int
	// Samples per server (default BurstSize, at most BurstSize).
	Samples int
	// Clock applies the correction; nil means report only (dry run).
	Clock *platform.Clock
	// Now reads the local clock (default time.Now); used only for ageing
	// samples, never for the offsets themselves.
	Now func() time.Time
	// After waits, as time.After (the default); tests inject their own.
	After func(time.Duration) <-chan time.Time
}

// Server is one server to query.
type Server struct {
	// Address is "host:port" as the Querier should dial it.
	Address string
	// Name is what the user wrote, when it differs (a host name).
	Name   string
	Prefer bool
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
func Run(ctx context.Context, opt Options) (*Result, error) {
	if opt.Querier == nil {
		opt.Querier = engine.NTPQuerier{}
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.StepThreshold == 0 {
		opt.StepThreshold = DefaultStepThreshold
	}
	if opt.Samples <= 0 || opt.Samples > BurstSize {
		opt.Samples = BurstSize
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.After == nil {
		opt.After = time.After
	}
	if len(opt.Servers) == 0 {
		return &Result{Action: ActionNone, Why: "no servers to query", Sources: []SourceResult{}}, fmt.Errorf("%w: no servers to query", ErrNoTime)
	}

	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	srcs := make([]*engine.Source, len(opt.Servers))
	var wg sync.WaitGroup
	for i, s := range opt.Servers {
		srcs[i] = engine.NewSource(s.Address, s.Prefer)
		wg.Add(1)
		go func(src *engine.Source) {
			defer wg.Done()
			burst(ctx, opt.Querier, src, opt.Samples, opt.After)
		}(srcs[i])
	}
	wg.Wait()

	res := judge(srcs, opt)
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

// burst sends up to n requests to one server, one after another, until n
// valid samples are in, the server sends a kiss-o'-death, or ctx expires.
// Politeness: the first burst is at most n (≤ 4) requests; a request that
// replaces a lost one goes out no sooner than retryInterval after the one
// before. Once a sample is in, a lost reply ends the burst: servers that
// rate-limit (ntpd's "restrict limited") drop rather than answer, and one
// good sample beats waiting.
func burst(ctx context.Context, q engine.Querier, src *engine.Source, n int, after func(time.Duration) <-chan time.Time) {
	for sent, got := 0, 0; got < n; sent++ {
		if sent >= n {
			select {
			case <-ctx.Done():
				return
			case <-after(retryInterval):
			}
		}
		if ctx.Err() != nil {
			return
		}
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		src.Sent()
		r, err := q.Query(rctx, src.Address)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w: timed out", engine.ErrNoReply)
		}
		_, err = src.Received(r, err, engine.ValidateOptions{})
		switch {
		case err == nil:
			got++
		case src.KissCode() != "":
			return // DENY/RSTR: go away; RATE: not one more request
		case got > 0 && errors.Is(err, engine.ErrNoReply):
			return
		}
	}
}

// judge turns the sources' samples into the decision.
func judge(srcs []*engine.Source, opt Options) *Result {
	now := opt.Now()
	res := &Result{Action: ActionNone, Sources: make([]SourceResult, len(srcs))}
	var cands []engine.Candidate
	var candIdx []int
	var candSample []engine.Sample
	for i, src := range srcs {
		sr := &res.Sources[i]
		sr.Address, sr.Name = src.Address, opt.Servers[i].Name
		sr.Samples = src.Filter().Len()
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
	res.Offset = sel.Offset.Seconds()
	res.Delay = candSample[sel.Best].Delay.Seconds()
	switch {
	case opt.StepThreshold > 0 && math.Abs(res.Offset) > opt.StepThreshold.Seconds():
		res.Action = ActionStep
	default:
		res.Action = ActionSlew
	}
	return res
}

// noSourceReason summarises why no source could be used.
func noSourceReason(srcs []SourceResult) string {
	count := map[engine.State]int{}
	for _, s := range srcs {
		count[s.State]++
	}
	if len(srcs) == 1 {
		return fmt.Sprintf("%s is %s: %s", srcs[0].Address, srcs[0].State, srcs[0].Reason)
	}
	states := make([]string, 0, len(count))
	for st, n := range count {
		states = append(states, fmt.Sprintf("%d %s", n, st))
	}
	sort.Strings(states)
	return fmt.Sprintf("none of the %d servers gave a usable reply (%s)", len(srcs), joinWords(states))
}

func joinWords(w []string) string {
	s := ""
	for i, x := range w {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
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
