// Command ntptestd runs one or more test NTP servers (internal/ntptest) on
// loopback addresses, for shell scripts, benchmarks and the VM test.
//
//	ntptestd -listen 127.0.0.11:12300 -offset 2.5s -delay 1ms -jitter 4ms
//	ntptestd -servers 4 -base 127.0.0.11 -port 12300 -offset 0.25s
//	ntptestd -listen 127.0.0.1:12300 -start 2036-02-07T06:28:10Z
//	ntptestd -listen 127.0.0.1:12300 -offset 100ms -rate-ppm 50
//
// It prints one line "listening ADDR" per server, then serves until SIGINT
// or SIGTERM. It refuses non-loopback addresses. It reads the real clock
// and never changes it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/timesync/timesync/internal/ntptest"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, stop))
}

// errUsage marks an error already explained by the flag package.
var errUsage = errors.New("usage")

// run is main without the process: it returns the exit code (0 after a
// clean stop, 2 for bad flags or addresses, 1 if a server cannot start).
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	addrs, cfgs, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "ntptestd: %v\n", err)
		}
		return 2
	}
	var servers []*ntptest.Server
	defer func() {
		for _, s := range servers {
			s.Close()
			fmt.Fprintf(stderr, "ntptestd: %s: %d requests, %d dropped, %d replies\n",
				s.Addr(), s.Requests(), s.Dropped(), s.Replies())
		}
	}()
	for i, addr := range addrs {
		s, err := ntptest.Start(addr, cfgs[i])
		if err != nil {
			fmt.Fprintf(stderr, "ntptestd: %v\n", err)
			return 1
		}
		servers = append(servers, s)
		fmt.Fprintf(stdout, "listening %s\n", s.Addr())
	}
	<-stop
	return 0
}

// parse turns the command line into listen addresses and one Config each.
func parse(args []string, stderr io.Writer) ([]string, []ntptest.Config, error) {
	fs := flag.NewFlagSet("ntptestd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen     = fs.String("listen", "127.0.0.11:12300", "listen address of a single server (loopback only)")
		servers    = fs.Int("servers", 1, "number of servers, on consecutive addresses from -base")
		base       = fs.String("base", "127.0.0.11", "first address for -servers (loopback only)")
		port       = fs.Int("port", 12300, "UDP port for -servers (0: a free port each)")
		offsets    = fs.String("offset", "0s", "served time minus true time (2.5s, -100ms, or seconds as 0.25); a comma list gives one per server")
		delay      = fs.Duration("delay", 0, "added latency on each leg")
		delayOut   = fs.Duration("delay-out", 0, "added latency client→server (overrides -delay)")
		delayBack  = fs.Duration("delay-back", 0, "added latency server→client (overrides -delay)")
		jitter     = fs.Duration("jitter", 0, "extra random latency on each leg (uniform 0..J, or exponential mean J)")
		jitterOut  = fs.Duration("jitter-out", 0, "extra random latency client→server (overrides -jitter)")
		jitterBack = fs.Duration("jitter-back", 0, "extra random latency server→client (overrides -jitter)")
		jitterDist = fs.String("jitter-dist", "uniform", "jitter distribution: uniform or exponential")
		loss       = fs.Float64("loss", 0, "probability of dropping a request, 0..1")
		stratum    = fs.Uint("stratum", 1, "stratum served (1..16)")
		leap       = fs.Uint("leap", 0, "leap indicator: 0 none, 1 insert, 2 delete, 3 alarm")
		refid      = fs.String("refid", "", "reference ID: up to 4 ASCII characters or an IPv4 address (default LOCL)")
		precision  = fs.Int("precision", -20, "log2 of clock precision in seconds")
		rootDelay  = fs.Duration("root-delay", 0, "root delay served")
		rootDisp   = fs.Duration("root-dispersion", 0, "root dispersion served")
		kiss       = fs.String("kiss", "", "answer every request with this kiss-o'-death code (DENY, RSTR, RATE)")
		malformed  = fs.String("malformed", "", "answer with a broken packet: short, badmode, wrongorigin, zerotransmit, backwards, garbage")
		startAt    = fs.String("start", "", "serve this RFC 3339 time at startup, advancing with real time (era tests)")
		ratePPM    = fs.Float64("rate-ppm", 0, "the served clock runs this many ppm fast (negative: slow) against the real monotonic clock")
		seed       = fs.Int64("seed", 1, "random seed for jitter and loss (server i uses seed+i)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, err
		}
		return nil, nil, errUsage
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var addrs []string
	if set["servers"] || set["base"] || set["port"] {
		if set["listen"] {
			return nil, nil, errors.New("-listen cannot be combined with -servers/-base/-port")
		}
		if *servers < 1 || *servers > 200 {
			return nil, nil, fmt.Errorf("-servers %d: want 1..200", *servers)
		}
		if *port < 0 || *port > 65535 {
			return nil, nil, fmt.Errorf("-port %d: want 0..65535", *port)
		}
		var err error
		if addrs, err = ntptest.Consecutive(*base, *port, *servers); err != nil {
			return nil, nil, err
		}
	} else {
		addrs = []string{*listen}
	}
	for _, a := range addrs {
		if _, err := ntptest.CheckLoopback(a); err != nil {
			return nil, nil, err
		}
	}

	offs, err := parseOffsets(*offsets, len(addrs))
	if err != nil {
		return nil, nil, err
	}
	cfg := ntptest.Config{
		DelayOut:       *delay,
		DelayBack:      *delay,
		JitterOut:      *jitter,
		JitterBack:     *jitter,
		Loss:           *loss,
		Precision:      int8(*precision),
		RootDelay:      *rootDelay,
		RootDispersion: *rootDisp,
		Kiss:           strings.ToUpper(*kiss),
	}
	if set["delay-out"] {
		cfg.DelayOut = *delayOut
	}
	if set["delay-back"] {
		cfg.DelayBack = *delayBack
	}
	if set["jitter-out"] {
		cfg.JitterOut = *jitterOut
	}
	if set["jitter-back"] {
		cfg.JitterBack = *jitterBack
	}
	for name, d := range map[string]time.Duration{"delay-out": cfg.DelayOut, "delay-back": cfg.DelayBack,
		"jitter-out": cfg.JitterOut, "jitter-back": cfg.JitterBack, "root-delay": cfg.RootDelay, "root-dispersion": cfg.RootDispersion} {
		if d < 0 {
			return nil, nil, fmt.Errorf("-%s %v: must not be negative", name, d)
		}
	}
	if cfg.JitterDist, err = ntptest.ParseJitterDist(*jitterDist); err != nil {
		return nil, nil, err
	}
	if *loss < 0 || *loss > 1 {
		return nil, nil, fmt.Errorf("-loss %v: want 0..1", *loss)
	}
	if *stratum < 1 || *stratum > 16 {
		return nil, nil, fmt.Errorf("-stratum %d: want 1..16 (use -kiss for stratum 0)", *stratum)
	}
	cfg.Stratum = uint8(*stratum)
	if *leap > 3 {
		return nil, nil, fmt.Errorf("-leap %d: want 0..3", *leap)
	}
	cfg.Leap = uint8(*leap)
	if *precision < -32 || *precision > 0 {
		return nil, nil, fmt.Errorf("-precision %d: want -32..0", *precision)
	}
	if len(cfg.Kiss) > 4 {
		return nil, nil, fmt.Errorf("-kiss %q: a kiss code has at most 4 characters", *kiss)
	}
	if cfg.RefID, err = parseRefID(*refid); err != nil {
		return nil, nil, err
	}
	if cfg.Malformed, err = ntptest.ParseMalformed(*malformed); err != nil {
		return nil, nil, err
	}
	if *startAt != "" {
		t, err := time.Parse(time.RFC3339Nano, *startAt)
		if err != nil {
			return nil, nil, fmt.Errorf("-start: %w", err)
		}
		cfg.Now = ntptest.StartingAt(t)
	}
	if set["rate-ppm"] {
		if *ratePPM < -100000 || *ratePPM > 100000 {
			return nil, nil, fmt.Errorf("-rate-ppm %v: want -100000..100000", *ratePPM)
		}
		start := time.Now()
		if *startAt != "" {
			start = cfg.Now()
		}
		cfg.Now = ntptest.AtRate(start, *ratePPM)
	}

	cfgs := make([]ntptest.Config, len(addrs))
	for i := range addrs {
		cfgs[i] = cfg
		cfgs[i].Offset = offs[i]
		cfgs[i].Seed = *seed + int64(i)
	}
	return addrs, cfgs, nil
}

// parseOffsets reads one offset for all n servers, or exactly n offsets.
func parseOffsets(s string, n int) ([]time.Duration, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 1 && len(parts) != n {
		return nil, fmt.Errorf("-offset %q: %d values for %d servers (give one, or one per server)", s, len(parts), n)
	}
	offs := make([]time.Duration, n)
	for i := range offs {
		p := strings.TrimSpace(parts[min(i, len(parts)-1)])
		d, err := time.ParseDuration(p)
		if err != nil {
			sec, ferr := strconv.ParseFloat(p, 64)
			if ferr != nil {
				return nil, fmt.Errorf("-offset %q: want a duration such as 2.5s or seconds such as 0.25", p)
			}
			d = time.Duration(sec * float64(time.Second))
		}
		offs[i] = d
	}
	return offs, nil
}

// parseRefID accepts "" (default), an IPv4 address or up to 4 ASCII characters.
func parseRefID(s string) (uint32, error) {
	if s == "" {
		return 0, nil
	}
	if ip := net.ParseIP(s).To4(); ip != nil {
		return uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3]), nil
	}
	if len(s) > 4 {
		return 0, fmt.Errorf("-refid %q: want an IPv4 address or at most 4 characters", s)
	}
	return ntptest.RefIDFromString(s), nil
}
