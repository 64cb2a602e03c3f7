package config

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ParseError is one error in a configuration file, at a line (1-based).
// Parse and Validate return several joined with errors.Join; errors.As
// finds the first.
type ParseError struct {
	File string
	Line int
	Msg  string
	// Err is the error Msg words, when there is one (Validate's: a
	// *FieldError); nil for the parser's own.
	Err error
}

// Unwrap returns Err.
func (e *ParseError) Unwrap() error { return e.Err }

// Error returns "FILE:LINE: MESSAGE".
func (e *ParseError) Error() string {
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

// maxLine bounds one line of a configuration file, in bytes.
const maxLine = 64 * 1024

// Load reads and parses the file at path; errors name the path. A missing
// file is an error that wraps fs.ErrNotExist (callers may then use
// Default).
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("config: %s is a directory, not a configuration file", path)
	}
	return Parse(path, f)
}

// Parse reads a timesync configuration; name is used in error messages.
// Every error is reported, as a *ParseError with its line, joined with
// errors.Join in line order; the Config is nil if there is any.
// Unknown directives are errors. The result is valid (Validate is part of
// Parse) and remembers the file's comments for Format.
func Parse(name string, r io.Reader) (*Config, error) {
	p := &parser{
		c:    &Config{Tinker: DefaultTinker(), MinSources: DefaultMinSources},
		lay:  &layout{file: name},
		seen: map[string]int{},
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	var pending []string // comment lines directly above the next directive
	flush := func() {
		for _, c := range pending {
			p.lay.items = append(p.lay.items, item{text: c})
		}
		pending = nil
	}
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		if n == 1 {
			text = strings.TrimPrefix(text, "\uFEFF") // Notepad's byte order mark
		}
		toks, comment, err := lexLine(strings.TrimSuffix(text, "\r"))
		if err != nil {
			p.errorf(n, "%v", err)
			pending = nil
			continue
		}
		if len(toks) == 0 {
			if comment != "" {
				pending = append(pending, comment)
				continue
			}
			flush()
			p.lay.items = append(p.lay.items, item{}) // blank line
			continue
		}
		key, err := p.directive(n, toks)
		if err != nil {
			p.errs = append(p.errs, &ParseError{File: name, Line: n, Msg: err.Error()})
			pending = nil
			continue
		}
		p.lay.items = append(p.lay.items, item{key: key, kind: strings.ToLower(toks[0]), doc: pending, inline: comment, line: n})
		pending = nil
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes", maxLine)
		}
		p.errorf(n+1, "%v", err)
	}
	flush()
	p.c.layout = p.lay
	if err := p.c.Validate(); err != nil {
		p.errs = append(p.errs, unjoin(err)...)
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b error) int { return cmp.Compare(errLine(a), errLine(b)) })
		return nil, errors.Join(p.errs...)
	}
	return p.c, nil
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func errLine(err error) int {
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe.Line
	}
	return 0
}

type parser struct {
	c    *Config
	lay  *layout
	errs []error
	seen map[string]int // singleton directive → line
}

func (p *parser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, &ParseError{File: p.lay.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// directive applies one directive to p.c and returns its layout key.
func (p *parser) directive(line int, toks []string) (string, error) {
	name, args := strings.ToLower(toks[0]), toks[1:]
	switch name {
	case "server":
		s, err := ParseServer(args...)
		if err != nil {
			return "", err
		}
		p.c.Servers = append(p.c.Servers, s)
		return serverKey(s), nil
	case "pool":
		pl, err := ParsePool(args...)
		if err != nil {
			return "", err
		}
		p.c.Pools = append(p.c.Pools, pl)
		return poolKey(pl), nil
	case "restrict":
		r, err := ParseRestrict(args...)
		if err != nil {
			return "", err
		}
		p.c.Restrict = append(p.c.Restrict, r)
		return restrictKey(r), nil
	case "listen":
		if len(args) != 1 {
			return "", errors.New("listen: want one ADDRESS[:PORT]")
		}
		hp, err := parseListen(args[0])
		if err != nil {
			return "", fmt.Errorf("listen: %w", err)
		}
		p.c.Listen = append(p.c.Listen, hp)
		return "listen " + hp, nil
	}
	if first, ok := p.seen[name]; ok {
		return "", fmt.Errorf("%s: given twice (first on line %d)", name, first)
	}
	var err error
	switch name {
	case "tinker":
		var t Tinker
		if t, err = parseTinker(p.c.Tinker, args); err == nil {
			p.c.Tinker = t
		}
	case "minsources":
		if len(args) != 1 {
			return "", errors.New("minsources: want one number")
		}
		var n int
		if n, err = parseInt("minsources", args[0], 1, 64); err == nil {
			p.c.MinSources = n
		}
	case "driftfile":
		if len(args) != 1 {
			return "", errors.New("driftfile: want one PATH (quote it if it has blanks)")
		}
		if err = checkDriftFile(args[0]); err == nil {
			p.c.DriftFile = args[0]
		}
	case "metrics":
		if len(args) != 1 {
			return "", errors.New("metrics: want one ADDRESS:PORT")
		}
		var hp string
		if hp, err = parseMetrics(args[0]); err == nil {
			p.c.Metrics = hp
		}
	case "control-group":
		if len(args) != 1 || args[0] == "" {
			return "", errors.New("control-group: want one NAME (quote it if it has blanks)")
		}
		if err = checkGroup(args[0]); err == nil {
			p.c.ControlGroup = args[0]
		}
	default:
		return "", unknownDirective(name)
	}
	if err != nil {
		return "", err
	}
	p.seen[name] = line
	return name, nil
}

var directiveNames = []string{"server", "pool", "restrict", "listen", "metrics", "tinker", "minsources", "driftfile", "control-group"}

// foreign names directives of ntp.conf and chrony.conf that are not ours.
var foreign = map[string]string{}

func init() {
	for _, d := range strings.Fields(`peer fudge statistics filegen leapfile logfile statsdir keys trustedkey
		requestkey controlkey broadcast broadcastclient multicastclient manycastclient manycastserver tos
		enable disable interface discard includefile crypto logconfig setvar pidfile`) {
		foreign[d] = "ntp.conf"
	}
	for _, d := range strings.Fields(`makestep rtcsync allow deny leapsectz logdir log maxupdateskew keyfile
		sourcedir confdir ntsdumpdir local refclock cmdallow cmddeny bindaddress bindcmdaddress
		initstepslew hwtimestamp port maxchange maxdistance rtconutc dumpdir`) {
		foreign[d] = "chrony.conf"
	}
}

func unknownDirective(name string) error {
	if f, ok := foreign[name]; ok {
		return fmt.Errorf("unknown directive %q: that is %s syntax; convert such a file with \"timesync config import\"", name, f)
	}
	if strings.Contains(name, "=") {
		return fmt.Errorf("unknown directive %q: timesyncd.conf syntax? convert such a file with \"timesync config import\"", name)
	}
	best, bestD := "", 3
	for _, d := range directiveNames {
		if e := editDistance(name, d); e < bestD {
			best, bestD = d, e
		}
	}
	if best != "" {
		return fmt.Errorf("unknown directive %q (did you mean %q?)", name, best)
	}
	return fmt.Errorf("unknown directive %q (want one of %s)", name, strings.Join(directiveNames, ", "))
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// options walks the options of a directive: each name at most once, the
// ones listed in withArg take the next token as their value.
func options(directive string, args []string, withArg map[string]bool, want string, f func(opt, val string) error) error {
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		o := strings.ToLower(args[i])
		if seen[o] {
			return fmt.Errorf("%s: %s given twice", directive, o)
		}
		seen[o] = true
		val := ""
		if withArg[o] {
			if i+1 >= len(args) {
				return fmt.Errorf("%s: %s needs a value", directive, o)
			}
			i++
			val = args[i]
		}
		if err := f(o, val); err != nil {
			if err == errUnknownOption {
				return fmt.Errorf("%s: unknown option %q (want %s)", directive, args[i], want)
			}
			return err
		}
	}
	return nil
}

var errUnknownOption = errors.New("unknown option")

// ParseServer parses the arguments of a server directive:
// ADDRESS[:PORT] [iburst] [prefer] [minpoll N] [maxpoll N]. The CLI's
// "servers add" can hand its arguments over as they are.
func ParseServer(args ...string) (Server, error) {
	if len(args) == 0 {
		return Server{}, errors.New("server: missing ADDRESS[:PORT]")
	}
	host, port, _, err := splitHostPort(args[0])
	if err != nil {
		return Server{}, fmt.Errorf("server: %w", err)
	}
	s := Server{Address: host, Port: port, MinPoll: DefaultMinPoll, MaxPoll: DefaultMaxPoll}
	err = options("server "+args[0], args[1:], map[string]bool{"minpoll": true, "maxpoll": true},
		"iburst, prefer, minpoll N, maxpoll N", func(o, v string) (err error) {
			switch o {
			case "iburst":
				s.IBurst = true
			case "prefer":
				s.Prefer = true
			case "minpoll":
				s.MinPoll, err = parseInt(o, v, MinPollLimit, MaxPollLimit)
			case "maxpoll":
				s.MaxPoll, err = parseInt(o, v, MinPollLimit, MaxPollLimit)
			default:
				return errUnknownOption
			}
			return err
		})
	if err != nil {
		return Server{}, err
	}
	if err := checkServer(s); err != nil {
		return Server{}, err
	}
	return s, nil
}

// ParsePool parses the arguments of a pool directive:
// NAME[:PORT] [iburst] [maxsources N].
func ParsePool(args ...string) (Pool, error) {
	if len(args) == 0 {
		return Pool{}, errors.New("pool: missing NAME")
	}
	host, port, _, err := splitHostPort(args[0])
	if err != nil {
		return Pool{}, fmt.Errorf("pool: %w", err)
	}
	p := Pool{Name: host, Port: port, MaxSources: DefaultMaxSources}
	err = options("pool "+args[0], args[1:], map[string]bool{"maxsources": true},
		"iburst, maxsources N", func(o, v string) (err error) {
			switch o {
			case "iburst":
				p.IBurst = true
			case "maxsources":
				p.MaxSources, err = parseInt(o, v, 1, MaxMaxSources)
			default:
				return errUnknownOption
			}
			return err
		})
	if err != nil {
		return Pool{}, err
	}
	return p, checkPool(p)
}

// restrictFlags lists the flags in the order Format writes them.
var restrictFlags = []struct {
	name string
	get  func(*Restrict) *bool
}{
	{"ignore", func(r *Restrict) *bool { return &r.Ignore }},
	{"kod", func(r *Restrict) *bool { return &r.KoD }},
	{"limited", func(r *Restrict) *bool { return &r.Limited }},
	{"nomodify", func(r *Restrict) *bool { return &r.NoModify }},
	{"noquery", func(r *Restrict) *bool { return &r.NoQuery }},
	{"nopeer", func(r *Restrict) *bool { return &r.NoPeer }},
	{"noserve", func(r *Restrict) *bool { return &r.NoServe }},
	{"notrap", func(r *Restrict) *bool { return &r.NoTrap }},
}

// setRestrictFlag sets the flag called name and reports whether it exists.
func setRestrictFlag(r *Restrict, name string) bool {
	for _, f := range restrictFlags {
		if f.name == name {
			*f.get(r) = true
			return true
		}
	}
	return false
}

// ParseRestrict parses the arguments of a restrict directive:
// default|ADDRESS[/BITS] [mask MASK] [flag...].
func ParseRestrict(args ...string) (Restrict, error) {
	if len(args) == 0 {
		return Restrict{}, errors.New("restrict: missing default or ADDRESS")
	}
	var r Restrict
	rest := args[1:]
	maskArg := ""
	if len(rest) >= 2 && strings.EqualFold(rest[0], "mask") {
		maskArg, rest = rest[1], rest[2:]
	} else if len(rest) == 1 && strings.EqualFold(rest[0], "mask") {
		return Restrict{}, errors.New("restrict: mask needs a value")
	}
	target, err := parseRestrictTarget(args[0], maskArg)
	if err != nil {
		return Restrict{}, err
	}
	if target.IsValid() {
		if m := target.Masked(); m != target {
			return Restrict{}, fmt.Errorf("restrict %s: address has bits outside the mask (did you mean %s?)", args[0], fmtPrefix(m))
		}
		r.Addr = target
	} else {
		r.Default = true
	}
	flags := "ignore, kod, limited, nomodify, noquery, nopeer, noserve, notrap"
	err = options("restrict "+args[0], rest, nil, flags, func(o, _ string) error {
		if !setRestrictFlag(&r, o) {
			return errUnknownOption
		}
		return nil
	})
	if err != nil {
		return Restrict{}, err
	}
	return r, checkRestrict(r)
}

// parseRestrictTarget reads "default" (an invalid Prefix), ADDRESS,
// ADDRESS/BITS or ADDRESS with a MASK. The prefix is not masked.
func parseRestrictTarget(addr, mask string) (netip.Prefix, error) {
	if strings.EqualFold(addr, "default") {
		if mask != "" {
			return netip.Prefix{}, errors.New("restrict default: takes no mask")
		}
		return netip.Prefix{}, nil
	}
	if strings.Contains(addr, "/") {
		if mask != "" {
			return netip.Prefix{}, fmt.Errorf("restrict %s: give either /BITS or mask, not both", addr)
		}
		pfx, err := netip.ParsePrefix(addr)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("restrict: %q is not ADDRESS/BITS", addr)
		}
		return pfx, nil
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("restrict: %q is not default or an IP address", addr)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("restrict %s: zones are not supported", addr)
	}
	bits := a.BitLen()
	if mask != "" {
		if bits, err = maskBits(mask, a.Is4()); err != nil {
			return netip.Prefix{}, fmt.Errorf("restrict %s: %w", addr, err)
		}
	}
	return netip.PrefixFrom(a, bits), nil
}

// maskBits returns the prefix length of a contiguous netmask.
func maskBits(mask string, v4 bool) (int, error) {
	m, err := netip.ParseAddr(mask)
	if err != nil || m.Is4() != v4 || m.Zone() != "" {
		fam := "IPv6"
		if v4 {
			fam = "IPv4"
		}
		return 0, fmt.Errorf("mask %q is not an %s netmask", mask, fam)
	}
	bits, seenZero := 0, false
	for _, b := range m.AsSlice() {
		for i := 7; i >= 0; i-- {
			one := b&(1<<i) != 0
			switch {
			case one && seenZero:
				return 0, fmt.Errorf("mask %s is not contiguous", mask)
			case one:
				bits++
			default:
				seenZero = true
			}
		}
	}
	return bits, nil
}

func parseTinker(t Tinker, args []string) (Tinker, error) {
	if len(args) == 0 {
		return t, errors.New("tinker: want step SEC, stepout SEC and/or panic SEC")
	}
	err := options("tinker", args, map[string]bool{"step": true, "stepout": true, "panic": true},
		"step SEC, stepout SEC, panic SEC", func(o, v string) error {
			var dst *time.Duration
			switch o {
			case "step":
				dst = &t.Step
			case "stepout":
				dst = &t.Stepout
			case "panic":
				dst = &t.Panic
			default:
				return errUnknownOption
			}
			d, err := parseSeconds(v)
			if err != nil {
				return fmt.Errorf("tinker: %s: %w", o, err)
			}
			*dst = d
			return nil
		})
	return t, err
}

// Layout keys identify a directive across edits, so that Format can find
// its comments again.
func serverKey(s Server) string {
	return "server " + Server{Address: canonicalHost(s.Address), Port: s.Port}.HostPort()
}

func poolKey(p Pool) string {
	return "pool " + Pool{Name: canonicalHost(p.Name), Port: p.Port}.HostPort()
}

func restrictKey(r Restrict) string {
	if r.Default {
		return "restrict default"
	}
	return "restrict " + r.Addr.String()
}

// readAllLimited reads at most limit bytes of r.
func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("file larger than %d bytes", limit)
	}
	return b.Bytes(), nil
}
