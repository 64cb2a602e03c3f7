// Package peers checks timesync --once against real NTP daemons from
// Debian (chrony, ntpsec), fetched and unpacked by scripts/peers.sh, never
// installed. The daemons can never touch this machine's clock: chronyd
// runs with -x (no clock control) and without CAP_SYS_TIME, ntpd without
// CAP_SYS_TIME inside a network namespace of its own. Every --once here is
// --dry-run, and every address is on loopback.
//
// Run with `make test-peers` (part of `make test`); without
// TIMESYNC_PEERS_DIR the tests skip and say why.
package peers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	peersDir string // where scripts/peers.sh unpacked chrony and ntpsec
	timesync string // the timesync binary under test
)

func TestMain(m *testing.M) {
	peersDir = os.Getenv("TIMESYNC_PEERS_DIR")
	if peersDir != "" {
		dir, err := os.MkdirTemp("", "timesync-peers")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		timesync = filepath.Join(dir, "timesync")
		build := exec.Command("go", "build", "-o", timesync, "github.com/timesync/timesync/cmd/timesync")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building timesync:", err)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func need(t *testing.T, rel string) string {
	t.Helper()
	if peersDir == "" {
		t.Skip("TIMESYNC_PEERS_DIR is not set: run `make test-peers`, which fetches chrony and ntpsec with scripts/peers.sh")
	}
	p := filepath.Join(peersDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s missing: %v (run scripts/peers.sh)", rel, err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop CAP_SYS_TIME with setpriv and to make a network namespace")
	}
	for _, tool := range []string{"setpriv", "unshare", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (util-linux)", tool)
		}
	}
	return p
}

// onceJSON is the part of --once --json these tests read.
type onceJSON struct {
	Offset  float64 `json:"offset_seconds"`
	Action  string  `json:"action"`
	Error   string  `json:"error"`
	Sources []struct {
		Address string  `json:"address"`
		State   string  `json:"state"`
		Offset  float64 `json:"offset_seconds"`
		Stratum int     `json:"stratum"`
		Reason  string  `json:"reason"`
	} `json:"sources"`
}

// once runs `[prefix…] timesync --once --dry-run --json --server S…`.
func once(t *testing.T, prefix []string, servers ...string) (onceJSON, int, string) {
	t.Helper()
	args := append(append([]string{}, prefix...), timesync, "--once", "--dry-run", "--json", "--timeout", "3s")
	for _, s := range servers {
		args = append(args, "--server", s)
	}
	cmd := exec.Command(args[0], args[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var j onceJSON
	if err := json.Unmarshal(out.Bytes(), &j); err != nil {
		t.Fatalf("--once printed no JSON (%v): %s %s", err, out.String(), errb.String())
	}
	return j, code, errb.String()
}

// start runs a daemon and ends it (by its PID) when the test ends.
func start(t *testing.T, log string, name string, args ...string) *exec.Cmd {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("%s log:\n%s", filepath.Base(name), b)
		}
	})
	return cmd
}

// chronyd -x serves this machine's own clock (local stratum 8; with -x it
// never changes it, and cannot step or slew a virtual one), so the true
// offset of what it serves is zero: --once must find that within 1 ms,
// and judge chronyd's packets valid (stratum, reference, timestamps).
func TestOnceAgreesWithChronyd(t *testing.T) {
	chronyd := need(t, "chrony/usr/sbin/chronyd")
	dir := t.TempDir()
	conf := filepath.Join(dir, "chrony.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`local stratum 8
allow 127.0.0.0/8
bindaddress 127.0.70.1
port 12323
cmdport 0
pidfile %s/chronyd.pid
driftfile %s/chrony.drift
`, dir, dir)), 0o644)
	start(t, filepath.Join(dir, "chronyd.log"), "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		chronyd, "-x", "-d", "-u", "root", "-f", conf)

	var j onceJSON
	var code int
	var stderr string
	for deadline := time.Now().Add(20 * time.Second); ; {
		if j, code, stderr = once(t, nil, "127.0.70.1:12323"); code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chronyd never gave a usable answer: exit %d %s %+v", code, stderr, j)
		}
		time.Sleep(300 * time.Millisecond)
	}
	s := j.Sources[0]
	t.Logf("offset from chronyd %+.1f µs (true: 0), state %s, stratum %d", j.Offset*1e6, s.State, s.Stratum)
	if math.Abs(j.Offset) > 0.001 || s.State != "selected" || s.Stratum != 8 {
		t.Errorf("offset %+.6f s, %s, stratum %d; want 0 within 1 ms, selected, stratum 8", j.Offset, s.State, s.Stratum)
	}
}

// A just-started ntpd answers with the INIT kiss code until it has
// synchronized: --once must say so truthfully, not "rate limited".
func TestOnceReportsNtpdInitTruthfully(t *testing.T) {
	ntpd := need(t, "ntpsec/usr/sbin/ntpd")
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not found: cannot bring up loopback in the namespace")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "ntp.conf")
	// Its only server never answers, so it stays unsynchronized.
	os.WriteFile(conf, []byte("server 127.0.0.2 iburst\nrestrict default nomodify\ndriftfile "+dir+"/ntp.drift\n"), 0o644)
	script := filepath.Join(dir, "run.sh")
	os.WriteFile(script, []byte(`#!/bin/sh
set -e
ip link set lo up
sysctl -q -w net.ipv4.ip_unprivileged_port_start=0
exec setpriv --bounding-set=-sys_time --inh-caps=-sys_time "$@"
`), 0o755)
	cmd := start(t, filepath.Join(dir, "ntpd.log"), "unshare", "-n", script, ntpd, "-n", "-c", conf)
	netns := []string{"nsenter", fmt.Sprintf("--net=/proc/%d/ns/net", cmd.Process.Pid)}

	var j onceJSON
	var code int
	var stderr string
	for deadline := time.Now().Add(20 * time.Second); ; {
		j, code, stderr = once(t, netns, "127.0.0.1", "[::1]")
		if len(j.Sources) == 2 && j.Sources[0].State != "unreachable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ntpd never answered: %+v %s", j, stderr)
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("exit %d, stderr %q", code, strings.TrimSpace(stderr))
	for _, s := range j.Sources {
		if s.State != "kod" || s.Reason != "server not synchronized yet (INIT)" {
			t.Errorf("%s: %s %q, want kod %q", s.Address, s.State, s.Reason, "server not synchronized yet (INIT)")
		}
	}
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "INIT") {
		t.Errorf("exit %d, stderr %q; want 1 and one line naming INIT", code, stderr)
	}
}
