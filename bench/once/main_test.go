package main

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseChronyOffset(t *testing.T) {
	tests := []struct {
		name    string
		log     string
		want    time.Duration
		wantErr bool
	}{
		{"positive", "2026-11-22T22:58:46Z Disabled control of system clock\n2026-11-22T22:58:51Z System clock wrong by 0.251660 seconds (ignored)\n", 251660 * time.Microsecond, false},
		{"negative", "System clock wrong by -0.499791 seconds (ignored)", -499791 * time.Microsecond, false},
		{"whole seconds", "System clock wrong by 3 seconds (ignored)", 3 * time.Second, false},
		{"no result", "2026-11-22T22:58:46Z chronyd exiting\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseChronyOffset(tt.log)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if d := got - tt.want; d.Abs() > time.Nanosecond {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseTimesyncOffset(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    time.Duration
		wantErr string
	}{
		{"contract example", `{"offset_seconds": 2.5003, "delay_seconds": 0.0021, "action": "step", "applied": false, "sources": []}`, 2500300 * time.Microsecond, ""},
		{"negative with newline", "{\"offset_seconds\": -0.25, \"applied\": false}\n", -250 * time.Millisecond, ""},
		{"applied under dry-run", `{"offset_seconds": 0.25, "applied": true}`, 0, "applied"},
		{"missing offset", `{"applied": false}`, 0, "no offset_seconds"},
		{"not json", "synchronized", 0, "decoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTimesyncOffset(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := got - tt.want; d.Abs() > time.Nanosecond {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestChronyArgsNeverControlTheClock(t *testing.T) {
	args := chronyArgs([]string{"127.0.0.11:40001", "127.0.0.12:40002"}, "/tmp/x", "/tmp/x/empty.conf", true, 30*time.Second)
	for _, must := range []string{"-Q", "-x", "-d", "server 127.0.0.11 port 40001 iburst", "server 127.0.0.12 port 40002 iburst", "pidfile /tmp/x/chronyd.pid", "cmdport 0"} {
		if !slices.Contains(args, must) {
			t.Errorf("args %q lack %q", args, must)
		}
	}
	for _, never := range []string{"-q", "-s", "-r"} { // -q sets the clock, -s/-r restore state
		if slices.Contains(args, never) {
			t.Errorf("args %q contain %q", args, never)
		}
	}
	if i := slices.Index(args, "-f"); i < 0 || args[i+1] != "/tmp/x/empty.conf" {
		t.Errorf("args %q: want -f /tmp/x/empty.conf", args)
	}
	if nonRoot := chronyArgs(nil, "/tmp/x", "c", false, time.Second); !slices.Contains(nonRoot, "-U") || slices.Contains(nonRoot, "-u") {
		t.Errorf("non-root args %q: want -U and no -u", nonRoot)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{5}, 5},
		{[]time.Duration{9, 1, 5}, 5},
		{[]time.Duration{4, 1, 3, 2}, 2}, // (2+3)/2 rounded down in integer ns
		{[]time.Duration{7, 7, 1, 100, 7}, 7},
	}
	for _, tt := range tests {
		if got := median(slices.Clone(tt.in)); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestJudge(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name               string
		ts, ch             summary
		wantSpeed, wantErr bool
		wantSpeedup        float64
	}{
		{"both met", summary{medWall: 200 * ms, medErr: ms / 4}, summary{medWall: 5000 * ms, medErr: ms}, true, true, 25},
		{"too slow", summary{medWall: 600 * ms, medErr: ms / 4}, summary{medWall: 5000 * ms, medErr: ms}, false, true, 5000.0 / 600},
		{"too inaccurate", summary{medWall: 100 * ms, medErr: 600 * time.Microsecond}, summary{medWall: 5000 * ms, medErr: ms}, true, false, 50},
		{"exactly at targets", summary{medWall: 500 * ms, medErr: ms / 2}, summary{medWall: 5000 * ms, medErr: ms}, true, true, 10},
		{"chrony exact", summary{medWall: 100 * ms, medErr: 1}, summary{medWall: 5000 * ms}, true, false, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := judge(tt.ts, tt.ch)
			if v.speedOK != tt.wantSpeed || v.errOK != tt.wantErr {
				t.Errorf("speedOK, errOK = %v, %v; want %v, %v (%+v)", v.speedOK, v.errOK, tt.wantSpeed, tt.wantErr, v)
			}
			if math.Abs(v.speedup-tt.wantSpeedup) > 1e-9 {
				t.Errorf("speedup %v, want %v", v.speedup, tt.wantSpeedup)
			}
		})
	}
}

func TestReportTable(t *testing.T) {
	const off = 250 * time.Millisecond
	res := results{
		timesync: []runResult{{150 * time.Millisecond, off + 100*time.Microsecond}, {160 * time.Millisecond, off - 300*time.Microsecond}, {140 * time.Millisecond, off + 200*time.Microsecond}},
		chrony:   []runResult{{4900 * time.Millisecond, off + time.Millisecond}, {5000 * time.Millisecond, off - 2*time.Millisecond}, {4800 * time.Millisecond, off + 1500*time.Microsecond}},
	}
	var b strings.Builder
	ok := report(&b, options{offset: off}, res)
	out := b.String()
	if !ok {
		t.Errorf("report = false, want true for 32.7× and 0.13×:\n%s", out)
	}
	for _, want := range []string{"timesync", "chronyd -Q", "0.150 s", "4.900 s", "0.200 ms", "1.500 ms", "2.000 ms", "32.7×", "0.13×", "PASS"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
