package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/beevik/ntp"

	"github.com/timesync/timesync/internal/syncbuf"
)

// launch runs the command in a goroutine and returns the addresses it
// announced, a stop function and the exit code channel.
func launch(t *testing.T, args []string, want int) ([]string, func() int, *syncbuf.Buffer) {
	t.Helper()
	pr, pw := io.Pipe()
	stderr := &syncbuf.Buffer{}
	stop := make(chan os.Signal, 1)
	code := make(chan int, 1)
	go func() {
		code <- run(args, pw, stderr, stop)
		pw.Close()
	}()
	var addrs []string
	sc := bufio.NewScanner(pr)
	for len(addrs) < want && sc.Scan() {
		line := sc.Text()
		addr, ok := strings.CutPrefix(line, "listening ")
		if !ok {
			t.Fatalf("unexpected output line %q", line)
		}
		addrs = append(addrs, addr)
	}
	if len(addrs) != want {
		t.Fatalf("got %d listening lines, want %d; stderr: %s", len(addrs), want, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	return addrs, func() int {
		stop <- os.Interrupt
		return <-code
	}, stderr
}

func TestServesConfiguredOffset(t *testing.T) {
	addrs, stop, stderr := launch(t, []string{"-listen", "127.0.0.1:0", "-offset", "2.5s", "-delay", "1ms", "-stratum", "2", "-leap", "1"}, 1)
	r, err := ntp.QueryWithOptions(addrs[0], ntp.QueryOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("query %s: %v", addrs[0], err)
	}
	if d := r.ClockOffset - 2500*time.Millisecond; d.Abs() > 2*time.Millisecond {
		t.Errorf("offset %v, want 2.5s", r.ClockOffset)
	}
	if r.Stratum != 2 || r.Leap != ntp.LeapAddSecond {
		t.Errorf("stratum/leap %d/%d, want 2/1", r.Stratum, r.Leap)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if !strings.Contains(stderr.String(), "1 requests") {
		t.Errorf("summary %q, want it to count 1 request", stderr.String())
	}
}

func TestSeveralServersOnConsecutiveAddresses(t *testing.T) {
	addrs, stop, _ := launch(t, []string{"-servers", "3", "-base", "127.0.0.21", "-port", "0", "-offset", "1s,2s,3s"}, 3)
	for i, addr := range addrs {
		if want := "127.0.0.2" + string(rune('1'+i)) + ":"; !strings.HasPrefix(addr, want) {
			t.Errorf("server %d at %s, want %s…", i, addr, want)
		}
		r, err := ntp.QueryWithOptions(addr, ntp.QueryOptions{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatalf("query %s: %v", addr, err)
		}
		want := time.Duration(i+1) * time.Second
		if d := r.ClockOffset - want; d.Abs() > 5*time.Millisecond {
			t.Errorf("server %d offset %v, want %v", i, r.ClockOffset, want)
		}
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

func TestStartInEra1(t *testing.T) {
	addrs, stop, _ := launch(t, []string{"-listen", "127.0.0.1:0", "-start", "2036-02-07T06:28:20Z"}, 1)
	defer stop()
	r, err := ntp.QueryWithOptions(addrs[0], ntp.QueryOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rollover := time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC)
	if x := r.Timestamps.ServerXmit; x.Before(rollover.Add(4*time.Second)) || x.After(rollover.Add(10*time.Second)) {
		t.Errorf("server transmit %v, want just after 2036-02-07T06:28:20Z", x)
	}
}

func TestRatePPMSetsBaseClock(t *testing.T) {
	var stderr bytes.Buffer
	_, cfgs, err := parse([]string{"-listen", "127.0.0.1:0", "-rate-ppm", "50", "-offset", "100ms"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cfgs[0].Now == nil || cfgs[0].Offset != 100*time.Millisecond {
		t.Fatalf("config: Now %v, Offset %v; want a rate clock and 100ms", cfgs[0].Now != nil, cfgs[0].Offset)
	}
	// Freshly started, the rate clock still reads the real time.
	if d := time.Until(cfgs[0].Now()); d < -time.Second || d > time.Second {
		t.Errorf("rate clock %v from now at start, want ≈0", d)
	}
}

func TestRejectsBadInvocations(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the one error line
	}{
		{"public address", []string{"-listen", "192.0.2.1:123"}, "not a loopback address"},
		{"wildcard", []string{"-listen", ":123"}, "not a loopback address"},
		{"private base", []string{"-servers", "2", "-base", "10.0.2.2"}, "not a loopback address"},
		{"listen and base", []string{"-listen", "127.0.0.1:1", "-base", "127.0.0.2"}, "cannot be combined"},
		{"offset count", []string{"-servers", "2", "-offset", "1s,2s,3s"}, "3 values for 2 servers"},
		{"bad malformed", []string{"-malformed", "odd"}, "unknown malformed kind"},
		{"bad loss", []string{"-loss", "1.5"}, "-loss"},
		{"bad stratum", []string{"-stratum", "0"}, "-stratum"},
		{"long kiss", []string{"-kiss", "TOOLONG"}, "at most 4"},
		{"bad start", []string{"-start", "tomorrow"}, "-start"},
		{"bad rate", []string{"-rate-ppm", "2e5"}, "-rate-ppm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr, nil)
			if code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr %q, want one line containing %q", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestParseOffsets(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want []time.Duration
	}{
		{"0.25", 2, []time.Duration{250 * time.Millisecond, 250 * time.Millisecond}},
		{"-100ms", 1, []time.Duration{-100 * time.Millisecond}},
		{"1s, 2.5", 2, []time.Duration{time.Second, 2500 * time.Millisecond}},
	}
	for _, tt := range tests {
		got, err := parseOffsets(tt.in, tt.n)
		if err != nil {
			t.Errorf("parseOffsets(%q): %v", tt.in, err)
			continue
		}
		for i := range tt.want {
			if got[i] != tt.want[i] {
				t.Errorf("parseOffsets(%q)[%d] = %v, want %v", tt.in, i, got[i], tt.want[i])
			}
		}
	}
}
