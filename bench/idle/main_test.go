package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSchedstat(t *testing.T) {
	got, err := parseSchedstat("123456789 2000 17\n")
	if err != nil || got != 123456789*time.Nanosecond {
		t.Errorf("got %v, %v; want 123.456789ms", got, err)
	}
	if _, err := parseSchedstat(""); err == nil {
		t.Error("empty schedstat: want an error")
	}
}

func TestParseStatus(t *testing.T) {
	s := "Name:\tchronyd\nVmPeak:\t   10000 kB\nVmHWM:\t    4096 kB\nVmRSS:\t    3072 kB\nThreads:\t1\n"
	rss, hwm, threads, err := parseStatus(s)
	if err != nil || rss != 3072<<10 || hwm != 4096<<10 || threads != 1 {
		t.Errorf("got rss %d hwm %d threads %d err %v; want 3 MB, 4 MB, 1", rss, hwm, threads, err)
	}
	if _, _, _, err := parseStatus("Name:\tx\n"); err == nil {
		t.Error("status without VmRSS: want an error")
	}
}

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
