package peers

// serve_test.go: timesync's time server (service/serve) against a real
// client, Debian's chronyd: -Q (measure once, never set the clock) for
// the time it gets, -x (no clock control) for the rate limiting, both
// without CAP_SYS_TIME. The server runs in this test process on a
// loopback address and an ephemeral port, serving this machine's clock.

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/serve"
)

// startServer serves time on addr:0 under rules and returns the port.
func startServer(t *testing.T, addr string, st serve.SyncState, observe func(netip.AddrPort, time.Time, serve.Verdict), rules ...string) (*serve.Server, int) {
	t.Helper()
	s := serve.New(serve.Options{Observe: observe})
	var rs []config.Restrict
	for _, l := range rules {
		r, err := config.ParseRestrict(strings.Fields(l)...)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	s.SetRules(rs)
	s.SetSync(st)
	if err := s.Listen([]string{addr + ":0"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, int(s.Addrs()[addr+":0"].Port())
}

// synced is a stratum-2 server whose reference (192.0.2.1) last
// corrected it a minute ago.
func synced() serve.SyncState {
	return serve.SyncState{Synchronized: true, Stratum: 2, RefID: [4]byte{192, 0, 2, 1},
		RefTime: time.Now().Add(-time.Minute), RootDelay: 10 * time.Millisecond, RootDispersion: time.Millisecond}
}

// needChronyd returns the unpacked chronyd, or skips the test saying why
// (not prepared by make test-peers, missing, not root).
func needChronyd(t *testing.T) string {
	t.Helper()
	const rel = "chrony/usr/sbin/chronyd"
	if peersDir != "" {
		if _, err := os.Stat(filepath.Join(peersDir, rel)); err != nil {
			t.Skipf("chronyd is not available (%v): run `make test-peers`, which unpacks Debian's chrony", err)
		}
	}
	return need(t, rel)
}

var wrongBy = regexp.MustCompile(`System clock wrong by (-?[0-9.]+) seconds`)

// chronyQ runs chronyd -Q against addr:port and returns its output and
// the offset it measured (ok false: it measured none).
func chronyQ(t *testing.T, chronyd, addr string, port int, timeout int) (string, float64, bool) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "empty.conf")
	os.WriteFile(conf, nil, 0o644)
	cmd := exec.Command("setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time",
		chronyd, "-Q", "-x", "-d", "-u", "root", "-f", conf, "-t", strconv.Itoa(timeout),
		fmt.Sprintf("server %s port %d iburst", addr, port), "pidfile "+filepath.Join(dir, "chronyd.pid"), "cmdport 0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Run() // exits non-zero when it found no time; the output says
	m := wrongBy.FindStringSubmatch(out.String())
	if m == nil {
		return out.String(), 0, false
	}
	off, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), off, true
}

// chronyd -Q accepts what our server says and measures the offset of
// this machine's clock from itself: zero, within 1 ms.
func TestServeChronydGetsTime(t *testing.T) {
	chronyd := needChronyd(t)
	t.Parallel()
	s, port := startServer(t, "127.0.81.1", synced(), nil, "default kod limited nomodify notrap nopeer noquery")
	out, off, ok := chronyQ(t, chronyd, "127.0.81.1", port, 10)
	if !ok {
		t.Fatalf("chronyd -Q got no time from our server (counters %+v):\n%s", s.Counters(), out)
	}
	c := s.Counters()
	t.Logf("chronyd -Q: offset %+.1f µs (true: 0); server counters %+v", off*1e6, c)
	if math.Abs(off) > 0.001 {
		t.Errorf("chronyd measured %+.6f s, want 0 within 1 ms", off)
	}
	if c.Answered == 0 || c.Malformed != 0 || c.Refused != 0 {
		t.Errorf("counters %+v: want answers, nothing malformed or refused", c)
	}
}

// Unsynchronized, the server answers leap 3 / stratum 16, and chronyd
// takes no time from it.
func TestServeChronydRefusesUnsynchronized(t *testing.T) {
	chronyd := needChronyd(t)
	t.Parallel()
	s, port := startServer(t, "127.0.81.2", serve.SyncState{}, nil, "default")
	out, off, ok := chronyQ(t, chronyd, "127.0.81.2", port, 4)
	if ok {
		t.Errorf("chronyd took a time (%+.6f s) from an unsynchronized server:\n%s", off, out)
	}
	if c := s.Counters(); c.Answered == 0 {
		t.Errorf("counters %+v: the server should have answered (with leap 3)", c)
	}
}

// "restrict … ignore": chronyd gets nothing at all.
func TestServeChronydIgnored(t *testing.T) {
	chronyd := needChronyd(t)
	t.Parallel()
	s, port := startServer(t, "127.0.81.3", synced(), nil, "default", "127.0.0.0 mask 255.0.0.0 ignore")
	out, off, ok := chronyQ(t, chronyd, "127.0.81.3", port, 4)
	if ok {
		t.Errorf("chronyd got a time (%+.6f s) through an ignore rule:\n%s", off, out)
	}
	c := s.Counters()
	t.Logf("ignored: counters %+v", c)
	if c.Answered != 0 || c.DroppedByRule == 0 {
		t.Errorf("counters %+v: want no answer and the requests dropped by rule", c)
	}
}

// "restrict … limited kod": chronyd polling every 1/16 s gets one answer,
// then a RATE kiss-o'-death; it logs the kiss and backs off (chrony adds
// four poll intervals before its next request), and further excess is
// silent (the KoD is itself rate-limited).
func TestServeChronydLimitedKoD(t *testing.T) {
	chronyd := needChronyd(t)
	t.Parallel()
	type arrival struct {
		at time.Time
		v  serve.Verdict
	}
	var mu sync.Mutex
	var log []arrival
	observe := func(_ netip.AddrPort, at time.Time, v serve.Verdict) {
		mu.Lock()
		log = append(log, arrival{at, v})
		mu.Unlock()
	}
	s, port := startServer(t, "127.0.81.4", synced(), observe, "default limited kod")
	dir := t.TempDir()
	conf := filepath.Join(dir, "chrony.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("server 127.0.81.4 port %d minpoll -4 maxpoll -4\nport 0\ncmdport 0\npidfile %s/chronyd.pid\n", port, dir)), 0o644)
	logf := filepath.Join(dir, "chronyd.log")
	cmd := start(t, logf, "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time", chronyd, "-x", "-d", "-u", "root", "-f", conf)
	time.Sleep(4 * time.Second)
	cmd.Process.Kill()
	cmd.Wait()
	chronyLog, _ := os.ReadFile(logf)

	mu.Lock()
	defer mu.Unlock()
	c := s.Counters()
	t.Logf("limited kod: %d requests in 4 s, counters %+v", len(log), c)
	if c.Answered == 0 || c.KoDSent == 0 || c.RateLimited == 0 {
		t.Fatalf("counters %+v: want an answer, then rate limiting with a KoD", c)
	}
	if !strings.Contains(string(chronyLog), "Received KoD RATE") {
		t.Errorf("chronyd did not log the KoD RATE:\n%s", chronyLog)
	}
	// Back-off: the gap after each KoD against the usual gap.
	var gaps, afterKoD []time.Duration
	for i := 1; i < len(log); i++ {
		g := log[i].at.Sub(log[i-1].at)
		if log[i-1].v == serve.KoDSent {
			afterKoD = append(afterKoD, g)
		} else {
			gaps = append(gaps, g)
		}
	}
	if len(afterKoD) == 0 || len(gaps) == 0 {
		t.Fatalf("no request after the KoD (%d requests)", len(log))
	}
	med := median(gaps)
	t.Logf("usual gap between requests %v (poll 62.5 ms); gaps after a KoD %v", med, afterKoD)
	for _, g := range afterKoD {
		if g < 3*med || g < 200*time.Millisecond {
			t.Errorf("after a KoD chronyd waited %v; want a back-off (≥ 4 polls), usual gap %v", g, med)
		}
	}
	if c.KoDSent > 1 {
		t.Errorf("%d KoDs in 4 s to one client; want them rate-limited to one per 8 s headway", c.KoDSent)
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
