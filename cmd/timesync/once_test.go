package main

// End-to-end tests of timesync --once against the project's own test NTP
// servers on loopback. Every run here is --dry-run: the real clock is only
// read, never changed.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timesync/timesync/internal/ntptest"
)

// startServers starts one test server per config, each on its own
// loopback address (127.0.<base>.1, .2, …) and an ephemeral port.
func startServers(t *testing.T, base int, cfgs ...ntptest.Config) []string {
	t.Helper()
	var addrs []string
	for i, cfg := range cfgs {
		ip := netip.AddrFrom4([4]byte{127, 0, byte(base), byte(i + 1)})
		s, err := ntptest.Start(netip.AddrPortFrom(ip, 0).String(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		addrs = append(addrs, s.Addr())
	}
	return addrs
}

type cliResult struct {
	code           int
	stdout, stderr string
}

func runCLI(args ...string) cliResult {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return cliResult{code, out.String(), errb.String()}
}

func onceArgs(addrs []string, extra ...string) []string {
	args := append([]string{"--once", "--dry-run"}, extra...)
	for _, a := range addrs {
		args = append(args, "--server", a)
	}
	return args
}

// onceJSON mirrors the --once --json contract of DESIGN.md.
type onceJSON struct {
	Offset  *float64 `json:"offset_seconds"`
	Delay   *float64 `json:"delay_seconds"`
	Action  string   `json:"action"`
	Applied *bool    `json:"applied"`
	Sources []struct {
		Address string   `json:"address"`
		State   string   `json:"state"`
		Offset  *float64 `json:"offset_seconds"`
		Delay   *float64 `json:"delay_seconds"`
		Stratum *int     `json:"stratum"`
		Reason  *string  `json:"reason"`
	} `json:"sources"`
}

func decode(t *testing.T, r cliResult) onceJSON {
	t.Helper()
	var j onceJSON
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
		t.Fatal(err)
	}
	if j.Offset == nil || j.Delay == nil || j.Applied == nil || j.Action == "" || j.Sources == nil {
		t.Fatalf("missing contract fields in %s", r.stdout)
	}
	for _, s := range j.Sources {
		if s.Address == "" || s.State == "" || s.Offset == nil || s.Delay == nil || s.Stratum == nil || s.Reason == nil {
			t.Fatalf("source lacks contract fields: %s", r.stdout)
		}
	}
	return j
}

func TestOnceMeasuresServedOffset(t *testing.T) {
	const served = 2.5003
	addrs := startServers(t, 31, ntptest.Config{Offset: time.Duration(served * 1e9), Stratum: 2, DelayOut: time.Millisecond, DelayBack: time.Millisecond})
	r := runCLI(onceArgs(addrs, "--json")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	j := decode(t, r)
	if e := math.Abs(*j.Offset - served); e > 0.001 {
		t.Errorf("offset_seconds %.6f, want %.6f within 1 ms (error %.6f)", *j.Offset, served, e)
	}
	if j.Action != "step" || *j.Applied {
		t.Errorf("action %q applied %v, want step, false", j.Action, *j.Applied)
	}
	if s := j.Sources[0]; s.State != "selected" || *s.Stratum != 2 || s.Address != addrs[0] {
		t.Errorf("source %+v, want selected, stratum 2, %s", s, addrs[0])
	}
	if *j.Delay < 0.002 || *j.Delay > 0.050 {
		t.Errorf("delay_seconds %.6f, want about 2 ms", *j.Delay)
	}
}

func TestOnceFalsetickerAmongFive(t *testing.T) {
	good := ntptest.Config{Offset: 100 * time.Millisecond, Stratum: 2, DelayOut: time.Millisecond, DelayBack: time.Millisecond, JitterOut: 500 * time.Microsecond, JitterBack: 500 * time.Microsecond}
	bad := good
	bad.Offset = 3100 * time.Millisecond
	addrs := startServers(t, 32, good, good, bad, good, good)
	r := runCLI(onceArgs(addrs, "--json")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	j := decode(t, r)
	for i, s := range j.Sources {
		want := "selected"
		if i == 2 {
			want = "falseticker"
		}
		if s.State != want {
			t.Errorf("%s: state %s, want %s (%s)", s.Address, s.State, want, *s.Reason)
		}
		if want == "falseticker" && *s.Reason == "" {
			t.Errorf("falseticker without a reason")
		}
	}
	if e := math.Abs(*j.Offset - 0.1); e > 0.002 {
		t.Errorf("offset %.6f, want 0.1 within 2 ms: the falseticker leaked in", *j.Offset)
	}
	if j.Action != "slew" {
		t.Errorf("action %s, want slew", j.Action)
	}
}

func TestOnceKissOfDeathDeny(t *testing.T) {
	addrs := startServers(t, 33, ntptest.Config{Offset: 10 * time.Millisecond}, ntptest.Config{Kiss: "DENY"})
	r := runCLI(onceArgs(addrs, "--json")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	j := decode(t, r)
	if s := j.Sources[1]; s.State != "kod" || !strings.Contains(*s.Reason, "DENY") {
		t.Errorf("DENY server: state %s reason %q, want kod naming DENY", s.State, *s.Reason)
	}
	if j.Sources[0].State != "selected" {
		t.Errorf("good server: %s", j.Sources[0].State)
	}
}

func TestOnceAllUnreachable(t *testing.T) {
	addrs := startServers(t, 34, ntptest.Config{Loss: 1}, ntptest.Config{Loss: 1})
	start := time.Now()
	r := runCLI(onceArgs(addrs, "--timeout", "1500ms")...)
	took := time.Since(start)
	if r.code == 0 {
		t.Fatalf("exit 0 with no reachable server:\n%s", r.stdout)
	}
	if took > 3*time.Second {
		t.Errorf("took %v with --timeout 1.5s", took)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "unreachable") {
		t.Errorf("stderr %q, want one clear line naming the servers unreachable", r.stderr)
	}
}

func TestOnceIgnoresMalformed(t *testing.T) {
	addrs := startServers(t, 35, ntptest.Config{Offset: -700 * time.Millisecond}, ntptest.Config{Malformed: ntptest.MalformedKinds()[0]})
	r := runCLI(onceArgs(addrs, "--json")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	j := decode(t, r)
	if j.Sources[1].State != "invalid" {
		t.Errorf("malformed server: state %s, want invalid", j.Sources[1].State)
	}
	if e := math.Abs(*j.Offset + 0.7); e > 0.001 {
		t.Errorf("offset %.6f, want -0.7", *j.Offset)
	}
}

func TestOnceMalformedKinds(t *testing.T) {
	for _, k := range ntptest.MalformedKinds() {
		t.Run(k.String(), func(t *testing.T) {
			addrs := startServers(t, 36, ntptest.Config{Malformed: k})
			r := runCLI(onceArgs(addrs, "--json", "--timeout", "1s")...)
			if r.code == 0 {
				t.Fatalf("accepted a %s reply: %s", k, r.stdout)
			}
			if src := decode(t, r).Sources[0]; src.State != "invalid" || *src.Reason == "" {
				t.Errorf("state %s (%s), want invalid with a reason", src.State, *src.Reason)
			}
		})
	}
}

// A server past the NTP era rollover (2036-02-07 06:28:16 UTC) sends
// timestamps whose 32-bit seconds have wrapped; the offset must still be
// the true one, about +9.2 years.
func TestOnceAcrossEraRollover(t *testing.T) {
	start := time.Date(2036, 2, 7, 6, 28, 20, 0, time.UTC)
	t0 := time.Now()
	addrs := startServers(t, 37, ntptest.Config{Now: ntptest.StartingAt(start)})
	want := start.Sub(t0).Seconds()
	r := runCLI(onceArgs(addrs, "--json")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := *decode(t, r).Offset; math.Abs(got-want) > 0.005 {
		t.Errorf("offset %.6f s, want %.6f s", got, want)
	}
}

func TestOnceHumanOutput(t *testing.T) {
	addrs := startServers(t, 38, ntptest.Config{Offset: 2 * time.Second})
	r := runCLI(onceArgs(addrs)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"SERVER", "STATE", addrs[0], "selected", "would step the clock (dry run"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestOnceFromConfigFile(t *testing.T) {
	addrs := startServers(t, 39, ntptest.Config{Offset: 50 * time.Millisecond})
	dir := t.TempDir()
	conf := filepath.Join(dir, "timesync.conf")
	body := "# test\nserver " + addrs[0] + " iburst\ntinker step 0.01\n"
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI("--once", "--dry-run", "--json", "--config", conf)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if j := decode(t, r); j.Action != "step" {
		t.Errorf("action %s, want step: tinker step 0.01 makes 50 ms a step", j.Action)
	}
}

func TestOnceBadInput(t *testing.T) {
	dir := t.TempDir()
	badConf := filepath.Join(dir, "bad.conf")
	os.WriteFile(badConf, []byte("server 127.0.0.1\nfrobnicate yes\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad port", []string{"--once", "--dry-run", "--server", "127.0.0.1:99999"}, "port"},
		{"port not a number", []string{"--once", "--dry-run", "--server", "127.0.0.1:ntp2"}, "port"},
		{"negative timeout", []string{"--once", "--dry-run", "--server", "127.0.0.1", "--timeout", "-1s"}, "timeout"},
		{"unknown flag", []string{"--once", "--frobnicate"}, "frobnicate"},
		{"bad config line", []string{"--once", "--dry-run", "--config", badConf}, "bad.conf:2"},
		{"missing config", []string{"--once", "--dry-run", "--config", filepath.Join(dir, "nope.conf")}, "nope.conf"},
		{"unbalanced bracket", []string{"--once", "--dry-run", "--server", "[::1"}, "brackets"},
		{"unbalanced bracket with port", []string{"--once", "--dry-run", "--server", "::1]:123"}, "brackets"},
		{"timeout without unit", []string{"--once", "--dry-run", "--server", "127.0.0.1", "--timeout", "10"}, "--timeout \"10\": a duration needs a unit, e.g. 10s"},
		{"flag needs value", []string{"--once", "--dry-run", "--server"}, "--server needs a value; see 'timesync help'"},
		{"unknown flag named with dashes", []string{"--once", "-frobnicate"}, "unknown flag --frobnicate; see 'timesync help'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(tc.args...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d", r.code, exitUsage)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("stderr %q, want one line mentioning %q", r.stderr, tc.want)
			}
		})
	}
}

// Tests never ask a real DNS server: names resolve through this table.
func init() {
	lookupNetIP = func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host == "localhost" {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		if host == "slow.test" { // a resolver that never answers
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
}

// Without --dry-run the CLI goes to the clock driver; in tests that is the
// forbidding stand-in, so this proves the guard is wired, and that a run
// without --dry-run really asks for the step it measured.
func TestOnceWithoutDryRunReachesDriver(t *testing.T) {
	addrs := startServers(t, 40, ntptest.Config{Offset: time.Hour})
	attempted = ""
	defer func() {
		if recover() == nil {
			t.Error("a run without --dry-run did not reach the clock driver")
		}
		if !strings.HasPrefix(attempted, "step the clock by +3600.00") {
			t.Errorf("attempted %q, want a step of +3600 s", attempted)
		}
	}()
	runCLI("--once", "--server", addrs[0])
}

// The same server named twice is queried once and votes once.
func TestOnceDuplicateServers(t *testing.T) {
	ip := netip.MustParseAddr("127.0.41.1")
	s, err := ntptest.Start(netip.AddrPortFrom(ip, 0).String(), ntptest.Config{Offset: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := runCLI(onceArgs([]string{s.Addr(), s.Addr()}, "--json")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if j := decode(t, r); len(j.Sources) != 1 {
		t.Errorf("%d sources, want 1", len(j.Sources))
	}
	if n := s.Requests(); n > 4 {
		t.Errorf("%d requests to one server, want at most 4", n)
	}
}

// closedPort returns a loopback UDP address where nothing listens, so a
// request there is answered with ICMP port unreachable.
func closedPort(t *testing.T, ip string) string {
	t.Helper()
	c, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// The scenario on real sockets: three good servers among an
// unsynchronized one, one answering INIT, a refused port and a silent one.
// The run must not wait for the timeout (30 s here, so the bound below is
// about behaviour, not speed), and no server that answered may get more
// than its first burst of 4.
func TestOnceMixedServersDoNotWait(t *testing.T) {
	good := ntptest.Config{Offset: 30 * time.Millisecond, Stratum: 2, DelayOut: 500 * time.Microsecond, DelayBack: 500 * time.Microsecond}
	for _, tc := range []struct {
		name     string
		withGood bool
	}{{"three good among unusable", true}, {"only unusable", false}} {
		t.Run(tc.name, func(t *testing.T) {
			cfgs := []ntptest.Config{
				{Stratum: 16, Leap: 3},
				{Kiss: "INIT"},
				{Loss: 1},
			}
			if tc.withGood {
				cfgs = append(cfgs, good, good, good)
			}
			base := 50
			if !tc.withGood {
				base = 51
			}
			var servers []*ntptest.Server
			var addrs []string
			for i, cfg := range cfgs {
				ip := netip.AddrFrom4([4]byte{127, 0, byte(base), byte(i + 1)})
				s, err := ntptest.Start(netip.AddrPortFrom(ip, 0).String(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				servers = append(servers, s)
				addrs = append(addrs, s.Addr())
			}
			addrs = append(addrs, closedPort(t, fmt.Sprintf("127.0.%d.99", base)))
			start := time.Now()
			r := runCLI(onceArgs(addrs, "--json", "--timeout", "30s")...)
			took := time.Since(start)
			t.Logf("%s: --once took %v", tc.name, took.Round(time.Millisecond))
			if took > 10*time.Second {
				t.Errorf("took %v of a 30 s timeout: it waited for servers that could not change the outcome", took)
			}
			for i, s := range servers {
				if i == 2 {
					continue // the silent one: its retries are bounded by the grace
				}
				if n := s.Requests(); n > 4 {
					t.Errorf("%s answered and got %d requests, want at most 4", addrs[i], n)
				}
			}
			if tc.withGood {
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				if j := decode(t, r); math.Abs(*j.Offset-0.030) > 0.005 {
					t.Errorf("offset %.6f, want 0.030", *j.Offset)
				}
				return
			}
			if r.code != exitFail {
				t.Errorf("exit %d, want %d", r.code, exitFail)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "none of the 4 servers") {
				t.Errorf("stderr %q, want one line summing up the 4 servers", r.stderr)
			}
			j := decode(t, r)
			want := []struct{ state, reason string }{
				{"invalid", "not synchronized"},
				{"kod", "server not synchronized yet (INIT)"},
				{"unreachable", "no reply"},
				{"unreachable", "port unreachable"},
			}
			for i, w := range want {
				if s := j.Sources[i]; s.State != w.state || !strings.Contains(*s.Reason, w.reason) {
					t.Errorf("%s: %s %q, want %s saying %q", s.Address, s.State, *s.Reason, w.state, w.reason)
				}
			}
		})
	}
}

// A name that does not resolve is an unreachable source, not bad input:
// the run goes on with the other servers.
func TestOnceUnresolvableNameIsUnreachable(t *testing.T) {
	addrs := startServers(t, 52, ntptest.Config{Offset: 20 * time.Millisecond, Stratum: 2})
	r := runCLI(onceArgs(append(addrs, "no-such-host.invalid"), "--json")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	j := decode(t, r)
	if s := j.Sources[1]; s.State != "unreachable" || !strings.Contains(*s.Reason, "cannot resolve no-such-host.invalid") {
		t.Errorf("unresolvable source %s: %s %q, want unreachable, cannot resolve", s.Address, s.State, *s.Reason)
	}
	// Alone, it is a failure to find the time (exit 1), not bad input.
	r = runCLI("--once", "--dry-run", "--server", "no-such-host.invalid")
	if r.code != exitFail || !strings.Contains(r.stderr, "cannot resolve") {
		t.Errorf("exit %d, stderr %q; want %d naming the name", r.code, r.stderr, exitFail)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := runCLI(args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "timesync ") || !strings.Contains(r.stdout, "commit ") || !strings.Contains(r.stdout, "go1.") {
			t.Errorf("%v: exit %d, %q; want version, commit and Go version", args, r.code, r.stdout)
		}
	}
	version, commit = "1.2.3", "abc1234"
	defer func() { version, commit = "", "" }()
	if r := runCLI("--version"); !strings.HasPrefix(r.stdout, "timesync 1.2.3 (commit abc1234, go") {
		t.Errorf("stamped build: %q", r.stdout)
	}
}

// A resolver that does not answer costs at most resolveBudget: the servers
// given as addresses are still asked, and the name is reported unreachable.
func TestOnceSlowResolverDoesNotSinkTheRun(t *testing.T) {
	addrs := startServers(t, 53, ntptest.Config{Offset: 20 * time.Millisecond, Stratum: 2})
	r := runCLI(onceArgs(append(addrs, "slow.test"), "--json", "--timeout", "30s")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	j := decode(t, r)
	if s := j.Sources[0]; s.State != "selected" {
		t.Errorf("server given by address: %s %q, want selected", s.State, *s.Reason)
	}
	if s := j.Sources[1]; s.State != "unreachable" || !strings.Contains(*s.Reason, "cannot resolve slow.test: no answer from the resolver in time") {
		t.Errorf("slow name: %s %q, want unreachable, no answer from the resolver", s.State, *s.Reason)
	}
}
