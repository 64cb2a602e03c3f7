package config

import (
	"net/netip"
	"strconv"
	"strings"
)

// layout remembers a parsed file's comments and directive order.
type layout struct {
	file  string
	items []item
}

// item is one line of the file that is not a directive (key == "": a
// comment or, if text is empty, a blank line), or one directive with the
// comment lines directly above it and its trailing comment.
type item struct {
	text   string
	key    string
	kind   string
	doc    []string
	inline string
	line   int
}

// lineOf returns the line of the n-th (0-based) directive with key, or 0.
func (l *layout) lineOf(key string, n int) int {
	if l == nil {
		return 0
	}
	for _, it := range l.items {
		if it.key == key {
			if n == 0 {
				return it.line
			}
			n--
		}
	}
	return 0
}

// kinds is the order in which directives of a Config without layout (or
// new kinds of directive) are written.
var kinds = []string{"server", "pool", "minsources", "tinker", "driftfile", "restrict", "listen", "metrics", "control-group"}

// directive is one line Format will write.
type directive struct {
	kind, key, text string
}

// directives lists what c holds, in kinds order. Singletons are written
// when they differ from the default, or when the parsed file had them.
func (c *Config) directives() []directive {
	var ds []directive
	add := func(kind, key, text string) { ds = append(ds, directive{kind, key, text}) }
	had := func(key string) bool { return c.layout.lineOf(key, 0) > 0 }
	for _, k := range kinds {
		switch k {
		case "server":
			for _, s := range c.Servers {
				add(k, serverKey(s), formatServer(s))
			}
		case "pool":
			for _, p := range c.Pools {
				add(k, poolKey(p), formatPool(p))
			}
		case "minsources":
			if ms := orDefault(c.MinSources, DefaultMinSources); ms != DefaultMinSources || had(k) {
				add(k, k, "minsources "+strconv.Itoa(ms))
			}
		case "tinker":
			if c.Tinker != DefaultTinker() || had(k) {
				t := c.Tinker
				add(k, k, "tinker step "+formatSeconds(t.Step)+" stepout "+formatSeconds(t.Stepout)+" panic "+formatSeconds(t.Panic))
			}
		case "driftfile":
			if c.DriftFile != "" {
				add(k, k, "driftfile "+quote(c.DriftFile))
			}
		case "restrict":
			for _, r := range c.Restrict {
				add(k, restrictKey(r), formatRestrict(r))
			}
		case "listen":
			for _, l := range c.Listen {
				hp, err := parseListen(l)
				if err != nil {
					hp = l // invalid: Validate reports it; write it as it is
				}
				add(k, "listen "+hp, "listen "+formatListen(hp))
			}
		case "metrics":
			if c.Metrics != "" {
				add(k, k, "metrics "+c.Metrics)
			}
		case "control-group":
			if c.ControlGroup != "" {
				add(k, k, "control-group "+quote(c.ControlGroup))
			}
		}
	}
	return ds
}

// Format returns the configuration as text. A parsed configuration keeps
// its comments, blank lines and order: each directive still present is
// written where it was, with the comments directly above it and its
// trailing comment; a removed directive takes those comments along; a new
// directive follows the last one of its kind in the file, or goes to the
// end. Directives themselves are written canonically (lower case, single
// spaces, defaults left out).
func (c *Config) Format() []byte {
	ds := c.directives()
	var items []item
	if c.layout != nil {
		items = c.layout.items
	}

	// Bind each directive to the layout item with the same key.
	bound := make([]int, len(items)) // item index → directive index + 1
	isBound := make([]bool, len(ds))
	for di, d := range ds {
		for ii, it := range items {
			if it.key == d.key && bound[ii] == 0 {
				bound[ii] = di + 1
				isBound[di] = true
				break
			}
		}
	}
	// New directives go after the last item of their kind, or to the end.
	after := map[int][]int{} // item index → new directive indexes
	var atEnd []int
	for di, d := range ds {
		if isBound[di] {
			continue
		}
		last := -1
		for ii, it := range items {
			if it.kind == d.kind {
				last = ii
			}
		}
		if last >= 0 {
			after[last] = append(after[last], di)
		} else {
			atEnd = append(atEnd, di)
		}
	}

	var lines []string
	emit := func(di int) { lines = append(lines, ds[di].text) }
	for ii, it := range items {
		switch {
		case it.key == "":
			lines = append(lines, it.text)
		case bound[ii] != 0:
			lines = append(lines, it.doc...)
			text := ds[bound[ii]-1].text
			if it.inline != "" {
				text += " " + it.inline
			}
			lines = append(lines, text)
		}
		for _, di := range after[ii] {
			emit(di)
		}
	}
	prevKind := ""
	if len(items) > 0 {
		prevKind = "\x00" // separate appended directives from the file's last line
	}
	for _, di := range atEnd {
		if ds[di].kind != prevKind && prevKind != "" {
			lines = append(lines, "")
		}
		prevKind = ds[di].kind
		emit(di)
	}

	// Canonical blank lines: none at the start or end, never two in a row.
	var b strings.Builder
	blank := true
	pendingBlank := false
	for _, l := range lines {
		if l == "" {
			pendingBlank = !blank
			continue
		}
		if pendingBlank {
			b.WriteByte('\n')
			pendingBlank = false
		}
		b.WriteString(l)
		b.WriteByte('\n')
		blank = false
	}
	return []byte(b.String())
}

func formatServer(s Server) string {
	var b strings.Builder
	b.WriteString("server ")
	b.WriteString(formatHostPort(canonicalHost(s.Address), s.Port))
	if s.IBurst {
		b.WriteString(" iburst")
	}
	if s.Prefer {
		b.WriteString(" prefer")
	}
	if s.MinPoll != 0 && s.MinPoll != DefaultMinPoll {
		b.WriteString(" minpoll " + strconv.Itoa(s.MinPoll))
	}
	if s.MaxPoll != 0 && s.MaxPoll != DefaultMaxPoll {
		b.WriteString(" maxpoll " + strconv.Itoa(s.MaxPoll))
	}
	return b.String()
}

func formatPool(p Pool) string {
	var b strings.Builder
	b.WriteString("pool ")
	b.WriteString(formatHostPort(canonicalHost(p.Name), p.Port))
	if p.IBurst {
		b.WriteString(" iburst")
	}
	if p.MaxSources != 0 && p.MaxSources != DefaultMaxSources {
		b.WriteString(" maxsources " + strconv.Itoa(p.MaxSources))
	}
	return b.String()
}

// formatHostPort writes host with the port only if it is not the default;
// an IPv6 address gets brackets only when a port follows.
func formatHostPort(host string, port int) string {
	if port == 0 || port == DefaultPort {
		return host
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// formatListen writes "ADDRESS:PORT" without the default port.
func formatListen(hp string) string {
	host, port, _, err := splitHostPort(hp)
	if err != nil {
		return quote(hp)
	}
	return formatHostPort(host, port)
}

func formatRestrict(r Restrict) string {
	var b strings.Builder
	b.WriteString("restrict ")
	if r.Default {
		b.WriteString("default")
	} else {
		b.WriteString(fmtPrefix(r.Addr))
	}
	for _, f := range restrictFlags {
		if *f.get(&r) {
			b.WriteString(" " + f.name)
		}
	}
	return b.String()
}

// fmtPrefix writes a prefix in ntp.conf style: a host as a bare address,
// a network as "ADDRESS mask MASK".
func fmtPrefix(p netip.Prefix) string {
	a := p.Addr()
	if !p.IsValid() {
		return "invalid"
	}
	if p.Bits() == a.BitLen() {
		return a.String()
	}
	return a.String() + " mask " + bitsToMask(p.Bits(), a.Is4()).String()
}

func bitsToMask(bits int, v4 bool) netip.Addr {
	n := 16
	if v4 {
		n = 4
	}
	b := make([]byte, n)
	for i := 0; i < bits; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
