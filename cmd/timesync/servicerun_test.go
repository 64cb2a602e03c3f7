//go:build unix

package main

// End-to-end tests of "timesync service run" and the client commands,
// each side a real process: the test binary re-executes itself as the
// timesync command (see TestMain), so the guard that forbids any change
// of the real clock (guard_test.go) is in force in the service too.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/timesync/timesync/internal/ntptest"
	"github.com/timesync/timesync/internal/syncbuf"
	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/control/client"
)

var soak = flag.Duration("timesync.soak", 30*time.Second, "how long the concurrent-clients test runs (the issue's figure; at most 5s with -short)")

// binary is this test binary, copied where uid 65534 may run it.
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func commandBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		self, err := os.Executable()
		if err != nil {
			binErr = err
			return
		}
		dir, err := os.MkdirTemp("", "timesync-bin-")
		if err != nil {
			binErr = err
			return
		}
		os.Chmod(dir, 0o755)
		binPath = filepath.Join(dir, "timesync")
		data, err := os.ReadFile(self)
		if err == nil {
			err = os.WriteFile(binPath, data, 0o755)
		}
		binErr = err
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// needRoot skips a test that changes settings through the control API:
// only root (or the control group) may, and the test process is the
// client.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("changing settings through the control API needs root; run the tests as root")
	}
}

// publicDir returns a fresh directory every user may enter (t.TempDir's
// are private to root), removed at the end of the test.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "timesync-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// command returns the timesync command with args; asNobody runs it as
// uid/gid 65534.
func command(t *testing.T, asNobody bool, args ...string) *exec.Cmd {
	cmd := exec.Command(commandBinary(t), args...)
	cmd.Env = append(os.Environ(), reexecEnv+"=1")
	if asNobody {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	return cmd
}

type result struct {
	code           int
	stdout, stderr string
}

func runCommand(t *testing.T, asNobody bool, args ...string) result {
	t.Helper()
	cmd := command(t, asNobody, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil && asNobody {
		t.Skipf("cannot run a process as uid 65534 here: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// runningService is a running "timesync service run --dry-run".
type runningService struct {
	cmd    *exec.Cmd
	socket string
	config string
	log    *syncbuf.Buffer
	done   chan error
}

// serviceExtraFiles are descriptors the next startService passes on (a
// test that the engine inherits none of them).
var serviceExtraFiles []*os.File

// startService writes text as the configuration and runs the service on
// it, returning once the control API answers.
func startService(t *testing.T, text string, extra ...string) *runningService {
	t.Helper()
	dir := publicDir(t)
	s := &runningService{socket: filepath.Join(dir, "run", "control.sock"), config: filepath.Join(dir, "timesync.conf"), log: &syncbuf.Buffer{}, done: make(chan error, 1)}
	if err := os.WriteFile(s.config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"service", "run", "--config", s.config, "--socket", s.socket}, extra...)
	if len(extra) == 0 {
		args = append(args, "--dry-run")
	}
	s.cmd = command(t, false, args...)
	s.cmd.Stderr = s.log
	s.cmd.ExtraFiles = serviceExtraFiles
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("service log:\n%s", s.log.String())
		}
	})
	c := client.New(s.socket)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := c.Status(context.Background()); err == nil {
			return s
		}
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("service exited before answering: %v\n%s", err, s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("service did not answer within 10 s\n%s", s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *runningService) running() bool {
	select {
	case err := <-s.done:
		s.done <- err
		return false
	default:
		return true
	}
}

func serverConf(addrs ...string) string {
	var b strings.Builder
	b.WriteString("# test servers\n")
	for _, a := range addrs {
		b.WriteString("server " + a + " iburst minpoll 3 maxpoll 3\n")
	}
	return b.String()
}

// statusJSON runs "timesync status --json" and decodes it.
func statusJSON(t *testing.T, socket string, asNobody bool) map[string]any {
	t.Helper()
	r := runCommand(t, asNobody, "status", "--json", "--socket", socket)
	if r.code != 0 {
		t.Fatalf("status --json: exit %d: %s", r.code, r.stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, r.stdout)
	}
	return m
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServiceRunReportsOffsetAndSources(t *testing.T) {
	cfg := ntptest.Config{Offset: 250 * time.Millisecond, Stratum: 1}
	addrs := startServers(t, 50, cfg, cfg, cfg)
	s := startService(t, serverConf(addrs...))
	var st map[string]any
	waitFor(t, "the first clock update", func() bool {
		st = statusJSON(t, s.socket, false)
		return st["last_sync"] != nil
	})
	// The first update found the servers' offset. (The dry run measures
	// with user-space timestamps, against its virtual clock: ±20 ms
	// leaves room for a loaded machine.)
	if off := st["offset_seconds"].(float64); math.Abs(off-0.25) > 0.02 {
		t.Errorf("offset_seconds %.6f, want 0.250 ± 0.02", off)
	}
	if _, err := time.Parse(time.RFC3339, st["last_sync"].(string)); err != nil {
		t.Errorf("last_sync %q is not RFC 3339", st["last_sync"])
	}
	for _, k := range []string{"state", "frequency_ppm", "reference", "stratum", "sources", "dry_run"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status --json lacks %q", k)
		}
	}
	// The dry run stepped its virtual clock by that offset: the next
	// update finds it synchronized to the servers.
	waitFor(t, "a second update", func() bool {
		st = statusJSON(t, s.socket, false)
		return st["updates"].(float64) >= 2
	})
	// And it says how far it would have moved the real clock.
	if c, ok := st["dry_run_correction_seconds"].(float64); !ok || math.Abs(c-0.25) > 0.02 {
		t.Errorf("dry_run_correction_seconds %v, want 0.250 ± 0.02", st["dry_run_correction_seconds"])
	}
	srcs := st["sources"].([]any)
	if len(srcs) != 3 {
		t.Fatalf("%d sources, want 3", len(srcs))
	}
	for i, x := range srcs {
		src := x.(map[string]any)
		if src["address"] != addrs[i] {
			t.Errorf("source %d address %v, want %s", i, src["address"], addrs[i])
		}
		for _, k := range []string{"state", "offset_seconds", "delay_seconds", "stratum", "reason", "poll_seconds", "reach"} {
			if _, ok := src[k]; !ok {
				t.Errorf("source %d lacks %q", i, k)
			}
		}
		if src["state"] != "selected" || src["reach"].(float64) == 0 || src["stratum"].(float64) != 1 || src["poll_seconds"].(float64) <= 0 {
			t.Errorf("source %d: %v", i, src)
		}
		if off := src["offset_seconds"].(float64); math.Abs(off) > 0.02 {
			t.Errorf("source %d offset %.6f after the virtual step, want 0 ± 0.02", i, off)
		}
	}
	if ref := st["reference"].(string); !slices.Contains(addrs, ref) {
		t.Errorf("reference %q is none of the servers", ref)
	}
	// The human forms.
	r := runCommand(t, false, "sources", "--socket", s.socket)
	if r.code != 0 || !strings.Contains(r.stdout, addrs[0]) || !strings.Contains(r.stdout, "REACH") {
		t.Errorf("sources: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCommand(t, false, "status", "--socket", s.socket)
	if r.code != 0 || !strings.Contains(r.stdout, "Reference") || !strings.Contains(r.stdout, "dry run") {
		t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestServersAddRootAndNobody(t *testing.T) {
	cfg := ntptest.Config{Offset: 10 * time.Millisecond, Stratum: 1}
	addrs := startServers(t, 51, cfg, cfg, cfg)
	needRoot(t)
	s := startService(t, serverConf(addrs[:2]...))
	count := func(asNobody bool) int { return len(statusJSON(t, s.socket, asNobody)["sources"].([]any)) }

	{
		before, _ := os.ReadFile(s.config)
		r := runCommand(t, true, "servers", "add", addrs[2], "iburst", "--socket", s.socket)
		if r.code != 1 || !strings.Contains(r.stderr, "permission denied") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("servers add as uid 65534: exit %d, stderr %q; want 1 and one line saying permission denied", r.code, r.stderr)
		}
		after, _ := os.ReadFile(s.config)
		if !bytes.Equal(before, after) {
			t.Errorf("the file changed after a refused add:\n%s", after)
		}
		if n := count(true); n != 2 { // status works for uid 65534
			t.Errorf("after a refused add: %d sources, want 2", n)
		}
		r = runCommand(t, true, "sources", "--socket", s.socket)
		if r.code != 0 {
			t.Errorf("sources as uid 65534: exit %d %s", r.code, r.stderr)
		}
	}

	r := runCommand(t, false, "servers", "add", addrs[2], "iburst", "minpoll", "3", "maxpoll", "3", "--socket", s.socket)
	if r.code != 0 || !strings.Contains(r.stdout, addrs[2]) {
		t.Fatalf("servers add: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	data, _ := os.ReadFile(s.config)
	if !strings.Contains(string(data), "server "+addrs[2]+" iburst minpoll 3 maxpoll 3") || !strings.HasPrefix(string(data), "# test servers\n") {
		t.Errorf("file after add:\n%s", data)
	}
	waitFor(t, "the added server to answer", func() bool {
		for _, x := range statusJSON(t, s.socket, false)["sources"].([]any) {
			if src := x.(map[string]any); src["address"] == addrs[2] && src["reach"].(float64) != 0 {
				return true
			}
		}
		return false
	})
	r = runCommand(t, false, "servers", "list", "--json", "--socket", s.socket)
	var list control.Servers
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Servers) != 3 {
		t.Errorf("servers list --json: %v %s", err, r.stdout)
	}
	r = runCommand(t, false, "servers", "add", addrs[2], "--socket", s.socket)
	if r.code != 1 || !strings.Contains(r.stderr, "already configured") {
		t.Errorf("adding twice: exit %d %q", r.code, r.stderr)
	}
	r = runCommand(t, false, "servers", "remove", addrs[0], "--socket", s.socket)
	if r.code != 0 {
		t.Fatalf("servers remove: exit %d %s", r.code, r.stderr)
	}
	if n := count(false); n != 2 {
		t.Errorf("after remove: %d sources, want 2", n)
	}
	// restrict through the same door.
	r = runCommand(t, false, "restrict", "add", "192.0.2.0", "mask", "255.255.255.0", "noquery", "--socket", s.socket)
	if r.code != 0 || !strings.Contains(r.stdout, "restrict 192.0.2.0 mask 255.255.255.0 noquery") {
		t.Errorf("restrict add: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	{
		if r := runCommand(t, true, "restrict", "remove", "192.0.2.0/24", "--socket", s.socket); r.code != 1 || !strings.Contains(r.stderr, "permission denied") {
			t.Errorf("restrict remove as uid 65534: exit %d %q", r.code, r.stderr)
		}
	}
	r = runCommand(t, false, "restrict", "remove", "192.0.2.0/24", "--socket", s.socket)
	if r.code != 0 {
		t.Errorf("restrict remove: exit %d %s", r.code, r.stderr)
	}
	// Removing what is not there says where to look.
	if r := runCommand(t, false, "servers", "remove", "192.0.2.99:123", "--socket", s.socket); r.code != 1 || !strings.Contains(r.stderr, "not configured") || !strings.Contains(r.stderr, "timesync servers list") {
		t.Errorf("servers remove of an unknown server: exit %d, stderr %q; want 1 and a pointer to 'timesync servers list'", r.code, r.stderr)
	}
	if r := runCommand(t, false, "restrict", "remove", "198.51.100.0/24", "--socket", s.socket); r.code != 1 || !strings.Contains(r.stderr, "timesync restrict list") {
		t.Errorf("restrict remove of an unknown rule: exit %d, stderr %q; want 1 and a pointer to 'timesync restrict list'", r.code, r.stderr)
	}
	if r := runCommand(t, false, "sync", "--socket", s.socket); r.code != 0 {
		t.Errorf("sync: exit %d %s", r.code, r.stderr)
	}
	if r := runCommand(t, false, "sync", "--confirm", "--socket", s.socket); r.code != 1 || !strings.Contains(r.stderr, "no correction is waiting") {
		t.Errorf("sync --confirm with nothing held: exit %d %q", r.code, r.stderr)
	}
	// Restarting restores the configuration.
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
	s2 := startService(t, string(mustRead(t, s.config)))
	if n := len(statusJSON(t, s2.socket, false)["sources"].([]any)); n != 2 {
		t.Errorf("after a restart: %d sources, want 2", n)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestClientNotRunningHint(t *testing.T) {
	r := runCLI("status", "--socket", filepath.Join(t.TempDir(), "none.sock"))
	if r.code != exitFail || !strings.Contains(r.stderr, "is the timesync service running? try 'timesync service status'") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	t.Setenv("TIMESYNC_SOCKET", filepath.Join(t.TempDir(), "env.sock"))
	r = runCLI("sources")
	if r.code != exitFail || !strings.Contains(r.stderr, "env.sock") {
		t.Errorf("TIMESYNC_SOCKET not used: %q", r.stderr)
	}
}

// rawHTTP talks to the service without the client's checks.
func rawHTTP(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}}
}

func TestServiceSurvivesBadRequests(t *testing.T) {
	needRoot(t) // a reader is refused (403) before the body is looked at
	addrs := startServers(t, 52, ntptest.Config{Stratum: 1})
	s := startService(t, serverConf(addrs...))
	hc := rawHTTP(s.socket)
	statusJSON(t, s.socket, false) // the API is up: the serving process is the one to watch
	// Run privilege-separated, the API is the engine's; the parent
	// restarts a dead engine under a new pid, which a later status
	// would not notice.
	serving := servingPID(s.cmd.Process.Pid)
	huge := bytes.Repeat([]byte("x"), 10<<20)
	for _, tt := range []struct {
		name, method, path string
		body               []byte
		code               int
	}{
		{"malformed JSON", "POST", "/v1/servers", []byte(`{"server":`), 400},
		{"unknown field", "POST", "/v1/sync", []byte(`{"confirm": false, "force": true}`), 400},
		{"10 MB body", "POST", "/v1/servers", huge, 413},
		{"unknown path", "GET", "/v2/status", nil, 404},
		{"wrong method", "PUT", "/v1/status", nil, 405},
	} {
		req, _ := http.NewRequest(tt.method, "http://timesync"+tt.path, bytes.NewReader(tt.body))
		resp, err := hc.Do(req)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var eb control.ErrorBody
		err = json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != tt.code || err != nil || eb.Error == "" {
			t.Errorf("%s: %d %q (%v), want %d and a readable error", tt.name, resp.StatusCode, eb.Error, err, tt.code)
		}
		t.Logf("%s: %d %s", tt.name, resp.StatusCode, eb.Error)
	}
	if !s.running() {
		t.Fatal("the service died")
	}
	statusJSON(t, s.socket, false)
	if now := servingPID(s.cmd.Process.Pid); now != serving {
		t.Fatalf("the process serving the API was %d and is now %d: it died and was restarted\n%s", serving, now, s.log.String())
	}
}

// procStat reads a process's resident memory (kB), threads and open
// descriptors.
func procStat(t *testing.T, pid int) (rssKB, threads, fds int) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "VmRSS:" {
			rssKB, _ = strconv.Atoi(f[1])
		}
		if len(f) >= 2 && f[0] == "Threads:" {
			threads, _ = strconv.Atoi(f[1])
		}
	}
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return rssKB, threads, len(ents)
}

// TestConcurrentClients runs 100 clients against the service for
// -timesync.soak (30 s, the figure; 5 s with -short): half keep a
// watch open and reconnect it every 300 ms, half query status, sources,
// config and history. No request may fail, and the process that serves
// them (the engine when the service runs privilege-separated, as it does
// as root) must stay flat: its goroutines and live heap, read from the
// service's own metrics endpoint every second, may not grow from the
// middle third of the run to the last, and once the clients are gone its
// goroutines and open descriptors must come back to where they were.
func TestConcurrentClients(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	run := *soak
	if testing.Short() && run > 5*time.Second {
		run = 5 * time.Second
	}
	cfg := ntptest.Config{Stratum: 1}
	addrs := startServers(t, 53, cfg, cfg, cfg)
	// The configuration wants a port: take a free one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	s := startService(t, serverConf(addrs...)+"metrics "+metricsAddr+"\n")
	waitFor(t, "the metrics endpoint", func() bool {
		if strings.Contains(s.log.String(), "cannot serve metrics") {
			t.Fatalf("the service could not serve metrics on %s (the port was taken in between?)", metricsAddr)
		}
		return strings.Contains(s.log.String(), "serving Prometheus metrics") && strings.Contains(s.log.String(), "address="+metricsAddr)
	})
	pid := servingPID(s.cmd.Process.Pid)
	// Let the start-up settle (first burst), then measure.
	time.Sleep(500 * time.Millisecond)
	before := sampleService(t, pid, metricsAddr)

	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	var requests, events int
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) < 10 {
			errs = append(errs, err)
		}
	}
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client.New(s.socket)
			defer c.Close()
			if i%2 == 0 {
				for ctx.Err() == nil {
					wctx, wcancel := context.WithTimeout(ctx, 300*time.Millisecond)
					err := c.Watch(wctx, func(control.Event) error {
						mu.Lock()
						events++
						mu.Unlock()
						return nil
					})
					wcancel()
					if err != nil && ctx.Err() == nil {
						fail(fmt.Errorf("watch: %w", err))
						return
					}
				}
				return
			}
			for n := 0; ctx.Err() == nil; n++ {
				var err error
				switch n % 4 {
				case 0:
					_, err = c.Status(ctx)
				case 1:
					_, err = c.Sources(ctx)
				case 2:
					_, err = c.Config(ctx)
				case 3:
					_, err = c.History(ctx, client.HistoryQuery{Range: time.Hour, Points: 100})
				}
				if err != nil && ctx.Err() == nil {
					fail(err)
					return
				}
				mu.Lock()
				requests++
				mu.Unlock()
			}
		}()
	}
	// Sample the serving process while the clients run: once a second,
	// and at least 15 times in all.
	started := time.Now()
	var samples []serviceSample
	tick := time.NewTicker(min(time.Second, run/15))
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			smp := sampleService(t, pid, metricsAddr)
			smp.at = time.Since(started)
			samples = append(samples, smp)
		}
	}
	tick.Stop()
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	// Connections close asynchronously: give the service a moment.
	var after serviceSample
	back := func() bool { return after.fds <= before.fds+2 && after.goroutines <= before.goroutines+3 }
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if after = sampleService(t, pid, metricsAddr); back() || time.Now().After(deadline) {
			break
		}
	}
	mid, late := thirds(samples, run)
	t.Logf("%v, 100 clients: %d requests, %d watch events; serving process (pid %d): goroutines %d → max %d (middle third) / %d (last) → %d, live heap %.2f → max %.2f / %.2f → %.2f MB, RSS %.1f → %.1f MB, threads %d → %d, fds %d → %d",
		run, requests, events, pid, before.goroutines, maxOf(mid, sampleGoroutines), maxOf(late, sampleGoroutines), after.goroutines,
		mb(before.heap), mb(maxOf(mid, sampleHeap)), mb(maxOf(late, sampleHeap)), mb(after.heap),
		mb(before.rss), mb(after.rss), before.threads, after.threads, before.fds, after.fds)
	if len(mid) < 3 || len(late) < 3 {
		t.Fatalf("%d samples in the middle third and %d in the last: too few to judge", len(mid), len(late))
	}
	if requests < 1000 || events < 100 {
		t.Errorf("only %d requests and %d watch events: the clients hardly ran", requests, events)
	}
	if !back() {
		t.Errorf("10 s after the clients left: %d goroutines and %d descriptors, against %d and %d before", after.goroutines, after.fds, before.goroutines, before.fds)
	}
	// Flat: what the middle of the run held is what its end holds. A
	// leak of one goroutine per request or per watch would add hundreds
	// a second; the watchers' reconnections move the count by a few.
	if g1, g2 := maxOf(mid, sampleGoroutines), maxOf(late, sampleGoroutines); g2 > g1+g1/10+5 {
		t.Errorf("goroutines grew: at most %d in the middle third of the run, %d in the last", g1, g2)
	}
	// The live heap (what the last collection kept) moves with the
	// connections open at the time; it must not climb.
	if h1, h2 := maxOf(mid, sampleHeap), maxOf(late, sampleHeap); h2 > h1+max(h1/5, 1<<20) {
		t.Errorf("heap grew: at most %.1f MB live in the middle third of the run, %.1f in the last", mb(h1), mb(h2))
	}
	if after.rss > 40<<20 {
		t.Errorf("RSS %.1f MB after the run, want under 40 MB", mb(after.rss))
	}
	if !s.running() {
		t.Fatal("the service died")
	}
}

// servingPID is the process that serves the control socket: the engine,
// the child of a privilege-separated service, or the service itself.
func servingPID(pid int) int {
	if child := childOf(pid, 0); child != 0 {
		return child
	}
	return pid
}

// childOf returns the pid of parent's child other than not (0 if none),
// from /proc/*/stat.
func childOf(parent, not int) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == not {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces.
		s := string(b)
		rest := s[strings.LastIndexByte(s, ')')+2:]
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == strconv.Itoa(parent) {
			return pid
		}
	}
	return 0
}

type serviceSample struct {
	at                       time.Duration
	goroutines, threads, fds int
	heap, rss                int64 // bytes
}

func sampleGoroutines(s serviceSample) int64 { return int64(s.goroutines) }
func sampleHeap(s serviceSample) int64       { return s.heap }

func maxOf(ss []serviceSample, f func(serviceSample) int64) int64 {
	var m int64
	for _, s := range ss {
		m = max(m, f(s))
	}
	return m
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// thirds returns the samples taken in the middle and the last third of
// a run of length run.
func thirds(ss []serviceSample, run time.Duration) (mid, late []serviceSample) {
	for _, s := range ss {
		switch {
		case s.at >= 2*run/3:
			late = append(late, s)
		case s.at >= run/3:
			mid = append(mid, s)
		}
	}
	return mid, late
}

// sampleService reads the serving process's goroutines and heap from the
// service's Prometheus endpoint (the heap as the last collection left it)
// and its RSS, threads and descriptors from
// /proc.
func sampleService(t *testing.T, pid int, metricsAddr string) serviceSample {
	t.Helper()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		// (A crashed engine is restarted under another pid.)
		t.Fatalf("the serving process %d is gone: %v", pid, err)
	}
	rssKB, threads, fds := procStat(t, pid)
	s := serviceSample{rss: int64(rssKB) << 10, threads: threads, fds: fds}
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	found := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "go_goroutines":
			s.goroutines = int(v)
			found++
		case "go_gc_heap_live_bytes":
			s.heap = int64(v)
			found++
		}
	}
	if found != 2 {
		t.Fatalf("metrics: go_goroutines or go_gc_heap_live_bytes missing (%d found)", found)
	}
	return s
}

// TestKill9DuringSaves kills the service with SIGKILL while a client
// streams configuration changes; the file must always parse and hold a
// whole set of the rules added (never a truncated or mixed file).
func TestKill9DuringSaves(t *testing.T) {
	needRoot(t)
	addrs := startServers(t, 54, ntptest.Config{Stratum: 1})
	// The kill lands within a save now and then only: with os.WriteFile
	// (truncate, then write) in place of the atomic save, 1 round in 18
	// found the file cut short, and 2 runs of 6 none. So a reader also
	// loads the file over and over while the saves go on; every version
	// it sees must be whole (with os.WriteFile it sees an empty one
	// within the first round).
	for round := range 20 {
		s := startService(t, serverConf(addrs...))
		stop := make(chan struct{})
		seen := make(chan error, 1)
		go func() {
			loads := 0
			defer func() { close(seen) }()
			for {
				select {
				case <-stop:
					if loads == 0 {
						seen <- errors.New("the reader never loaded the file")
					}
					return
				default:
				}
				if _, err := savedRules(s.config); err != nil {
					seen <- fmt.Errorf("load %d while saving: %w", loads, err)
					return
				}
				loads++
			}
		}()
		c := client.New(s.socket)
		added := make(chan int, 1000)
		go func() {
			for i := 0; ; i++ {
				r := config.Restrict{Addr: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i / 256), byte(i % 256), 0}), 24), NoQuery: true}
				if _, err := c.SetRestrict(context.Background(), r); err != nil {
					close(added)
					return
				}
				added <- i
			}
		}()
		// Kill after a varying number of acknowledged saves.
		acked := -1
		for range 5 + 7*(round%10) {
			acked = <-added
		}
		// The next save is under way: land at varying points in it.
		time.Sleep(time.Duration(round%10) * 150 * time.Microsecond)
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
		s.done <- nil
		close(stop)
		if err := <-seen; err != nil {
			t.Errorf("round %d: a reader found the file broken: %v", round, err)
		}
		for i := range added {
			acked = i
		}
		c.Close()
		n, err := savedRules(s.config)
		if err != nil {
			t.Fatalf("round %d: after kill -9: %v\n%s", round, err, mustRead(t, s.config))
		}
		if n < acked+1 || n > acked+2 {
			t.Errorf("round %d: %d rules in the file, %d acknowledged", round, n, acked+1)
		}
		t.Logf("round %d: killed after %d acknowledged saves; file intact with %d rules", round, acked+1, n)
	}
}

// savedRules loads the file TestKill9DuringSaves saves to and checks it
// is whole: it parses, keeps its one server, and its restrict rules are
// the ones added, in order (10.0.0.0/24, 10.0.1.0/24, …, noquery). It
// returns how many there are.
func savedRules(path string) (int, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return 0, fmt.Errorf("the file does not parse: %w", err)
	}
	if len(cfg.Servers) != 1 {
		return 0, fmt.Errorf("servers lost: %v", cfg.Servers)
	}
	for i, r := range cfg.Restrict {
		want := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i / 256), byte(i % 256), 0}), 24)
		if r.Addr != want || !r.NoQuery {
			return 0, fmt.Errorf("rule %d is %s, want %s noquery", i, r, want)
		}
	}
	return len(cfg.Restrict), nil
}

func TestSIGTERMStopsWithin2sAndRemovesSocket(t *testing.T) {
	addrs := startServers(t, 55, ntptest.Config{Stratum: 1})
	s := startService(t, serverConf(addrs...))
	// An open watch stream must not hold the shutdown up.
	c := client.New(s.socket)
	defer c.Close()
	watching := make(chan struct{})
	go c.Watch(context.Background(), func(control.Event) error {
		select {
		case <-watching:
		default:
			close(watching)
		}
		return nil
	})
	<-watching
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5 s after SIGTERM")
	}
	took := time.Since(start)
	s.done <- err
	if err != nil {
		t.Errorf("exit: %v\n%s", err, s.log.String())
	}
	if took > 2*time.Second {
		t.Errorf("stopped %v after SIGTERM, want within 2 s", took)
	}
	if _, err := os.Lstat(s.socket); !os.IsNotExist(err) {
		t.Errorf("socket still there after SIGTERM: %v", err)
	}
	t.Logf("stopped %v after SIGTERM", took.Round(time.Millisecond))
}

// Without --dry-run the service goes to the clock driver; in tests that
// is the forbidding stand-in, so the child panics on its first change.
func TestServiceRunWithoutDryRunReachesGuard(t *testing.T) {
	addrs := startServers(t, 56, ntptest.Config{Offset: time.Second, Stratum: 1})
	dir := publicDir(t)
	cfgPath := filepath.Join(dir, "timesync.conf")
	os.WriteFile(cfgPath, []byte(serverConf(addrs...)), 0o644)
	cmd := command(t, false, "service", "run", "--config", cfgPath, "--socket", filepath.Join(dir, "s.sock"))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	done := make(chan error, 1)
	cmd.Start()
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("no clock change attempted within 20 s:\n%s", errb.String())
	}
	if !strings.Contains(errb.String(), "a test tried to change the system clock") {
		t.Errorf("the service did not hit the guard:\n%s", tail(errb.String()))
	}
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

var _ = io.Discard

// A second service on the same socket refuses to start and leaves the
// first one serving.
func TestSecondServiceRefused(t *testing.T) {
	addrs := startServers(t, 57, ntptest.Config{Stratum: 1})
	s := startService(t, serverConf(addrs...))
	r := runCommand(t, false, "service", "run", "--dry-run", "--config", s.config, "--socket", s.socket)
	if r.code != 1 || !strings.Contains(r.stderr, "already listening") {
		t.Errorf("second service: exit %d, stderr %q", r.code, tail(r.stderr))
	}
	if !s.running() {
		t.Fatal("the first service died")
	}
	statusJSON(t, s.socket, false)
}
