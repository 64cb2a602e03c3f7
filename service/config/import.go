package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Dialect names a foreign configuration format Import understands.
type Dialect string

const (
	DialectNTP       Dialect = "ntp.conf"       // ntpd (ntp.org) and ntpsec
	DialectChrony    Dialect = "chrony.conf"    // chronyd
	DialectTimesyncd Dialect = "timesyncd.conf" // systemd-timesyncd
)

// Skipped reports a line of an imported file that was not converted, or
// converted only in part (Partial), and why. Line 0 is a note about the
// file as a whole.
type Skipped struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Text    string `json:"text"` // the line as written, trimmed
	Why     string `json:"why"`
	Partial bool   `json:"partial"` // the line was converted, but not all of its meaning
}

// String returns one line for the user, e.g.
// `ntp.conf:7: skipped "leapfile …": why` or `chrony.conf:30: kept in part "makestep 1 3": why`.
func (s Skipped) String() string {
	switch {
	case s.Line == 0:
		return s.File + ": note: " + s.Why
	case s.Partial:
		return fmt.Sprintf("%s:%d: kept in part %q: %s", s.File, s.Line, s.Text, s.Why)
	}
	return fmt.Sprintf("%s:%d: skipped %q: %s", s.File, s.Line, s.Text, s.Why)
}

// maxImport bounds the size of a file Import reads, in bytes.
const maxImport = 1 << 20

// Import converts the configuration of another NTP daemon: an ntp.conf
// (ntpd, ntpsec), a chrony.conf or a systemd timesyncd.conf, told apart by
// Detect. What maps is kept; every line that does not map, or maps only in
// part, is reported in Skipped with the reason. The Config has a header
// comment naming the source and no other comments.
//
// A file that is not text, that is already a timesync configuration
// (ErrAlreadyTimesync) or of which nothing could be converted
// (ErrNothingImported) is an error rather than an empty result.
func Import(name string, r io.Reader) (*Config, []Skipped, error) {
	data, err := readAllLimited(r, maxImport)
	if err != nil {
		return nil, nil, fmt.Errorf("config: import %s: %w", name, err)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, nil, fmt.Errorf("config: import %s: %w: it is not a text file", name, ErrNothingImported)
	}
	if isTimesync(name, data) {
		return nil, nil, fmt.Errorf("config: import %s: %w; check it with \"timesync config check %s\" and use it as it is", name, ErrAlreadyTimesync, name)
	}
	return importData(Detect(name, data), name, data)
}

// Import's refusals.
var (
	ErrAlreadyTimesync = errors.New("already a timesync configuration")
	ErrNothingImported = errors.New("nothing to import")
)

// timesyncOnly are directives that exist in timesync's format and in none
// of the formats Import reads.
var timesyncOnly = []string{"listen", "metrics", "control-group"}

// isTimesync reports whether data is already a valid timesync
// configuration: it parses as one, and either was written by "timesync
// config import", or is named timesync.conf, or uses a directive only
// timesync has. (A plain list of server lines is valid in both and is
// imported, so that ntp.conf's notes still reach the user.)
func isTimesync(name string, data []byte) bool {
	if _, err := Parse(name, bytes.NewReader(data)); err != nil {
		return false
	}
	if bytes.Contains(data, []byte(`by "timesync config import"`)) || filepath.Base(name) == "timesync.conf" {
		return true
	}
	found := false
	eachLine(data, func(_ int, line string) {
		f := strings.Fields(line)
		if len(f) > 0 && slices.Contains(timesyncOnly, f[0]) {
			found = true
		}
	})
	return found
}

// ImportFile opens path and imports it (see Import).
func ImportFile(path string) (*Config, []Skipped, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: import: %w", err)
	}
	defer f.Close()
	return Import(path, f)
}

// ImportDialect is Import without detection, for a user who knows better.
func ImportDialect(d Dialect, name string, r io.Reader) (*Config, []Skipped, error) {
	data, err := readAllLimited(r, maxImport)
	if err != nil {
		return nil, nil, fmt.Errorf("config: import %s: %w", name, err)
	}
	return importData(d, name, data)
}

func importData(d Dialect, name string, data []byte) (*Config, []Skipped, error) {
	im := &importer{
		file: name,
		c:    &Config{Tinker: DefaultTinker(), MinSources: DefaultMinSources},
		line: map[string]int{},
	}
	switch d {
	case DialectNTP:
		importNTP(im, data)
	case DialectChrony:
		importChrony(im, data)
	case DialectTimesyncd:
		importTimesyncd(im, data)
	default:
		return nil, nil, fmt.Errorf("config: import %s: unknown format %q", name, d)
	}
	im.c.layout = &layout{file: name, items: []item{
		{text: "# Imported from " + strings.Map(printable, name) + " (read as " + string(d) + ") by \"timesync config import\"."},
		{},
	}}
	if err := im.c.Validate(); err != nil {
		// Every value was checked on the way in: this is a bug here.
		return nil, nil, fmt.Errorf("config: import %s: result does not validate: %w", name, err)
	}
	if garbage(data, im.skipped) {
		return nil, nil, fmt.Errorf("config: import %s: %w: no line of it is an ntp.conf, chrony.conf or timesyncd.conf directive (is it one of those?)", name, ErrNothingImported)
	}
	if d != DialectTimesyncd && !hasDirective(data) { // timesyncd's importer says its own
		im.note("it has no directives (only comments or nothing): the result names no time source; add a server or pool")
	}
	slices.SortStableFunc(im.skipped, func(a, b Skipped) int { return a.Line - b.Line })
	return im.c, im.skipped, nil
}

func printable(r rune) rune {
	if r < ' ' || r == 0x7f {
		return '?'
	}
	return r
}

// garbage reports whether data has directives but not one that any of the
// formats knows: every directive line was skipped as unknown or
// unreadable, and none names a directive of ntp.conf or chrony.conf. (A
// file with no directives at all, as the stock timesyncd.conf whose lines
// are all comments, is no error: it means the defaults.)
func garbage(data []byte, skipped []Skipped) bool {
	unknown := map[int]bool{}
	for _, sk := range skipped {
		if sk.Line > 0 && !sk.Partial && (strings.HasPrefix(sk.Why, "not supported") || strings.HasPrefix(sk.Why, "cannot read")) {
			unknown[sk.Line] = true
		}
	}
	directives, known := 0, false
	eachLine(data, func(n int, line string) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			return
		}
		directives++
		f := strings.ToLower(strings.Fields(line)[0])
		if !unknown[n] || ntpOnly[f] || chronyOnly[f] || f == "server" || f == "pool" || f == "peer" {
			known = true
		}
	})
	return directives > 0 && !known
}

// hasDirective reports whether data has a line that is neither blank, a
// comment nor a [section] header.
func hasDirective(data []byte) bool {
	found := false
	eachLine(data, func(_ int, line string) {
		line = strings.TrimSpace(line)
		if line != "" && line[0] != '#' && line[0] != ';' && line[0] != '[' {
			found = true
		}
	})
	return found
}

// Detect tells which format data is in, from the directives it uses and,
// when they do not decide, from the file name. It defaults to ntp.conf.
func Detect(name string, data []byte) Dialect {
	score := map[Dialect]int{}
	eachLine(data, func(_ int, line string) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			return
		}
		if line[0] == '[' && strings.HasSuffix(line, "]") {
			score[DialectTimesyncd] += 3
			return
		}
		f := strings.Fields(line)
		if k, _, ok := strings.Cut(f[0], "="); ok && k != "" {
			score[DialectTimesyncd] += 2
			return
		}
		switch d := strings.ToLower(f[0]); {
		case ntpOnly[d]:
			score[DialectNTP]++
		case chronyOnly[d]:
			score[DialectChrony]++
		case d == "server" || d == "pool":
			for _, o := range f[1:] {
				if chronyServerOnly[strings.ToLower(o)] {
					score[DialectChrony]++
				}
			}
		}
	})
	base := strings.ToLower(filepath.Base(strings.ReplaceAll(name, `\`, "/")))
	switch {
	case strings.Contains(base, "timesyncd"):
		score[DialectTimesyncd] += 2
	case strings.Contains(base, "chrony"):
		score[DialectChrony] += 2
	case strings.Contains(base, "ntp"):
		score[DialectNTP] += 2
	}
	best := DialectNTP
	for _, d := range []Dialect{DialectChrony, DialectTimesyncd} {
		if score[d] > score[best] {
			best = d
		}
	}
	return best
}

var (
	ntpOnly = set(`restrict tinker tos statistics filegen statsdir leapfile logfile fudge peer broadcast
		broadcastclient manycastclient manycastserver multicastclient trustedkey requestkey controlkey
		keys enable disable discard interface includefile crypto setvar logconfig mru`)
	chronyOnly = set(`makestep rtcsync allow deny leapsectz logdir log maxupdateskew keyfile sourcedir
		confdir ntsdumpdir local refclock cmdallow cmddeny bindaddress bindcmdaddress initstepslew
		hwtimestamp maxchange maxdistance rtconutc dumpdir minsources maxslewrate ratelimit
		clientloglimit noclientlog smoothtime leapsecmode rtcfile corrtimeratio`)
	chronyServerOnly = set(`maxsources polltarget nts offline auto_offline presend minstratum
		maxdelay maxdelayratio maxdelaydevratio maxsamples minsamples filter certset extfield`)
)

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// eachLine calls f with each line (1-based number, BOM and CR removed).
func eachLine(data []byte, f func(n int, line string)) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), maxImport+1)
	for n := 1; sc.Scan(); n++ {
		f(n, strings.TrimSuffix(sc.Text(), "\r"))
	}
}

// importer collects the converted configuration and the report.
type importer struct {
	file    string
	c       *Config
	skipped []Skipped
	line    map[string]int // layout key → line it came from
}

func (im *importer) skip(n int, text, why string) {
	im.skipped = append(im.skipped, Skipped{File: im.file, Line: n, Text: strings.TrimSpace(text), Why: why})
}

func (im *importer) partial(n int, text, why string) {
	im.skipped = append(im.skipped, Skipped{File: im.file, Line: n, Text: strings.TrimSpace(text), Why: why, Partial: true})
}

func (im *importer) note(why string) {
	im.skipped = append(im.skipped, Skipped{File: im.file, Why: why, Partial: true})
}

// addServer adds s unless the same server came earlier; it reports whether
// s was added.
func (im *importer) addServer(n int, text string, s Server) bool {
	key := serverKey(s)
	if first, ok := im.line[key]; ok {
		im.skip(n, text, fmt.Sprintf("server %s is already on line %d", s.HostPort(), first))
		return false
	}
	im.line[key] = n
	im.c.Servers = append(im.c.Servers, s)
	return true
}

func (im *importer) addPool(n int, text string, p Pool) bool {
	key := poolKey(p)
	if first, ok := im.line[key]; ok {
		im.skip(n, text, fmt.Sprintf("pool %s is already on line %d", p.HostPort(), first))
		return false
	}
	im.line[key] = n
	im.c.Pools = append(im.c.Pools, p)
	return true
}

func (im *importer) addListen(hp string) {
	if !slices.Contains(im.c.Listen, hp) {
		im.c.Listen = append(im.c.Listen, hp)
	}
}

// clampPoll brings a foreign poll exponent into MinPollLimit..MaxPollLimit
// and says so in *notes.
func clampPoll(name string, v int, notes *[]string) int {
	c := min(max(v, MinPollLimit), MaxPollLimit)
	if c != v {
		*notes = append(*notes, fmt.Sprintf("%s %d is outside %d..%d, using %d", name, v, MinPollLimit, MaxPollLimit, c))
	}
	return c
}

// pollExp returns the poll exponent nearest to an interval in seconds.
func pollExp(sec float64) int {
	if sec <= 0 {
		return MinPollLimit
	}
	return int(math.Round(math.Log2(sec)))
}

// serverSpec parses a foreign server address; a refusal is the reason.
func serverSpec(addr string) (host string, port int, why string) {
	host, port, _, err := splitHostPort(addr)
	if err != nil {
		return "", 0, "cannot read the address: " + err.Error()
	}
	return host, port, ""
}

// optionArgs takes the arguments of a server line apart: options in
// withArg take the next token as value.
func optionArgs(args []string, withArg map[string]bool) (opts []string, vals map[string]string, missing string) {
	vals = map[string]string{}
	for i := 0; i < len(args); i++ {
		o := strings.ToLower(args[i])
		if withArg[o] {
			if i+1 >= len(args) {
				return nil, nil, o
			}
			i++
			vals[o] = args[i]
		}
		opts = append(opts, o)
	}
	return opts, vals, ""
}

// joinNotes writes notes as one sentence list.
func joinNotes(notes []string) string { return strings.Join(notes, "; ") }

func atoiOr(s string, def int) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def, false
	}
	return n, true
}

// addSource finishes a "server" or "pool" line of an imported file, where
// ntp.conf and chrony.conf mean the same: minpoll above maxpoll is raised,
// what a pool cannot carry (prefer, poll bounds) is noted, the source is
// added (p for d == "pool", else s), and whatever was lost is reported.
func (im *importer) addSource(n int, line, d string, s Server, p Pool, notes []string) {
	if s.MinPoll > s.MaxPoll {
		notes = append(notes, fmt.Sprintf("minpoll %d > maxpoll %d, using maxpoll %d", s.MinPoll, s.MaxPoll, s.MinPoll))
		s.MaxPoll = s.MinPoll
	}
	if d == "pool" {
		if s.Prefer {
			notes = append(notes, "prefer is not supported on a pool")
		}
		if s.MinPoll != DefaultMinPoll || s.MaxPoll != DefaultMaxPoll {
			notes = append(notes, "minpoll/maxpoll are not supported on a pool: the defaults apply")
		}
		if !im.addPool(n, line, p) {
			return
		}
	} else if !im.addServer(n, line, s) {
		return
	}
	if len(notes) > 0 {
		im.partial(n, line, joinNotes(notes))
	}
}
