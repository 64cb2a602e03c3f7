package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

var chronySkip = map[string]string{
	"peer": whyPeer, "refclock": whyRefclock, "leapsectz": whyLeapFile,
	"include": whyInclude, "confdir": whyInclude, "sourcedir": whyInclude,
	"keyfile": whyAuth, "ntsdumpdir": whyAuth, "ntsserverkey": whyAuth, "ntsservercert": whyAuth,
	"ntstrustedcerts": whyAuth, "ntsport": whyAuth, "ntsrotate": whyAuth, "nosystemcert": whyAuth,
	"logdir": whyLogs, "log": whyLogs, "dumpdir": whyLogs, "logchange": whyLogs, "logbanner": whyLogs,
	"cmdallow":       "the control API is a local socket; use control-group for who may change settings",
	"cmddeny":        "the control API is a local socket; use control-group for who may change settings",
	"bindcmdaddress": "the control API is a local socket", "cmdport": "the control API is a local socket",
	"rtcsync":  "no equivalent option: the clock driver decides how the kernel's RTC sync is fed",
	"rtcfile":  "no equivalent option: the clock driver decides how the kernel's RTC sync is fed",
	"rtconutc": "no equivalent option", "rtcdevice": "no equivalent option", "rtcautotrim": "no equivalent option",
	"local": "serving the local clock as a fallback reference is not supported: an unsynchronized " +
		"timesync answers with stratum 16",
	"initstepslew":  "use tinker step: timesync may step at the first update anyway",
	"hwtimestamp":   "hardware timestamping is not supported",
	"maxupdateskew": whyTuning, "maxchange": whyTuning, "maxdistance": whyTuning, "maxslewrate": whyTuning,
	"corrtimeratio": whyTuning, "maxclockerror": whyTuning, "maxdrift": whyTuning, "maxjitter": whyTuning,
	"combinelimit": whyTuning, "reselectdist": whyTuning, "stratumweight": whyTuning, "clockprecision": whyTuning,
	"ratelimit": "the rate limits of restrict ... limited are built in", "clientloglimit": whyTuning,
	"noclientlog": whyTuning, "smoothtime": "leap smearing is not supported",
	"leapsecmode": "timesync handles leap seconds itself", "manual": "manual time input is not supported",
	"user": "the service runs as its platform's service account", "lock_all": whyOther, "sched_priority": whyOther,
	"pidfile": whyOther, "mailonchange": whyOther, "fallbackdrift": whyTuning, "tempcomp": whyTuning,
}

// chronyAccess is one allow or deny line, applied at the end in order.
type chronyAccess struct {
	n     int
	line  string
	allow bool
	all   bool
	dflt  bool // no subnet: everything
	pfx   netip.Prefix
}

// importChrony converts chronyd's chrony.conf (chrony 3 and 4).
func importChrony(im *importer, data []byte) {
	var access []chronyAccess
	var binds []struct {
		n    int
		line string
		addr string
	}
	port, portLine, portText := DefaultPort, 0, ""
	makestep := false
	eachLine(data, func(n int, line string) {
		// chrony comments start with #, %, ; or !.
		if t := strings.TrimSpace(line); t == "" || strings.ContainsAny(t[:1], "#%;!") {
			return
		}
		f := strings.Fields(line)
		d, args := strings.ToLower(f[0]), f[1:]
		switch d {
		case "server", "pool":
			chronyServer(im, n, line, d, args)
		case "makestep":
			makestep = chronyMakestep(im, n, line, args) || makestep
		case "driftfile":
			if len(args) < 1 || checkDriftFile(args[0]) != nil {
				im.skip(n, line, "driftfile needs an absolute path")
				return
			}
			im.c.DriftFile = args[0]
		case "minsources":
			v, err := parseInt("minsources", strings.Join(args, " "), 1, 64)
			if err != nil {
				im.skip(n, line, err.Error())
				return
			}
			im.c.MinSources = v
		case "allow", "deny":
			a, why := chronyAccessLine(n, line, d == "allow", args)
			if why != "" {
				im.skip(n, line, why)
				return
			}
			access = append(access, a)
		case "bindaddress":
			if len(args) != 1 {
				im.skip(n, line, "want one address")
				return
			}
			binds = append(binds, struct {
				n    int
				line string
				addr string
			}{n, line, args[0]})
		case "port":
			v, err := parseInt("port", strings.Join(args, " "), 0, 65535)
			if err != nil {
				im.skip(n, line, err.Error())
				return
			}
			port, portLine, portText = v, n, line
		default:
			why, ok := chronySkip[d]
			if !ok {
				why = whyOther
			}
			im.skip(n, line, why)
		}
	})
	if !makestep {
		im.note("there is no makestep: chronyd never steps the clock, timesync steps offsets above " +
			formatSeconds(im.c.Tinker.Step) + " s; add \"tinker step 0\" to never step")
	}
	chronyApplyAccess(im, access)

	serving := false
	for _, a := range access {
		serving = serving || a.allow
	}
	switch {
	case !serving:
		for _, b := range binds {
			im.skip(b.n, b.line, "there is no allow: chronyd serves no one")
		}
		if portLine > 0 {
			im.skip(portLine, portText, "there is no allow: chronyd serves no one")
		}
	case port == 0:
		im.partial(portLine, portText, "port 0 turns chronyd's server off: no listen directive was added, the allow rules are kept as restrict rules")
	default:
		var added []string
		for _, b := range binds {
			a, err := netip.ParseAddr(b.addr)
			if err != nil {
				im.skip(b.n, b.line, fmt.Sprintf("%q is not an IP address", b.addr))
				continue
			}
			hp := net.JoinHostPort(a.String(), strconv.Itoa(port))
			im.addListen(hp)
			added = append(added, hp)
		}
		if len(added) == 0 {
			for _, hp := range []string{"0.0.0.0:" + strconv.Itoa(port), "[::]:" + strconv.Itoa(port)} {
				im.addListen(hp)
				added = append(added, hp)
			}
		}
		first := access[0]
		for _, a := range access {
			if a.allow {
				first = a
				break
			}
		}
		im.partial(first.n, first.line, "chronyd serves time once an allow is present: added listen "+strings.Join(added, ", "))
	}
}

func chronyServer(im *importer, n int, line, d string, args []string) {
	if len(args) == 0 {
		im.skip(n, line, "no address")
		return
	}
	host, port, why := serverSpec(args[0])
	if why != "" {
		im.skip(n, line, why)
		return
	}
	withArg := set(`minpoll maxpoll port maxsources key maxdelay maxdelayratio maxdelaydevratio maxdelayquant
		mindelay asymmetry offset minsamples maxsamples filter polltarget presend minstratum version
		ntsport certset extfield`)
	opts, vals, missing := optionArgs(args[1:], withArg)
	if missing != "" {
		im.skip(n, line, missing+" needs a value")
		return
	}
	var notes []string
	s := Server{Address: host, Port: port, MinPoll: DefaultMinPoll, MaxPoll: DefaultMaxPoll}
	p := Pool{Name: host, Port: port, MaxSources: DefaultMaxSources}
	for _, o := range opts {
		v, numOK := atoiOr(vals[o], 0)
		if withArg[o] && !numOK && o != "filter" {
			notes = append(notes, fmt.Sprintf("%s %q is not a whole number, ignored", o, vals[o]))
			continue
		}
		switch o {
		case "iburst":
			s.IBurst, p.IBurst = true, true
		case "prefer":
			s.Prefer = true
		case "minpoll":
			s.MinPoll = clampPoll(o, v, &notes)
		case "maxpoll":
			s.MaxPoll = clampPoll(o, v, &notes)
		case "port":
			if v < 1 || v > 65535 {
				notes = append(notes, fmt.Sprintf("port %d is out of range, using %d", v, DefaultPort))
				continue
			}
			s.Port, p.Port = v, v
		case "maxsources":
			if d != "pool" {
				notes = append(notes, "maxsources applies to pools only")
				continue
			}
			p.MaxSources = min(max(v, 1), MaxMaxSources)
			if p.MaxSources != v {
				notes = append(notes, fmt.Sprintf("maxsources %d is outside 1..%d, using %d", v, MaxMaxSources, p.MaxSources))
			}
		case "noselect":
			im.skip(n, line, "noselect: a source that is never used for synchronization has no timesync equivalent")
			return
		case "key", "nts":
			notes = append(notes, o+": "+whyAuth+" — this source is now used without it")
		case "burst":
			notes = append(notes, "burst is not supported (iburst is)")
		default:
			notes = append(notes, o+" is not supported")
		}
	}
	im.addSource(n, line, d, s, p, notes)
}

// chronyMakestep converts "makestep THRESHOLD LIMIT" and reports whether it
// could.
func chronyMakestep(im *importer, n int, line string, args []string) bool {
	if len(args) != 2 {
		im.skip(n, line, "want makestep THRESHOLD LIMIT")
		return false
	}
	step, err := parseSeconds(args[0])
	if err != nil {
		im.skip(n, line, err.Error())
		return false
	}
	im.c.Tinker.Step = step
	limit := "in the first " + args[1] + " clock updates"
	if args[1] == "-1" {
		limit = "at any clock update"
	}
	im.partial(n, line, "kept as tinker step "+formatSeconds(step)+"; chronyd steps only "+limit+
		", which has no equivalent: timesync may step at the first update and later steps an offset above the threshold that persists for stepout ("+
		formatSeconds(im.c.Tinker.Stepout)+" s)")
	return true
}

// chronyAccessLine reads "allow|deny [all] [SUBNET]"; a non-empty why
// is the reason it cannot be converted.
func chronyAccessLine(n int, line string, allow bool, args []string) (chronyAccess, string) {
	a := chronyAccess{n: n, line: line, allow: allow}
	if len(args) > 0 && strings.EqualFold(args[0], "all") {
		a.all, args = true, args[1:]
	}
	switch len(args) {
	case 0:
		a.dflt = true
		return a, ""
	case 1:
	default:
		return a, "want [all] [SUBNET]"
	}
	pfx, err := chronySubnet(args[0])
	if err != nil {
		return a, err.Error()
	}
	a.pfx = pfx
	return a, ""
}

// chronySubnet reads chrony's subnet forms: ADDRESS, ADDRESS/BITS and
// the IPv4 shorthand of 1 to 3 octets ("192.168" = 192.168.0.0/16). The
// prefix is masked, as chronyd does.
func chronySubnet(s string) (netip.Prefix, error) {
	addrPart, bitsPart, hasBits := strings.Cut(s, "/")
	bits := -1
	if hasBits {
		b, err := strconv.Atoi(bitsPart)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a subnet", s)
		}
		bits = b
	}
	if !strings.Contains(addrPart, ":") {
		parts := strings.Split(addrPart, ".")
		if len(parts) < 4 {
			for _, p := range parts {
				if _, err := strconv.Atoi(p); err != nil {
					return netip.Prefix{}, fmt.Errorf("%q: host names in allow/deny are not supported, give an address or subnet", s)
				}
			}
			if !hasBits {
				bits = 8 * len(parts)
			}
			for len(parts) < 4 {
				parts = append(parts, "0")
			}
			addrPart = strings.Join(parts, ".")
		}
	}
	a, err := netip.ParseAddr(addrPart)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q: host names in allow/deny are not supported, give an address or subnet", s)
	}
	if bits < 0 {
		bits = a.BitLen()
	}
	pfx, err := a.WithZone("").Prefix(bits)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a subnet", s)
	}
	return pfx, nil
}

// chronyApplyAccess turns allow/deny lines into restrict rules. chronyd
// denies every client by default and lets the most specific subnet decide,
// like restrict; a later line for the same subnet wins, and "all" also
// drops the rules for the subnets inside it.
func chronyApplyAccess(im *importer, access []chronyAccess) {
	if len(access) == 0 {
		return
	}
	var rules []Restrict
	rules = append(rules, Restrict{Default: true, Ignore: true})
	for _, a := range access {
		r := Restrict{Default: a.dflt, Addr: a.pfx, Ignore: !a.allow}
		if a.all {
			var kept []Restrict
			for _, o := range rules {
				inside := a.dflt || (!o.Default && o.Addr.Addr().Is4() == a.pfx.Addr().Is4() &&
					o.Addr.Bits() >= a.pfx.Bits() && a.pfx.Contains(o.Addr.Addr()))
				if !inside || o.Default {
					kept = append(kept, o)
				}
			}
			rules = kept
		}
		replaced := false
		for i := range rules {
			if restrictKey(rules[i]) == restrictKey(r) {
				rules[i], replaced = r, true
			}
		}
		if !replaced {
			rules = append(rules, r)
		}
	}
	im.c.Restrict = append(im.c.Restrict, rules...)
}
