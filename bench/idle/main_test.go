package main

import (
	"slices"
	"strings"
	"testing"
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
