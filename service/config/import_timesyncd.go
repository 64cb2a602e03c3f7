package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// importTimesyncd converts systemd-timesyncd's timesyncd.conf: the [Time]
// section's NTP= and FallbackNTP= lists become servers, the poll interval
// bounds their minpoll/maxpoll. timesyncd uses one server at a time; these
// are then all used together.
func importTimesyncd(im *importer, data []byte) {
	type entry struct {
		n    int
		line string
		addr string
	}
	var ntp, fallback []entry
	var pollMin, pollMax struct {
		n    int
		line string
		exp  int
	}
	section := ""
	eachLine(data, func(n int, line string) {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' || t[0] == ';' {
			return
		}
		if t[0] == '[' && strings.HasSuffix(t, "]") {
			section = t[1 : len(t)-1]
			return
		}
		k, v, ok := strings.Cut(t, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok {
			im.skip(n, line, "not KEY=VALUE")
			return
		}
		if section != "Time" {
			im.skip(n, line, fmt.Sprintf("section [%s] is not timesyncd's [Time]", section))
			return
		}
		switch k {
		case "NTP", "FallbackNTP":
			list := &ntp
			if k == "FallbackNTP" {
				list = &fallback
			}
			if v == "" { // an empty assignment resets the list
				*list = nil
				return
			}
			for _, a := range strings.Fields(v) {
				*list = append(*list, entry{n, line, a})
			}
		case "PollIntervalMinSec", "PollIntervalMaxSec":
			sec, err := systemdSeconds(v)
			if err != nil {
				im.skip(n, line, err.Error())
				return
			}
			var notes []string
			exp := clampPoll(map[string]string{"PollIntervalMinSec": "minpoll", "PollIntervalMaxSec": "maxpoll"}[k], pollExp(sec), &notes)
			if f := float64(int64(1) << exp); f != sec {
				notes = append(notes, fmt.Sprintf("%s s is not a power of two: using 2^%d = %s s", strconv.FormatFloat(sec, 'f', -1, 64), exp, strconv.FormatFloat(f, 'f', -1, 64)))
			}
			if k == "PollIntervalMinSec" {
				pollMin.n, pollMin.line, pollMin.exp = n, line, exp
			} else {
				pollMax.n, pollMax.line, pollMax.exp = n, line, exp
			}
			if len(notes) > 0 {
				im.partial(n, line, joinNotes(notes))
			}
		case "RootDistanceMaxSec":
			im.skip(n, line, "the root distance limit is built in (RFC 5905's 1.5 s)")
		case "ConnectionRetrySec":
			im.skip(n, line, "no equivalent: unreachable servers are polled at their poll interval")
		case "SaveIntervalSec":
			im.skip(n, line, "no equivalent: timesync keeps a drift file instead of saving the time")
		default:
			im.skip(n, line, whyOther)
		}
	})

	lo, hi := DefaultMinPoll, DefaultMaxPoll
	if pollMin.n > 0 {
		lo = pollMin.exp
	}
	if pollMax.n > 0 {
		hi = pollMax.exp
	}
	if lo > hi {
		n, line := pollMin.n, pollMin.line
		if pollMax.n > n {
			n, line = pollMax.n, pollMax.line
		}
		im.partial(n, line, fmt.Sprintf("minpoll %d would exceed maxpoll %d: using %d for both", lo, hi, hi))
		lo = hi
	}
	add := func(e entry) bool {
		host, port, why := serverSpec(e.addr)
		if why != "" {
			im.skip(e.n, e.line, e.addr+": "+why)
			return false
		}
		return im.addServer(e.n, e.line, Server{Address: host, Port: port, MinPoll: lo, MaxPoll: hi})
	}
	for _, e := range ntp {
		add(e)
	}
	noted := map[int]bool{}
	for _, e := range fallback {
		if add(e) && !noted[e.n] {
			noted[e.n] = true
			im.partial(e.n, e.line, "FallbackNTP servers became ordinary servers: timesync uses them all the time, "+
				"not only when no other server is known")
		}
	}
	if len(im.c.Servers) == 0 {
		im.note("no NTP= or FallbackNTP= server: timesyncd falls back to servers compiled in (on Debian " +
			"the debian.pool.ntp.org pool); the result has no time source, add a server or pool")
	}
}

// systemdSeconds reads a systemd time span in seconds: "32", "32s",
// "2min", "1h 30min".
func systemdSeconds(v string) (float64, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
		return f, nil
	}
	units := map[string]time.Duration{
		"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "sec": time.Second,
		"m": time.Minute, "min": time.Minute, "h": time.Hour, "hr": time.Hour, "d": 24 * time.Hour,
	}
	var total time.Duration
	for _, part := range strings.Fields(v) {
		i := strings.IndexFunc(part, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i <= 0 {
			return 0, fmt.Errorf("%q is not a time span", v)
		}
		num, err := strconv.ParseFloat(part[:i], 64)
		u, ok := units[part[i:]]
		if err != nil || !ok {
			return 0, fmt.Errorf("%q is not a time span", v)
		}
		total += time.Duration(num * float64(u))
	}
	if total <= 0 {
		return 0, fmt.Errorf("%q is not a time span", v)
	}
	return total.Seconds(), nil
}
