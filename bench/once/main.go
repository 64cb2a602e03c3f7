// Command once is the `make bench-once` harness: it runs, in one go,
// `timesync --once --dry-run` and `chronyd -Q` (Debian's chrony, fetched
// with apt-get download and unpacked with dpkg -x into a cache directory,
// never installed or started as a service) against the same loopback test
// servers (internal/ntptest) serving a known offset with per-leg delay and
// jitter, for several rounds alternating which tool goes first, and prints
// the median wall time and median |error| of each, their ratios and
// PASS/FAIL against the targets: timesync at least 10× faster than
// chronyd -Q with at most half its median error.
//
// The real clock is read, never changed: chronyd runs with -Q (measure and
// exit) and -x (no clock control), timesync with --dry-run, and the harness
// refuses a timesync result that says it applied anything.
//
// Run it from the repository root: go run ./bench/once [flags].
// It exits 1 if a tool fails to produce a result, 2 on bad flags, 3 with
// -strict when a target is missed, else 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/timesync/timesync/internal/ntptest"
)

// Targets from the issue.
const (
	targetSpeedup    = 10.0 // chronyd wall time / timesync wall time, at least
	targetErrorRatio = 0.5  // timesync |error| / chronyd |error|, at most
)

type options struct {
	rounds      int
	servers     int
	base        string
	offset      time.Duration
	delay       time.Duration
	jitter      time.Duration
	seed        int64
	cache       string
	chronyd     string
	timesync    string
	toolTimeout time.Duration
	strict      bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("bench-once", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.rounds, "rounds", 7, "rounds; each runs both tools, alternating which goes first")
	fs.IntVar(&o.servers, "servers", 4, "number of test servers, on consecutive loopback addresses")
	fs.StringVar(&o.base, "base", "127.0.0.11", "first server address (loopback; chrony wants one IP per source)")
	fs.DurationVar(&o.offset, "offset", 250*time.Millisecond, "true offset served (server time minus local time)")
	fs.DurationVar(&o.delay, "delay", time.Millisecond, "added delay per leg")
	fs.DurationVar(&o.jitter, "jitter", 4*time.Millisecond, "added uniform jitter per leg, 0..J")
	fs.Int64Var(&o.seed, "seed", 1, "random seed of the servers' jitter")
	fs.StringVar(&o.cache, "cache", ".cache/debs", "where chrony's .deb is downloaded and unpacked")
	fs.StringVar(&o.chronyd, "chronyd", "", "chronyd binary to use instead of fetching Debian's")
	fs.StringVar(&o.timesync, "timesync", "", "timesync binary to use instead of building ./cmd/timesync")
	fs.DurationVar(&o.toolTimeout, "tool-timeout", 30*time.Second, "limit for one run of one tool")
	fs.BoolVar(&o.strict, "strict", false, "exit 3 when a target is missed")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.rounds < 1 || o.servers < 1 || o.toolTimeout <= 0 {
		fmt.Fprintln(stderr, "bench-once: -rounds, -servers and -tool-timeout must be positive")
		return 2
	}
	res, err := bench(o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "bench-once: %v\n", err)
		return 1
	}
	if !report(stdout, o, res) && o.strict {
		return 3
	}
	return 0
}

// runResult is one run of one tool.
type runResult struct {
	wall   time.Duration
	offset time.Duration // reported: reference minus local clock
}

// results holds every run of both tools.
type results struct {
	timesync, chrony []runResult
}

func bench(o options, progress io.Writer) (results, error) {
	var res results
	tmp, err := os.MkdirTemp("", "bench-once-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)

	ch, err := prepareChrony(o.chronyd, o.cache, progress)
	if err != nil {
		return res, fmt.Errorf("chronyd: %w", err)
	}
	tsBin := o.timesync
	if tsBin == "" {
		tsBin = filepath.Join(tmp, "timesync")
		fmt.Fprintln(progress, "building ./cmd/timesync")
		cmd := exec.Command("go", "build", "-o", tsBin, "./cmd/timesync")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return res, fmt.Errorf("go build ./cmd/timesync (run from the repository root): %v\n%s", err, out)
		}
	}

	addrs, err := ntptest.Consecutive(o.base, 0, o.servers)
	if err != nil {
		return res, err
	}
	var servers []string
	for i, a := range addrs {
		s, err := ntptest.Start(a, ntptest.Config{
			Offset:     o.offset,
			DelayOut:   o.delay,
			DelayBack:  o.delay,
			JitterOut:  o.jitter,
			JitterBack: o.jitter,
			Stratum:    1,
			Seed:       o.seed + int64(i),
		})
		if err != nil {
			return res, err
		}
		defer s.Close()
		servers = append(servers, s.Addr())
	}
	fmt.Fprintf(progress, "servers %s: offset %+.3f s, delay %v + uniform jitter 0..%v per leg; %d rounds\n",
		strings.Join(servers, " "), o.offset.Seconds(), o.delay, o.jitter, o.rounds)

	runTimesync := func(round int) error {
		r, err := timesyncOnce(tsBin, servers, o.toolTimeout)
		if err != nil {
			return fmt.Errorf("round %d: timesync: %w", round, err)
		}
		res.timesync = append(res.timesync, r)
		fmt.Fprintf(progress, "round %d  timesync    wall %8.3f s  offset %+.6f s  |error| %7.3f ms\n",
			round, r.wall.Seconds(), r.offset.Seconds(), msAbs(r.offset-o.offset))
		return nil
	}
	runChrony := func(round int) error {
		r, err := ch.once(servers, filepath.Join(tmp, fmt.Sprintf("chrony-%d", round)), o.toolTimeout)
		if err != nil {
			return fmt.Errorf("round %d: chronyd -Q: %w", round, err)
		}
		res.chrony = append(res.chrony, r)
		fmt.Fprintf(progress, "round %d  chronyd -Q  wall %8.3f s  offset %+.6f s  |error| %7.3f ms\n",
			round, r.wall.Seconds(), r.offset.Seconds(), msAbs(r.offset-o.offset))
		return nil
	}
	for round := 1; round <= o.rounds; round++ {
		first, second := runTimesync, runChrony
		if round%2 == 0 {
			first, second = runChrony, runTimesync
		}
		if err := first(round); err != nil {
			return res, err
		}
		if err := second(round); err != nil {
			return res, err
		}
	}
	return res, nil
}

func msAbs(d time.Duration) float64 { return float64(d.Abs()) / float64(time.Millisecond) }

// summary is the figures of one tool.
type summary struct {
	medWall, medErr, maxErr time.Duration
}

func summarize(runs []runResult, trueOffset time.Duration) summary {
	walls := make([]time.Duration, len(runs))
	errs := make([]time.Duration, len(runs))
	var s summary
	for i, r := range runs {
		walls[i] = r.wall
		errs[i] = (r.offset - trueOffset).Abs()
		s.maxErr = max(s.maxErr, errs[i])
	}
	s.medWall = median(walls)
	s.medErr = median(errs)
	return s
}

// median of ds (mean of the middle two for an even count); ds is reordered.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	for i := 1; i < len(ds); i++ { // insertion sort: a handful of values
		for j := i; j > 0 && ds[j] < ds[j-1]; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}

// verdict compares the two summaries with the targets.
type verdict struct {
	speedup, errRatio float64
	speedOK, errOK    bool
}

func judge(ts, ch summary) verdict {
	var v verdict
	if ts.medWall > 0 {
		v.speedup = float64(ch.medWall) / float64(ts.medWall)
	}
	switch {
	case ch.medErr > 0:
		v.errRatio = float64(ts.medErr) / float64(ch.medErr)
	case ts.medErr == 0:
		v.errRatio = 0 // both exact
	default: // chrony exact, timesync not
		v.errRatio = math.Inf(1)
	}
	v.speedOK = v.speedup >= targetSpeedup
	v.errOK = v.errRatio <= targetErrorRatio
	return v
}

// report prints the table and reports whether both targets were met.
func report(w io.Writer, o options, res results) bool {
	ts := summarize(res.timesync, o.offset)
	ch := summarize(res.chrony, o.offset)
	v := judge(ts, ch)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-12s %12s %15s %14s %5s\n", "tool", "median wall", "median |error|", "max |error|", "runs")
	for _, row := range []struct {
		name string
		s    summary
		n    int
	}{{"timesync", ts, len(res.timesync)}, {"chronyd -Q", ch, len(res.chrony)}} {
		fmt.Fprintf(w, "%-12s %10.3f s %12.3f ms %11.3f ms %5d\n", row.name,
			row.s.medWall.Seconds(), msAbs(row.s.medErr), msAbs(row.s.maxErr), row.n)
	}
	fmt.Fprintf(w, "speed: timesync %.1f× faster than chronyd -Q (target ≥ %.0f×): %s\n",
		v.speedup, targetSpeedup, passFail(v.speedOK))
	fmt.Fprintf(w, "error: timesync median |error| %.2f× chronyd's (target ≤ %.1f×): %s\n",
		v.errRatio, targetErrorRatio, passFail(v.errOK))
	return v.speedOK && v.errOK
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// splitHostPort is net.SplitHostPort for addresses we made ourselves.
func splitHostPort(addr string) (host, port string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		panic(err) // addresses come from ntptest.Server.Addr
	}
	return host, port
}

// runTool runs cmd with a timeout and returns its wall time and output.
func runTool(cmd *exec.Cmd, timeout time.Duration) (wall time.Duration, stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Env, c.Dir = cmd.Env, cmd.Dir
	var out, errb strings.Builder
	c.Stdout, c.Stderr = &out, &errb
	startT := time.Now()
	err = c.Run()
	wall = time.Since(startT)
	if ctx.Err() != nil {
		err = fmt.Errorf("no result within %v", timeout)
	}
	return wall, out.String(), errb.String(), err
}
