// Command timesync-sim runs a simulated scenario through the real engine,
// discipline and poll loop (package sim) and prints statistics of the
// simulated clock's error, per seed and over seeds.
//
//	timesync-sim --seeds 1-10 --duration 100000s --start-offset 0.1s --freq-ppm 100 \
//	    --wander 1e-9 --delay 1ms --jitter-mean 1ms --minpoll 6 --maxpoll 6 --servers 1 [--json]
//
// The simulated machine's monotonic clock, which its timers and the
// slews run on, runs at the disciplined rate as Linux CLOCK_MONOTONIC
// does (always; see package sim).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/timesync/timesync/service/discipline"
	"github.com/timesync/timesync/service/loop"
	"github.com/timesync/timesync/sim"
)

func main() {
	if err := runMain(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "timesync-sim:", err)
		os.Exit(2)
	}
}

// output is the --json document.
type output struct {
	Scenario map[string]any `json:"scenario"`
	Runs     []runStats     `json:"runs"`
	Summary  sim.Summary    `json:"summary"`
}

type runStats struct {
	Seed uint64 `json:"seed"`
	sim.Stats
	Steps int `json:"steps"`
}

func runMain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("timesync-sim", flag.ContinueOnError)
	var (
		seeds       = fs.String("seeds", "1", "seeds to run: N, N-M or a comma-separated list")
		duration    = fs.Duration("duration", 100000*time.Second, "simulated time")
		statsFrom   = fs.Duration("stats-from", 10000*time.Second, "start of the statistics window")
		startOffset = fs.Duration("start-offset", 100*time.Millisecond, "initial clock error (clock − true time)")
		freqPPM     = fs.Float64("freq-ppm", 100, "oscillator frequency error, ppm (positive: fast)")
		freqStep    = fs.String("freq-step", "", "AT:PPM: the oscillator's frequency error changes by PPM at simulated time AT (e.g. 2h:10)")
		wander      = fs.Float64("wander", 1e-9, "std. dev. of the frequency's random-walk step per second (1e-9 = 0.001 ppm)")
		delay       = fs.Duration("delay", time.Millisecond, "fixed one-way delay")
		jitter      = fs.Duration("jitter-mean", time.Millisecond, "mean of the exponential extra one-way delay, per packet")
		minPoll     = fs.Int("minpoll", 6, "minimum poll exponent (2^n s)")
		maxPoll     = fs.Int("maxpoll", 6, "maximum poll exponent (2^n s)")
		servers     = fs.Int("servers", 1, "number of servers")
		falseT      = fs.Int("falsetickers", 0, "how many of the servers have a wrong clock")
		loss        = fs.Float64("loss", 0, "probability that a packet is lost")
		srvNoise    = fs.Duration("server-noise", 0, "std. dev. of a normal error in each server answer (server timestamp jitter)")
		outage      = fs.String("outage", "", "network up UP seconds out of every PERIOD: UP/PERIOD (e.g. 3600/7200 or 1h/2h)")
		profile     = fs.String("profile", "linux", "clock driver emulated: linux (±83333 ppm) or freq-only (±500 ppm)")
		iburst      = fs.Bool("iburst", false, "send a burst of requests at start (not part of Scenario A)")
		minSources  = fs.Int("minsources", 1, "sources that must agree")
		updIv       = fs.Duration("update-interval", loop.DefaultUpdateInterval, "once synchronized, skip updates sooner than this after the last whose offset is within --update-deadband standard deviations, as the service does (0: update at every round)")
		updBand     = fs.Float64("update-deadband", loop.DefaultUpdateDeadband, "see --update-interval")
		step        = fs.Duration("step", 128*time.Millisecond, "step threshold (0: never step)")
		stepout     = fs.Duration("stepout", 900*time.Second, "stepout interval")
		panicT      = fs.Duration("panic", 1000*time.Second, "panic threshold (0: always step)")
		estimator   = fs.String("estimator", "bounds", "line estimator: bounds (maximum likelihood, default) or regression (delay-weighted least squares)")
		asJSON      = fs.Bool("json", false, "print one JSON object")
		debug       = fs.Bool("debug", false, "log the loop's debug messages to stderr")
		trace       = fs.String("trace", "", "write the per-second trace (seed, t, x, frequency error) of every run to this file")
		driftSkew   = fs.Float64("drift-skew-ppm", 0.05, "skew written in the --drift-ppm file")
		driftPPM    *float64
	)
	fs.Func("drift-ppm", "start from a drift file that says `P`: the clock's own frequency error in ppm, positive = the uncorrected clock runs fast, chrony's sign (for --freq-ppm 100 a correct file says 100); default: no drift file", func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a number", v)
		}
		driftPPM = &f
		return nil
	})
	usage := func(w io.Writer) {
		fs.SetOutput(w)
		defer fs.SetOutput(io.Discard)
		fmt.Fprint(w, `usage: timesync-sim [flags]

Runs a simulated scenario through the real loop, engine and discipline and
prints, per seed and over the seeds, the clock's error x = clock − true time:
rms_us, max_us, p50/p95/p99 of |x| and mean_us over the statistics window
(from --stats-from to --duration), rmsf_ppm (RMS frequency error over the
same window, slews included), first_s (first second with |x| < 1 ms) and
conv_s (the second after which |x| stays below 1 ms). For first_s and
conv_s, -1 means never: never below 1 ms, or still at or above 1 ms at the
end. A summary mean of -1 means some seed never got there.

flags:
`)
		fs.PrintDefaults()
	}
	// Errors are one line (main prints them); --help goes to stdout.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return err
		}
		return errors.New(strings.Replace(err.Error(), " -", " --", 1) + " (see --help)")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	seedList, err := parseSeeds(*seeds)
	if err != nil {
		return err
	}
	up, period, err := parseOutage(*outage)
	if err != nil {
		return err
	}
	if *servers < 1 {
		return fmt.Errorf("--servers %d: want at least 1", *servers)
	}
	if *falseT < 0 || *falseT >= *servers {
		return fmt.Errorf("--falsetickers %d: want 0 ≤ K < --servers %d", *falseT, *servers)
	}
	if *duration <= 0 {
		return fmt.Errorf("--duration %v: must be positive", *duration)
	}
	if *statsFrom < 0 || *duration <= *statsFrom {
		return fmt.Errorf("--duration %v must be longer than --stats-from %v (the statistics window would be empty)", *duration, *statsFrom)
	}
	if *minPoll < 3 || *maxPoll > 17 {
		return fmt.Errorf("--minpoll %d --maxpoll %d: poll exponents must lie within 3..17", *minPoll, *maxPoll)
	}
	if *minPoll > *maxPoll {
		return fmt.Errorf("--minpoll %d is greater than --maxpoll %d", *minPoll, *maxPoll)
	}
	if _, err := sim.Profile(*profile).MaxFrequency(); err != nil {
		return fmt.Errorf("--profile: %w", err)
	}
	if !(*loss >= 0 && *loss <= 1) {
		return fmt.Errorf("--loss %v: want a probability, 0 to 1", *loss)
	}
	if *delay < 0 || *jitter < 0 || *srvNoise < 0 {
		return fmt.Errorf("--delay, --jitter-mean and --server-noise must not be negative")
	}
	if !(*wander >= 0) || math.IsInf(*wander, 0) {
		return fmt.Errorf("--wander %v: want a non-negative number", *wander)
	}
	if math.IsNaN(*freqPPM) || math.Abs(*freqPPM) > 10000 {
		return fmt.Errorf("--freq-ppm %v: want a number within ±10000", *freqPPM)
	}
	var stepAt time.Duration
	var stepPPM float64
	if *freqStep != "" {
		at, ppm, ok := strings.Cut(*freqStep, ":")
		var err1, err2 error
		stepAt, err1 = time.ParseDuration(at)
		stepPPM, err2 = strconv.ParseFloat(ppm, 64)
		if !ok || err1 != nil || err2 != nil || stepAt < 0 || math.IsNaN(stepPPM) || math.Abs(stepPPM) > 10000 {
			return fmt.Errorf("--freq-step %q: want AT:PPM, a time and a change within ±10000 ppm (e.g. 2h:10)", *freqStep)
		}
	}
	if *minSources < 1 {
		return fmt.Errorf("--minsources %d: want at least 1", *minSources)
	}
	if driftPPM != nil && math.Abs(*driftPPM) > 500 {
		return fmt.Errorf("--drift-ppm %v: a drift file holds at most ±500 ppm", *driftPPM)
	}
	if !(*driftSkew >= 0) || math.IsInf(*driftSkew, 0) {
		return fmt.Errorf("--drift-skew-ppm %v: want a non-negative number", *driftSkew)
	}
	dc := discipline.DefaultConfig()
	dc.Step, dc.Stepout, dc.Panic = *step, *stepout, *panicT
	switch *estimator {
	case "bounds":
	case "regression":
		dc.PlainRegression = true
	default:
		return fmt.Errorf("--estimator %q: want bounds or regression", *estimator)
	}
	sc := sim.Scenario{
		Duration:  *duration,
		StatsFrom: *statsFrom,
		Clock: sim.ClockConfig{
			Profile:     sim.Profile(*profile),
			StartOffset: *startOffset,
			FreqPPM:     *freqPPM,
			Wander:      *wander,
			FreqStepAt:  stepAt,
			FreqStepPPM: stepPPM,
		},
		Network: sim.NetworkConfig{
			Delay: *delay, JitterMean: *jitter, Loss: *loss,
			OutageUp: up, OutagePeriod: period,
		},
		Servers:        *servers,
		Falsetickers:   *falseT,
		ServerNoise:    *srvNoise,
		MinPoll:        *minPoll,
		MaxPoll:        *maxPoll,
		IBurst:         *iburst,
		MinSources:     *minSources,
		UpdateInterval: *updIv,
		UpdateDeadband: *updBand,
		Discipline:     &dc,
		Trace:          *trace != "",
	}
	if driftPPM != nil {
		sc.DriftFile = sim.DriftFileFor(*driftPPM, *driftSkew)
	}
	if *debug {
		sc.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var tw io.Writer
	if *trace != "" {
		f, err := os.Create(*trace)
		if err != nil {
			return err
		}
		defer f.Close()
		tw = f
		fmt.Fprintln(tw, "# seed t_seconds x_seconds freq_error_ppm")
	}
	out := output{Scenario: map[string]any{
		"duration_seconds": duration.Seconds(), "stats_from_seconds": statsFrom.Seconds(),
		"start_offset_seconds": startOffset.Seconds(), "freq_ppm": *freqPPM, "wander": *wander,
		"freq_step_at_seconds": stepAt.Seconds(), "freq_step_ppm": stepPPM,
		"delay_seconds": delay.Seconds(), "jitter_mean_seconds": jitter.Seconds(),
		"minpoll": *minPoll, "maxpoll": *maxPoll, "servers": *servers, "falsetickers": *falseT,
		"loss": *loss, "server_noise_seconds": srvNoise.Seconds(), "outage": *outage, "profile": *profile, "iburst": *iburst, "estimator": *estimator,
		"monotonic": "disciplined (Linux CLOCK_MONOTONIC)",
	}}
	if driftPPM != nil {
		out.Scenario["drift_file_ppm"] = *driftPPM
	}
	var all []sim.Stats
	for _, seed := range seedList {
		res, err := sim.Run(sc, seed)
		if err != nil {
			return fmt.Errorf("seed %d: %w", seed, err)
		}
		out.Runs = append(out.Runs, runStats{Seed: seed, Stats: res.Stats, Steps: res.Steps})
		all = append(all, res.Stats)
		if tw != nil {
			for k := range res.X {
				fmt.Fprintf(tw, "%d %d %.9f %.6f\n", seed, k, res.X[k], res.FreqPPM[k])
			}
		}
	}
	out.Summary = sim.Summarize(all)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printText(stdout, out)
	return nil
}

func printText(w io.Writer, out output) {
	fmt.Fprintf(w, "%6s %10s %10s %10s %10s %10s %10s %9s %9s %9s\n",
		"seed", "rms_us", "max_us", "p50_us", "p95_us", "p99_us", "mean_us", "rmsf_ppm", "first_s", "conv_s")
	for _, r := range out.Runs {
		s := r.Stats
		fmt.Fprintf(w, "%6d %10.1f %10.1f %10.1f %10.1f %10.1f %10.2f %9.4f %9.0f %9.0f\n", r.Seed,
			s.RMSOffset*1e6, s.MaxAbsOffset*1e6, s.P50AbsOffset*1e6, s.P95AbsOffset*1e6, s.P99AbsOffset*1e6,
			s.MeanOffset*1e6, s.RMSFreqError, s.FirstBelow1ms, s.Converged1ms)
	}
	m, lo, hi := out.Summary.Stats, out.Summary.Min, out.Summary.Max
	line := func(name string, f func(sim.Stats) float64, scale float64, unit string) {
		fmt.Fprintf(w, "%-22s %10.2f %s (%.2f .. %.2f)\n", name, f(m)*scale, unit, f(lo)*scale, f(hi)*scale)
	}
	fmt.Fprintf(w, "\nsummary over %d seed(s): mean (min .. max)\n", len(out.Runs))
	line("rms offset", func(s sim.Stats) float64 { return s.RMSOffset }, 1e6, "us")
	line("max abs offset", func(s sim.Stats) float64 { return s.MaxAbsOffset }, 1e6, "us")
	line("p50 abs offset", func(s sim.Stats) float64 { return s.P50AbsOffset }, 1e6, "us")
	line("p95 abs offset", func(s sim.Stats) float64 { return s.P95AbsOffset }, 1e6, "us")
	line("p99 abs offset", func(s sim.Stats) float64 { return s.P99AbsOffset }, 1e6, "us")
	line("mean offset", func(s sim.Stats) float64 { return s.MeanOffset }, 1e6, "us")
	line("rms frequency error", func(s sim.Stats) float64 { return s.RMSFreqError }, 1, "ppm")
	line("first below 1 ms", func(s sim.Stats) float64 { return s.FirstBelow1ms }, 1, "s")
	line("converged (< 1 ms)", func(s sim.Stats) float64 { return s.Converged1ms }, 1, "s")
}

// parseSeeds accepts "N", "N-M" and comma-separated lists of those.
func parseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--seeds %q: %q is not a seed", s, lo)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("--seeds %q: bad range %q", s, part)
			}
		}
		if b-a >= 100000 {
			return nil, fmt.Errorf("--seeds %q: too many seeds", s)
		}
		for v := a; v <= b; v++ {
			out = append(out, v)
		}
	}
	return out, nil
}

// parseOutage parses UP/PERIOD, each a duration or plain seconds.
func parseOutage(s string) (up, period time.Duration, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("--outage %q: want UP/PERIOD", s)
	}
	if up, err = parseSeconds(a); err != nil {
		return 0, 0, fmt.Errorf("--outage %q: %w", s, err)
	}
	if period, err = parseSeconds(b); err != nil {
		return 0, 0, fmt.Errorf("--outage %q: %w", s, err)
	}
	if period <= 0 || up < 0 || up > period {
		return 0, 0, fmt.Errorf("--outage %q: want 0 ≤ UP ≤ PERIOD, PERIOD > 0", s)
	}
	return up, period, nil
}

func parseSeconds(s string) (time.Duration, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(v * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}
