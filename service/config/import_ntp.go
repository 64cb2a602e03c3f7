package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Reasons shared by the ntp.conf and chrony.conf importers.
const (
	whyAuth     = "authentication (symmetric keys, Autokey, NTS) is not supported"
	whyLeapFile = "timesync takes leap seconds from the servers' leap indicator"
	whyLogs     = "timesync logs through the system log and keeps no statistics files"
	whyInclude  = "timesync reads one file: import the included files separately and merge them"
	whyRefclock = "reference clocks are not supported"
	whyPeer     = "symmetric peering is not supported; make it a server if it should be a time source"
	whyBcast    = "broadcast, multicast and manycast modes are not supported"
	whyTuning   = "tuning of the other daemon's algorithms has no timesync equivalent"
	whyOther    = "not supported by timesync"
)

var ntpSkip = map[string]string{
	"peer": whyPeer, "fudge": whyRefclock, "leapfile": whyLeapFile, "includefile": whyInclude,
	"broadcast": whyBcast, "broadcastclient": whyBcast, "multicastclient": whyBcast,
	"manycastclient": whyBcast, "manycastserver": whyBcast, "broadcastdelay": whyBcast,
	"keys": whyAuth, "keysdir": whyAuth, "trustedkey": whyAuth, "requestkey": whyAuth,
	"controlkey": whyAuth, "crypto": whyAuth, "revoke": whyAuth, "automax": whyAuth,
	"statistics": whyLogs, "filegen": whyLogs, "statsdir": whyLogs, "logfile": whyLogs, "logconfig": whyLogs,
	"discard": "the rate limits of \"limited\" are built in",
	"enable":  "ntpd system options have no timesync equivalent",
	"disable": "ntpd system options have no timesync equivalent",
	"mru":     whyTuning, "nic": "use listen ADDRESS for the addresses to serve on",
	"saveconfigdir": whyOther, "setvar": whyOther, "pidfile": whyOther, "rlimit": whyOther, "phone": whyRefclock,
}

// importNTP converts ntpd's ntp.conf (ntp.org 4.2.8, ntpsec).
func importNTP(im *importer, data []byte) {
	eachLine(data, func(n int, line string) {
		toks, _, err := lexLine(line)
		if err != nil {
			im.skip(n, line, "cannot read: "+err.Error())
			return
		}
		if len(toks) == 0 {
			return
		}
		d, args := strings.ToLower(toks[0]), toks[1:]
		switch d {
		case "server", "pool":
			ntpServer(im, n, line, d, args)
		case "restrict":
			ntpRestrict(im, n, line, args)
		case "driftfile":
			if len(args) < 1 || checkDriftFile(args[0]) != nil {
				im.skip(n, line, "driftfile needs an absolute path")
				return
			}
			im.c.DriftFile = args[0]
		case "tinker":
			importTinker(im, n, line, args)
		case "tos":
			ntpTos(im, n, line, args)
		case "interface":
			ntpInterface(im, n, line, args)
		default:
			why, ok := ntpSkip[d]
			if !ok {
				why = whyOther
			}
			im.skip(n, line, why)
		}
	})
	if len(im.c.Listen) == 0 {
		im.note("ntpd answers NTP clients as far as restrict allows; timesync serves time only on listen " +
			"addresses: add \"listen 0.0.0.0\" and \"listen ::\" to keep serving")
	}
}

func ntpServer(im *importer, n int, line, d string, args []string) {
	var fam []string
	for len(args) > 0 && (args[0] == "-4" || args[0] == "-6") {
		fam, args = append(fam, args[0]), args[1:]
	}
	if len(args) == 0 {
		im.skip(n, line, "no address")
		return
	}
	if strings.HasPrefix(args[0], "127.127.") {
		im.skip(n, line, whyRefclock)
		return
	}
	host, port, why := serverSpec(args[0])
	if why != "" {
		im.skip(n, line, why)
		return
	}
	opts, vals, missing := optionArgs(args[1:], set("minpoll maxpoll key version mode ttl"))
	if missing != "" {
		im.skip(n, line, missing+" needs a value")
		return
	}
	var notes []string
	if len(fam) > 0 {
		notes = append(notes, strings.Join(fam, " ")+" (address family) is not supported: both families are used")
	}
	s := Server{Address: host, Port: port, MinPoll: DefaultMinPoll, MaxPoll: DefaultMaxPoll}
	for _, o := range opts {
		switch o {
		case "iburst":
			s.IBurst = true
		case "prefer":
			s.Prefer = true
		case "minpoll", "maxpoll":
			v, ok := atoiOr(vals[o], 0)
			if !ok {
				notes = append(notes, fmt.Sprintf("%s %q is not a number, using the default", o, vals[o]))
				continue
			}
			v = clampPoll(o, v, &notes)
			if o == "minpoll" {
				s.MinPoll = v
			} else {
				s.MaxPoll = v
			}
		case "noselect":
			im.skip(n, line, "noselect: a server that is never used for synchronization has no timesync equivalent")
			return
		case "key", "autokey":
			notes = append(notes, o+": "+whyAuth)
		case "burst":
			notes = append(notes, "burst is not supported (iburst is)")
		default:
			notes = append(notes, o+" is not supported")
		}
	}
	im.addSource(n, line, d, s, Pool{Name: host, Port: port, IBurst: s.IBurst, MaxSources: DefaultMaxSources}, notes)
}

// ntpRestrict converts a restrict line. Repeats for the same address
// combine their flags, as in ntpd; "-4 default" and "-6 default" become
// the one default rule.
func ntpRestrict(im *importer, n int, line string, args []string) {
	var fam string
	for len(args) > 0 && (args[0] == "-4" || args[0] == "-6") {
		fam, args = args[0], args[1:]
	}
	if len(args) == 0 {
		im.skip(n, line, "no address")
		return
	}
	target, rest := args[0], args[1:]
	switch strings.ToLower(target) {
	case "source":
		im.skip(n, line, "timesync never applies restrict rules to its own servers and pools")
		return
	case "default":
	default:
		if _, err := netip.ParseAddr(target); err != nil && !strings.Contains(target, "/") {
			im.skip(n, line, "restrict by host name is not supported: give an address")
			return
		}
	}
	mask := ""
	if len(rest) >= 2 && strings.EqualFold(rest[0], "mask") {
		mask, rest = rest[1], rest[2:]
	}
	pfx, err := parseRestrictTarget(target, mask)
	if err != nil {
		im.skip(n, line, err.Error())
		return
	}
	r := Restrict{Default: !pfx.IsValid(), Addr: pfx.Masked()}
	var notes []string
	for i := 0; i < len(rest); i++ {
		f := strings.ToLower(rest[i])
		switch f {
		case "notrust":
			// Every packet is unauthenticated for timesync: ntpd would
			// refuse them all.
			r.Ignore = true
			notes = append(notes, "notrust (refuse unauthenticated packets) became ignore: timesync has no authentication")
		case "ippeerlimit", "serverresponse":
			if i+1 < len(rest) {
				i++
			}
			notes = append(notes, f+" is not supported")
		default:
			if !setRestrictFlag(&r, f) {
				notes = append(notes, f+" is not supported")
			}
		}
	}
	key := restrictKey(r)
	if first, ok := im.line[key]; ok {
		for i, o := range im.c.Restrict {
			if restrictKey(o) != key {
				continue
			}
			if o != r {
				what := "the rules for the same address"
				if r.Default && fam != "" {
					what = "timesync has one default rule for IPv4 and IPv6: the flags of both"
				}
				notes = append(notes, fmt.Sprintf("%s (line %d and this one) were combined", what, first))
			}
			im.c.Restrict[i] = orFlags(o, r)
		}
	} else {
		im.line[key] = n
		im.c.Restrict = append(im.c.Restrict, r)
	}
	if len(notes) > 0 {
		im.partial(n, line, joinNotes(notes))
	}
}

// importTinker converts "tinker KEY SEC ..." (ntpd) lines.
func importTinker(im *importer, n int, line string, args []string) {
	var notes []string
	kept := false
	for i := 0; i+1 < len(args); i += 2 {
		k := strings.ToLower(args[i])
		var d *time.Duration
		switch k {
		case "step":
			d = &im.c.Tinker.Step
		case "stepout":
			d = &im.c.Tinker.Stepout
		case "panic":
			d = &im.c.Tinker.Panic
		default:
			notes = append(notes, k+" is not supported")
			continue
		}
		v, err := parseSeconds(args[i+1])
		if err != nil {
			notes = append(notes, k+": "+err.Error())
			continue
		}
		*d, kept = v, true
	}
	if len(args)%2 == 1 {
		notes = append(notes, args[len(args)-1]+" has no value")
	}
	switch {
	case !kept:
		im.skip(n, line, "nothing convertible: "+joinNotes(notes))
	case len(notes) > 0:
		im.partial(n, line, joinNotes(notes))
	}
}

func ntpTos(im *importer, n int, line string, args []string) {
	var notes []string
	kept := false
	for i := 0; i+1 < len(args); i += 2 {
		k := strings.ToLower(args[i])
		if k != "minsane" {
			notes = append(notes, k+" is not supported")
			continue
		}
		v, err := parseInt("minsane", args[i+1], 1, 64)
		if err != nil {
			notes = append(notes, err.Error())
			continue
		}
		im.c.MinSources, kept = v, true
	}
	switch {
	case !kept:
		im.skip(n, line, "only tos minsane (minsources) is supported")
	case len(notes) > 0:
		im.partial(n, line, joinNotes(notes))
	}
}

// ntpInterface converts "interface listen ADDRESS"; the rest of ntpd's
// interface selection has no equivalent.
func ntpInterface(im *importer, n int, line string, args []string) {
	if len(args) == 2 && strings.EqualFold(args[0], "listen") {
		if hp, err := parseListen(args[1]); err == nil {
			im.addListen(hp)
			return
		}
	}
	im.skip(n, line, "only \"interface listen ADDRESS\" is converted (to listen ADDRESS)")
}
