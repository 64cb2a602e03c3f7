package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/platform/osclock"
	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/once"
)

// serverList collects repeated --server flags.
type serverList []string

func (s *serverList) String() string     { return strings.Join(*s, ",") }
func (s *serverList) Set(v string) error { *s = append(*s, v); return nil }

// onceFlags are the flags of timesync --once.
type onceFlags struct {
	dryRun, jsonOut, verbose bool
	servers                  serverList
	configFile               string
	timeout                  time.Duration
}

func runOnce(args []string, stdout, stderr io.Writer) error {
	var f onceFlags
	fs := newFlagSet("timesync --once")
	fs.Bool("once", true, "sync once and exit")
	fs.BoolVar(&f.dryRun, "dry-run", false, "measure and report only; never change the clock")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as one JSON object")
	fs.BoolVar(&f.verbose, "verbose", false, "log what is being done to stderr")
	fs.Var(&f.servers, "server", "time server HOST[:PORT] (repeatable)")
	fs.StringVar(&f.configFile, "config", "", "configuration file to take servers and thresholds from")
	f.timeout = once.DefaultTimeout
	fs.Var(durationValue{&f.timeout}, "timeout", "how long to wait for the servers at most")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (servers are given with --server); see 'timesync help'", fs.Arg(0))
	}
	if f.timeout <= 0 {
		return usagef("--timeout must be positive, got %v; see 'timesync help'", f.timeout)
	}

	logLevel := slog.LevelError
	if f.verbose {
		logLevel = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))

	cfg, err := onceConfig(f)
	if err != nil {
		return err
	}
	cfg = cfg.Effective() // ports, maxsources, minsources made explicit
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	// Names get at most a part of the time: a resolver that does not
	// answer must not keep the servers given as addresses from being
	// asked.
	rctx, rcancel := context.WithTimeout(ctx, resolveBudget(f.timeout))
	servers, err := onceServers(rctx, f.servers, cfg)
	rcancel()
	if err != nil {
		return err
	}

	opt := once.Options{
		Servers:       servers,
		Timeout:       f.timeout,
		StepThreshold: cfg.Tinker.Step,
		MinSources:    cfg.MinSources,
	}
	if cfg.Tinker.Step == 0 {
		opt.StepThreshold = -1 // tinker step 0: never step (ntpd -x)
	}
	if !f.dryRun {
		d, err := newClockDriver()
		if err != nil {
			return fmt.Errorf("cannot use the system clock: %w", err)
		}
		if c, ok := d.(io.Closer); ok {
			// Gives the clock back to the OS (Windows' own adjustment).
			defer c.Close()
		}
		clk, err := platform.NewClock(d, platform.ClockOptions{Logger: logger})
		if err != nil {
			return fmt.Errorf("cannot use the system clock: %w", err)
		}
		opt.Clock = clk
	}

	res, runErr := once.Run(ctx, opt)
	if f.jsonOut {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printOnce(stdout, res, f.dryRun)
	}
	return runErr
}

// newClockDriver opens this OS's clock driver. Tests replace it with one
// that fails the test on any change, so no test can reach the real clock.
var newClockDriver = osclock.New

// systemConfigPath is the system configuration file; tests point it
// elsewhere so that they do not depend on this machine's /etc.
var systemConfigPath = config.DefaultPath

// onceConfig loads the configuration --once works from: --config FILE if
// given, else the system file if it exists, else the defaults. With
// --server the servers come from the flags, but the administrator's
// thresholds (tinker step, minsources) still apply. A file that exists but
// is invalid is an error: its line is named.
func onceConfig(f onceFlags) (*config.Config, error) {
	path := f.configFile
	if path == "" {
		path = systemConfigPath()
		if _, err := os.Stat(path); err != nil {
			return config.Default(), nil
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

// onceServers resolves what to query: the --server flags if any (one that
// is not HOST[:PORT] is a usage error), else the configuration's servers
// and pools. Names are resolved in parallel; a name that does not resolve
// becomes a source reported unreachable with the reason, and the run goes
// on with the others. An address reached twice (the same server named
// twice, or a pool member that is also a server) is queried once and
// votes once.
func onceServers(ctx context.Context, flags []string, cfg *config.Config) ([]once.Server, error) {
	type want struct {
		host   string
		port   int
		max    int
		prefer bool
	}
	var wants []want
	if len(flags) > 0 {
		for _, s := range flags {
			host, port, err := splitHostPort(s)
			if err != nil {
				return nil, usagef("--server %q: %v", s, err)
			}
			wants = append(wants, want{host, port, 1, false})
		}
	} else {
		for _, s := range cfg.Servers {
			wants = append(wants, want{s.Address, s.Port, 1, s.Prefer})
		}
		for _, p := range cfg.Pools {
			wants = append(wants, want{p.Name, p.Port, p.MaxSources, false})
		}
		if len(wants) == 0 {
			return nil, usagef("the configuration names no server or pool; name one with --server HOST[:PORT]")
		}
	}
	type answer struct {
		addrs []netip.Addr
		err   error
	}
	answers := make([]answer, len(wants))
	var wg sync.WaitGroup
	for i, w := range wants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i].addrs, answers[i].err = resolve(ctx, w.host, w.max)
		}()
	}
	wg.Wait()
	var out []once.Server
	seen := map[string]bool{}
	for i, w := range wants {
		if err := answers[i].err; err != nil {
			addr := net.JoinHostPort(w.host, strconv.Itoa(w.port))
			if !seen[addr] {
				seen[addr] = true
				out = append(out, once.Server{Address: addr, Name: w.host, Err: err})
			}
			continue
		}
		for _, a := range answers[i].addrs {
			s := server(w.host, w.port, a, w.prefer)
			if !seen[s.Address] {
				seen[s.Address] = true
				out = append(out, s)
			}
		}
	}
	return out, nil
}

func server(host string, port int, addr netip.Addr, prefer bool) once.Server {
	s := once.Server{Address: netip.AddrPortFrom(addr, uint16(port)).String(), Prefer: prefer}
	if _, err := netip.ParseAddr(host); err != nil {
		s.Name = host
	}
	return s
}

// splitHostPort parses HOST[:PORT], with IPv6 as [ADDR]:PORT or a bare
// ADDR; the port defaults to 123.
func splitHostPort(s string) (string, int, error) {
	if s == "" {
		return "", 0, errors.New("empty address")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), 123, nil // a bare IPv4 or IPv6 address
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		if err != nil {
			return "", 0, fmt.Errorf("not an IPv6 address in brackets: %v", err)
		}
		return a.String(), 123, nil
	}
	if strings.ContainsAny(s, "[]") && !strings.HasPrefix(s, "[") || strings.Count(s, "[") != strings.Count(s, "]") {
		return "", 0, errors.New("unbalanced brackets: write an IPv6 address as [ADDR] or [ADDR]:PORT")
	}
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") && !strings.ContainsAny(s, "[]") {
			return s, 123, nil
		}
		return "", 0, fmt.Errorf("not HOST[:PORT]: %v", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number from 1 to 65535", portStr)
	}
	if host == "" {
		return "", 0, errors.New("missing host")
	}
	return host, port, nil
}

// lookupNetIP resolves a host name; tests replace it so that they never
// send a DNS query.
var lookupNetIP = func(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// resolveBudget is how long name resolution may take within a run of
// timeout: half of it, at most 2 s.
func resolveBudget(timeout time.Duration) time.Duration {
	return min(timeout/2, 2*time.Second)
}

// resolve returns up to max addresses of host (an IP literal is itself).
func resolve(ctx context.Context, host string, max int) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	ips, err := lookupNetIP(ctx, host)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return nil, fmt.Errorf("cannot resolve %s: no such host", host)
		}
		if ctx.Err() != nil || errors.As(err, &dnsErr) && dnsErr.IsTimeout {
			return nil, fmt.Errorf("cannot resolve %s: no answer from the resolver in time", host)
		}
		if errors.As(err, &dnsErr) && dnsErr.Err != "" {
			return nil, fmt.Errorf("cannot resolve %s: %s", host, dnsErr.Err)
		}
		return nil, fmt.Errorf("cannot resolve %s: %v", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("cannot resolve %s: no addresses", host)
	}
	if max > 0 && len(ips) > max {
		ips = ips[:max]
	}
	for i := range ips {
		ips[i] = ips[i].Unmap()
	}
	return ips, nil
}

// printOnce writes the human table and the decision.
func printOnce(w io.Writer, res *once.Result, dryRun bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tSTATE\tOFFSET\tDELAY\tST\tREASON")
	for _, s := range res.Sources {
		name := s.Address
		if s.Name != "" {
			name = s.Name + " (" + s.Address + ")"
		}
		off, dly, st := "-", "-", "-"
		if s.Samples > 0 && s.Stratum > 0 {
			off = fmt.Sprintf("%+.6f s", s.Offset)
			dly = fmt.Sprintf("%.3f ms", s.Delay*1e3)
			st = strconv.Itoa(s.Stratum)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, s.State, off, dly, st, s.Reason)
	}
	tw.Flush()
	switch {
	case res.Action == once.ActionNone:
		// The error line on stderr says why.
	case dryRun:
		fmt.Fprintf(w, "offset %+.6f s: would %s the clock (dry run, nothing changed)\n", res.Offset, res.Action)
	case !res.Applied:
		// The error line on stderr says why.
	case res.Action == once.ActionStep:
		fmt.Fprintf(w, "clock stepped by %+.6f s\n", res.Offset)
	default:
		fmt.Fprintf(w, "clock slewing by %+.6f s (the kernel finishes it in %.0f s)\n", res.Offset, res.SlewSeconds)
	}
}
