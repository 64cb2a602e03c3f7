package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/timesync/timesync/bench/internal/procstat"
)

func TestParseRequests(t *testing.T) {
	log := "ntptestd: 127.0.0.41:12341: 30 requests, 0 dropped, 30 replies\n" +
		"ntptestd: 127.0.0.42:12341: 29 requests, 1 dropped, 28 replies\nsomething else\n"
	if got := parseRequests(log); got != 59 {
		t.Errorf("got %d, want 59", got)
	}
}

func TestChronyNeverControlsTheClock(t *testing.T) {
	for _, root := range []bool{true, false} {
		args := chronyArgs("/tmp/x/chrony.conf", root)
		if !slices.Contains(args, "-x") || !slices.Contains(args, "-d") {
			t.Errorf("args %q: want -x and -d", args)
		}
		for _, never := range []string{"-q", "-s", "-r"} {
			if slices.Contains(args, never) {
				t.Errorf("args %q contain %q", args, never)
			}
		}
	}
	conf := chronyConf([]string{"127.0.0.41:12341"}, "/tmp/x")
	for _, want := range []string{"server 127.0.0.41 port 12341 iburst minpoll 4 maxpoll 4",
		"driftfile /tmp/x/chrony.drift", "pidfile /tmp/x/chronyd.pid", "bindcmdaddress /tmp/x/chronyd.sock"} {
		if !strings.Contains(conf, want) {
			t.Errorf("chrony.conf lacks %q:\n%s", want, conf)
		}
	}
	if ts := timesyncConf([]string{"127.0.0.41:12341"}, "/tmp/y"); !strings.Contains(ts, "server 127.0.0.41:12341 iburst minpoll 4 maxpoll 4") {
		t.Errorf("timesync.conf:\n%s", ts)
	}
}

// A privilege-separated service is judged on its two processes together:
// every thread's CPU, and memory as the sum of PSS (the binary's shared
// pages once), with neither process over the target on its own.
func TestReportTwoProcesses(t *testing.T) {
	mk := func(cpuMs int, u procstat.Usage) usage {
		return usage{marks: []time.Duration{0, time.Duration(cpuMs) * time.Millisecond}, end: u}
	}
	o := options{rounds: 1, duration: 2 * time.Minute, servers: 3}
	for _, c := range []struct {
		name     string
		ts       procstat.Usage
		tsCPU    int
		wantPass bool
		want     []string
	}{
		{"pair under the target", procstat.Usage{RSS: 24 << 20, HWM: 24 << 20, PSS: 15 << 20, MaxRSS: 12 << 20, Procs: 2}, 5, true,
			[]string{"PASS CPU", "PASS RSS", "PSS 15.0 MB together", "VmRSS summed 24.0 MB", "2 processes"}},
		{"pair over on PSS", procstat.Usage{RSS: 30 << 20, PSS: 21 << 20, MaxRSS: 15 << 20, Procs: 2}, 5, false, []string{"FAIL RSS"}},
		{"pair, CPU over", procstat.Usage{RSS: 24 << 20, PSS: 15 << 20, MaxRSS: 12 << 20, Procs: 2}, 7, false, []string{"FAIL CPU", "PASS RSS"}},
		{"one process over", procstat.Usage{RSS: 21 << 20, HWM: 21 << 20, PSS: 15 << 20, MaxRSS: 21 << 20, Procs: 1}, 5, false, []string{"FAIL RSS under 20 MB (VmRSS 21.0 MB"}},
	} {
		var b strings.Builder
		r := results{timesync: mk(c.tsCPU, c.ts), chronyd: mk(6, procstat.Usage{RSS: 5 << 20, PSS: 4 << 20, MaxRSS: 5 << 20, Procs: 1})}
		if got := report(&b, o, r); got != c.wantPass {
			t.Errorf("%s: report = %v, want %v:\n%s", c.name, got, c.wantPass, b.String())
		}
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: report lacks %q:\n%s", c.name, w, b.String())
			}
		}
	}
}

// With three windows or more, the CPU target is judged on the larger of
// the totals' ratio and the median of the windows' ratios: one window in
// which chronyd spiked cannot pass a service that is over in the others.
func TestReportMedianWindow(t *testing.T) {
	marks := func(ms ...int) []time.Duration {
		var d []time.Duration
		sum := 0
		d = append(d, 0)
		for _, m := range ms {
			sum += m
			d = append(d, time.Duration(sum)*time.Millisecond)
		}
		return d
	}
	u := procstat.Usage{RSS: 12 << 20, HWM: 12 << 20, PSS: 12 << 20, MaxRSS: 12 << 20, Procs: 1}
	o := options{rounds: 4, duration: 2 * time.Minute, servers: 3}
	for _, c := range []struct {
		name       string
		ts, chrony []int
		wantPass   bool
		want       string
	}{
		{"chronyd spiked once", []int{6, 6, 6, 6}, []int{5, 5, 50, 5}, false, "FAIL CPU no more than chronyd's (1.20×)"},
		{"under in every window", []int{4, 4, 4, 4}, []int{5, 5, 50, 5}, true, "median of the windows' CPU ratios 0.80× (0.08–0.80×)"},
	} {
		var b strings.Builder
		r := results{timesync: usage{marks: marks(c.ts...), end: u}, chronyd: usage{marks: marks(c.chrony...), end: u}}
		if got := report(&b, o, r); got != c.wantPass || !strings.Contains(b.String(), c.want) {
			t.Errorf("%s: report = %v, want %v and %q:\n%s", c.name, got, c.wantPass, c.want, b.String())
		}
	}
}

// The samples become per-interval CPU by process and thread; a thread
// that started in between counts from zero; the busy intervals are those
// well above the median, and the service's log lines in them are shown.
func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) // any instant: nothing reads the clock
	th := func(tid int, us int) procstat.Thread {
		return procstat.Thread{TID: tid, CPU: time.Duration(us) * time.Microsecond}
	}
	mk := func(sec int, parent, engine []procstat.Thread, chrony int) sample {
		return sample{at: t0.Add(time.Duration(sec) * time.Second),
			timesync: map[int][]procstat.Thread{10: parent, 11: engine},
			chronyd:  map[int][]procstat.Thread{20: {th(20, chrony)}}}
	}
	ss := []sample{
		mk(0, []procstat.Thread{th(10, 100)}, []procstat.Thread{th(11, 1000)}, 50),
		mk(10, []procstat.Thread{th(10, 150)}, []procstat.Thread{th(11, 1300)}, 100),
		mk(20, []procstat.Thread{th(10, 200)}, []procstat.Thread{th(11, 1600)}, 150),
		// A new engine thread, 4 ms in its first interval.
		mk(30, []procstat.Thread{th(10, 250)}, []procstat.Thread{th(11, 1900), th(12, 4000)}, 200),
		mk(40, []procstat.Thread{th(10, 300)}, []procstat.Thread{th(11, 2200), th(12, 4000)}, 250),
	}
	ivs := intervals(ss)
	if len(ivs) != 4 {
		t.Fatalf("%d intervals, want 4", len(ivs))
	}
	if ivs[0].timesync != 350*time.Microsecond || ivs[0].chronyd != 50*time.Microsecond {
		t.Errorf("first interval: timesync %v chronyd %v, want 350µs and 50µs", ivs[0].timesync, ivs[0].chronyd)
	}
	if got, want := ivs[2].threads, []threadUse{{10, th(10, 50)}, {11, th(11, 300)}, {11, th(12, 4000)}}; !slices.Equal(got, want) {
		t.Errorf("third interval's threads: %v, want %v", got, want)
	}
	if b := busy(ivs); !slices.Equal(b, []int{2}) {
		t.Errorf("busy %v, want [2]", b)
	}
	var lg stampLog
	lg.Write([]byte("early\nclock "))
	lg.Write([]byte("update\npartial"))
	log := lg.Lines()
	if len(log) != 2 || log[1].text != "clock update" || lg.String() != "early\nclock update\npartial" {
		t.Fatalf("stampLog: %v, %q", log, lg.String())
	}
	log[0].at, log[1].at = t0.Add(5*time.Second), t0.Add(25*time.Second)
	var out strings.Builder
	timeline(&out, options{sample: 10 * time.Second, duration: 20 * time.Second, rounds: 2}, results{samples: ss, log: log})
	for _, want := range []string{"window 1: 350|50 350|50", "window 2: 4350|50 350|50",
		"busy: 20s–30s after the first window opened: timesync 4350 µs (chronyd 50); pid 10 50 µs pid 11 4300 µs; threads above 100 µs (pid/tid µs runs faults): 11/11 300 0 0 11/12 4000 0 0",
		"25s log: clock update"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("timeline lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "early") {
		t.Errorf("a log line outside the busy interval is shown:\n%s", out.String())
	}
}

// Each window says what the rest of the machine used, the two programs'
// CPU taken out.
func TestRestOfTheMachine(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	r := results{
		timesync: usage{marks: []time.Duration{0, ms(5)}},
		chronyd:  usage{marks: []time.Duration{0, ms(5)}},
		machine:  []procstat.Machine{{Busy: ms(1000), Steal: ms(10)}, {Busy: ms(1410), Steal: ms(30)}},
	}
	if got, want := r.rest(0, 2*time.Minute), "; rest of the machine 200 ms/min, steal 10 ms/min"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := r.rest(1, 2*time.Minute); got != "" {
		t.Errorf("a window without marks: %q", got)
	}
}

// Each program's runs in a window, and what a run cost on average; no
// runs read, nothing said; a count that went down reads as none.
func TestRuns(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	r := results{
		timesync: usage{marks: []time.Duration{0, ms(4), ms(10)}, runs: []int64{100, 150, 210}},
		chronyd:  usage{marks: []time.Duration{0, ms(6), ms(12)}, runs: []int64{7, 57, 57}},
	}
	if got, want := r.runs(0), "; runs: timesync 50 (80 µs each), chronyd 50 (120 µs each)"; got != want {
		t.Errorf("window 1: got %q, want %q", got, want)
	}
	if got, want := r.runs(-1), "; runs: timesync 110 (91 µs each), chronyd 50 (240 µs each)"; got != want {
		t.Errorf("all windows: got %q, want %q", got, want)
	}
	r.chronyd.runs = []int64{7, 57, 50}
	if got, want := r.runs(1), "; runs: timesync 60 (100 µs each), chronyd 0 (0 µs each)"; got != want {
		t.Errorf("a count that went down: got %q, want %q", got, want)
	}
	r.chronyd.runs = nil
	if got := r.runs(0); got != "" {
		t.Errorf("no runs read: %q", got)
	}
}
