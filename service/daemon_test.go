package service

import (
	"context"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timesync/timesync/internal/ntptest"
	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/conflicts"
	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/control/client"
)

// startNTP starts test servers serving the given offsets on 127.0.<base>.N.
func startNTP(t *testing.T, base int, offsets ...time.Duration) []string {
	t.Helper()
	var addrs []string
	for i, off := range offsets {
		ip := netip.AddrFrom4([4]byte{127, 0, byte(base), byte(i + 1)})
		s, err := ntptest.Start(netip.AddrPortFrom(ip, 0).String(), ntptest.Config{Offset: off, Stratum: 1, Seed: int64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		addrs = append(addrs, s.Addr())
	}
	return addrs
}

// testDaemon runs a dry-run daemon on a config naming addrs, with a null
// driver, no conflict scan and no wake watch.
func testDaemon(t *testing.T, text string, tweak ...func(*Options)) (*Daemon, *client.Client, string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "timesync.conf")
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	opt := Options{
		ConfigPath:    cfgPath,
		SocketPath:    filepath.Join(dir, "run", "control.sock"),
		DryRun:        true,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Privileged:    NewPrivileged(platform.NewNull(0)),
		Conflicts:     func(context.Context) []conflicts.Conflict { return nil },
		WakeInterval:  -1,
		BurstInterval: 50 * time.Millisecond,
	}
	for _, f := range tweak {
		f(&opt)
	}
	d, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		d.Stop(ctx)
	})
	c := client.New(opt.SocketPath)
	t.Cleanup(c.Close)
	return d, c, cfgPath
}

// waitStatus polls the status until ok or 10 s.
func waitStatus(t *testing.T, c *client.Client, ok func(*control.Status) bool) *control.Status {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := c.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never became as wanted; last: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func serverLines(addrs []string) string {
	var b strings.Builder
	for _, a := range addrs {
		b.WriteString("server " + a + " iburst minpoll 3 maxpoll 3\n")
	}
	return b.String()
}

func TestDaemonMeasuresOffsetAndAddsServer(t *testing.T) {
	addrs := startNTP(t, 41, 250*time.Millisecond, 250*time.Millisecond, 250*time.Millisecond, 250*time.Millisecond)
	_, c, cfgPath := testDaemon(t, "# my servers\n"+serverLines(addrs[:3])+"\n# end\n")
	st := waitStatus(t, c, func(s *control.Status) bool { return s.Updates > 0 })
	if math.Abs(st.OffsetSeconds-0.25) > 0.01 {
		t.Errorf("offset = %.6f s, want 0.250 ± 0.01", st.OffsetSeconds)
	}
	if len(st.Sources) != 3 {
		t.Fatalf("got %d sources, want 3", len(st.Sources))
	}
	if _, err := c.AddServer(context.Background(), config.Server{Address: "127.0.41.4", Port: mustPort(t, addrs[3]), IBurst: true, MinPoll: 3, MaxPoll: 3}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, func(s *control.Status) bool {
		for _, src := range s.Sources {
			if src.Address == addrs[3] && src.Reach != 0 {
				return true
			}
		}
		return false
	})
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "server "+addrs[3]) || !strings.HasPrefix(string(data), "# my servers\n") || !strings.Contains(string(data), "# end") {
		t.Errorf("saved file lacks the new server or the comments:\n%s", data)
	}
	if _, err := c.RemoveServer(context.Background(), addrs[0]); err != nil {
		t.Fatal(err)
	}
	st = waitStatus(t, c, func(s *control.Status) bool { return len(s.Sources) == 3 })
	for _, s := range st.Sources {
		if s.Address == addrs[0] {
			t.Errorf("removed server %s still polled", addrs[0])
		}
	}
}

func mustPort(t *testing.T, addr string) int {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return int(ap.Port())
}

func TestDaemonSaysWhy(t *testing.T) {
	// A port nobody serves: refused, so unreachable at once.
	_, c, _ := testDaemon(t, "server 127.0.42.1:9 iburst minpoll 3 maxpoll 3\n")
	st := waitStatus(t, c, func(s *control.Status) bool { return s.ReasonCode == control.ReasonNoReply })
	if st.State != "unsynchronized" || !strings.Contains(st.Reason, "UDP port 123") {
		t.Errorf("got %s %q, want unsynchronized with the UDP hint", st.State, st.Reason)
	}
	_, c2, _ := testDaemon(t, "# nothing\n")
	st = waitStatus(t, c2, func(*control.Status) bool { return true })
	if st.ReasonCode != control.ReasonNoServers {
		t.Errorf("no servers: reason %q (%s), want %q", st.ReasonCode, st.Reason, control.ReasonNoServers)
	}
}

func TestDaemonInvalidChangeRejectedWhole(t *testing.T) {
	addrs := startNTP(t, 43, 0)
	_, c, cfgPath := testDaemon(t, serverLines(addrs))
	before, _ := os.ReadFile(cfgPath)
	ci, err := c.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantMin, wantVersion := ci.Config.MinSources, ci.Version
	bad := ci.Config
	bad.Servers = append(bad.Servers, bad.Servers[0]) // a duplicate
	bad.MinSources = 2
	_, err = c.SetConfig(context.Background(), bad)
	if !client.IsConflict(err) {
		t.Fatalf("got %v, want a 409 conflict", err)
	}
	if !strings.Contains(err.Error(), "timesync.conf") || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("error %q does not name the file and line", err)
	}
	after, _ := os.ReadFile(cfgPath)
	if string(after) != string(before) {
		t.Errorf("file changed by a rejected change:\n%s", after)
	}
	ci2, _ := c.Config(context.Background())
	if ci2.Config.MinSources != wantMin || ci2.Version != wantVersion {
		t.Errorf("running configuration changed by a rejected change")
	}
}
