package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

// Validate checks every value and the rules between them: ranges, minpoll
// <= maxpoll, no duplicate server, pool, listen address or restrict rule,
// thresholds >= 0, an absolute drift file. Zero counts are accepted as
// defaults. When c came from a file, each error is a *ParseError naming the
// line of the directive; all errors are returned, joined.
//
// Every error is also a *FieldError (errors.As finds it, through the
// ParseError too) naming the member of the configuration's JSON form it
// concerns: "servers[1].minpoll", "tinker.panic", "listen[0]".
func (c *Config) Validate() error {
	var errs []error
	count := map[string]int{} // occurrences of each key so far
	add := func(key string, n int, err error) {
		if err == nil {
			return
		}
		if line := c.layout.lineOf(key, n); line > 0 {
			err = &ParseError{File: c.layout.file, Line: line, Msg: err.Error(), Err: err}
		}
		errs = append(errs, err)
	}
	// check records one directive (the member field): its own error,
	// else a duplicate error (of its member dup, "" for itself).
	check := func(key, field string, err error, dup string) {
		n := count[key]
		count[key]++
		if err == nil && n > 0 {
			err = fmt.Errorf("%s: %w", key, ErrDuplicate)
			if first := c.layout.lineOf(key, 0); first > 0 {
				err = fmt.Errorf("%s: %w on line %d", key, ErrDuplicate, first)
			}
			if dup != "" {
				err = &FieldError{Field: dup, Err: err}
			}
		}
		add(key, n, InField(field, err))
	}

	for i, s := range c.Servers {
		check(serverKey(s), fmt.Sprintf("servers[%d]", i), checkServer(s), "address")
	}
	for i, p := range c.Pools {
		check(poolKey(p), fmt.Sprintf("pools[%d]", i), checkPool(p), "name")
	}
	for i, r := range c.Restrict {
		check(restrictKey(r), fmt.Sprintf("restrict[%d]", i), checkRestrict(r), "addr")
	}
	for i, l := range c.Listen {
		field := fmt.Sprintf("listen[%d]", i)
		hp, err := parseListen(l)
		if err != nil {
			check("listen "+l, field, fmt.Errorf("listen: %w", err), "")
			continue
		}
		check("listen "+hp, field, nil, "")
	}
	add("tinker", 0, InField("tinker", checkTinker(c.Tinker)))
	if c.MinSources < 0 {
		add("minsources", 0, &FieldError{Field: "min_sources", Err: fmt.Errorf("minsources: %d is less than 1", c.MinSources)})
	}
	if c.DriftFile != "" {
		add("driftfile", 0, InField("drift_file", checkDriftFile(c.DriftFile)))
	}
	if c.ControlGroup != "" {
		add("control-group", 0, InField("control_group", checkGroup(c.ControlGroup)))
	}
	if c.Metrics != "" {
		if _, err := parseMetrics(c.Metrics); err != nil {
			add("metrics", 0, &FieldError{Field: "metrics", Err: err})
		}
	}
	return errors.Join(errs...)
}

// FieldError is an error that concerns one member of a JSON document —
// the configuration as GET and PUT /v1/config carry it, or a request's
// body: Field is its path, members joined by dots and list elements
// indexed from 0 ("servers[1].minpoll", "tinker.panic", "listen[0]").
// The control API hands Field on in its error body, so that a form can
// put the message next to the field without reading the words.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// InField places err under the member prefix: a FieldError's path gets
// prefix in front, any other error becomes a FieldError of prefix
// itself. nil stays nil.
func InField(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		field := prefix
		switch {
		case prefix == "":
			field = fe.Field
		case strings.HasPrefix(fe.Field, "["):
			field += fe.Field
		case fe.Field != "":
			field += "." + fe.Field
		}
		return &FieldError{Field: field, Err: err}
	}
	return &FieldError{Field: prefix, Err: err}
}

func checkServer(s Server) error {
	if err := checkHost(s.Address); err != nil {
		return &FieldError{Field: "address", Err: fmt.Errorf("server %q: %w", s.Address, err)}
	}
	if err := checkPort(s.Port); err != nil {
		return &FieldError{Field: "port", Err: fmt.Errorf("server %s: %w", s.Address, err)}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"minpoll", s.MinPoll}, {"maxpoll", s.MaxPoll}} {
		if f.v != 0 && (f.v < MinPollLimit || f.v > MaxPollLimit) {
			return &FieldError{Field: f.name, Err: fmt.Errorf("%s: %d is out of range %d..%d", f.name, f.v, MinPollLimit, MaxPollLimit)}
		}
	}
	if lo, hi := s.Polls(); lo > hi {
		return &FieldError{Field: "minpoll", Err: fmt.Errorf("server %s: minpoll %d is greater than maxpoll %d", s.Address, lo, hi)}
	}
	return nil
}

func checkPool(p Pool) error {
	if err := checkHost(p.Name); err != nil {
		return &FieldError{Field: "name", Err: fmt.Errorf("pool %q: %w", p.Name, err)}
	}
	if err := checkPort(p.Port); err != nil {
		return &FieldError{Field: "port", Err: fmt.Errorf("pool %s: %w", p.Name, err)}
	}
	if p.MaxSources != 0 && (p.MaxSources < 1 || p.MaxSources > MaxMaxSources) {
		return &FieldError{Field: "maxsources", Err: fmt.Errorf("maxsources: %d is out of range 1..%d", p.MaxSources, MaxMaxSources)}
	}
	return nil
}

func checkPort(port int) error {
	if port < 0 || port > 65535 {
		return fmt.Errorf("port %d is out of range 1..65535", port)
	}
	return nil
}

func checkRestrict(r Restrict) error {
	if err := checkRestrictAddr(r); err != nil {
		return &FieldError{Field: "addr", Err: err}
	}
	return nil
}

func checkRestrictAddr(r Restrict) error {
	if r.Default {
		if r.Addr.IsValid() {
			return fmt.Errorf("restrict default: must not have an address (%s)", r.Addr)
		}
		return nil
	}
	if !r.Addr.IsValid() {
		return errors.New("restrict: needs an address or default")
	}
	if r.Addr.Addr().Zone() != "" {
		return fmt.Errorf("restrict %s: zones are not supported", r.Addr)
	}
	if m := r.Addr.Masked(); m != r.Addr {
		return fmt.Errorf("restrict %s: address has bits outside the mask (did you mean %s?)", r.Addr, m)
	}
	return nil
}

func checkTinker(t Tinker) error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"step", t.Step.Seconds()}, {"stepout", t.Stepout.Seconds()}, {"panic", t.Panic.Seconds()}} {
		if _, err := secondsToDuration(f.v); err != nil {
			return &FieldError{Field: f.name + "_seconds", Err: fmt.Errorf("tinker: %s: %w", f.name, err)}
		}
	}
	return nil
}

// checkDriftFile accepts an absolute path or, for Windows' sake, a rooted
// one ("/var/lib/x" there means the system drive; the service's working
// directory is never a sensible place for it).
func checkDriftFile(p string) error {
	if !filepath.IsAbs(p) && !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, `\`) {
		return fmt.Errorf("driftfile: %q is not an absolute path", p)
	}
	return nil
}

func checkGroup(g string) error {
	for _, r := range g {
		if unicode.IsControl(r) {
			return fmt.Errorf("control-group: control character in %q", g)
		}
	}
	if strings.TrimSpace(g) != g {
		return fmt.Errorf("control-group: %q has leading or trailing blanks", g)
	}
	return nil
}

// checkHost accepts an IP address or a DNS name (RFC 1123 labels,
// underscores tolerated, optional final dot, top label not all digits).
func checkHost(h string) error {
	if h == "" {
		return errors.New("empty address")
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	if strings.ContainsAny(h, ":[]") {
		return fmt.Errorf("%q is not a valid IP address or host name (give the port separately)", h)
	}
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("%q is not a valid host name", h)
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("%q is not a valid host name", h)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("%q is not a valid host name (character %q)", h, r)
			}
		}
	}
	if _, err := strconv.Atoi(labels[len(labels)-1]); err == nil {
		return fmt.Errorf("%q is neither an IP address nor a host name", h)
	}
	return nil
}

// canonicalHost returns an IP address in its canonical form and a host name
// in lower case, so that equal hosts compare equal.
func canonicalHost(h string) string {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.String()
	}
	return strings.ToLower(h)
}

// splitHostPort parses "HOST", "HOST:PORT", "IPV6", "[IPV6]" or
// "[IPV6]:PORT". The host is checked and made canonical; the port
// defaults to DefaultPort.
func splitHostPort(s string) (host string, port int, hasPort bool, err error) {
	host, port = s, DefaultPort
	switch {
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		host = s[1 : len(s)-1]
		if a, e := netip.ParseAddr(host); e != nil || !a.Is6() {
			return "", 0, false, fmt.Errorf("%q: brackets are only for IPv6 addresses", s)
		}
	case strings.HasPrefix(s, "["):
		h, p, e := net.SplitHostPort(s)
		if e != nil {
			return "", 0, false, fmt.Errorf("%q is not ADDRESS[:PORT]", s)
		}
		if a, e := netip.ParseAddr(h); e != nil || !a.Is6() {
			return "", 0, false, fmt.Errorf("%q: brackets are only for IPv6 addresses", s)
		}
		if port, err = parseInt("port", p, 1, 65535); err != nil {
			return "", 0, false, err
		}
		host, hasPort = h, true
	case strings.Count(s, ":") == 1:
		h, p, e := net.SplitHostPort(s)
		if e != nil {
			return "", 0, false, fmt.Errorf("%q is not ADDRESS[:PORT]", s)
		}
		if port, err = parseInt("port", p, 1, 65535); err != nil {
			return "", 0, false, err
		}
		host, hasPort = h, true
	case strings.Count(s, ":") > 1:
		if _, e := netip.ParseAddr(s); e != nil {
			return "", 0, false, fmt.Errorf("%q is not an IPv6 address (write [ADDRESS]:PORT to give a port)", s)
		}
	}
	if err := checkHost(host); err != nil {
		return "", 0, false, err
	}
	return canonicalHost(host), port, hasPort, nil
}

// parseListen parses "ADDRESS[:PORT]" where ADDRESS is an IP address and
// returns "ADDRESS:PORT" (IPv6 bracketed).
// parseMetrics checks a metrics address: an IP address and a port, both
// required (there is no default port for metrics).
func parseMetrics(s string) (string, error) {
	host, port, hasPort, err := splitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("metrics: %w", err)
	}
	if !hasPort {
		return "", fmt.Errorf("metrics: %q: want ADDRESS:PORT, e.g. 127.0.0.1:9123", s)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return "", fmt.Errorf("metrics: %q: needs an IP address, not a host name", s)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

func parseListen(s string) (string, error) {
	host, port, _, err := splitHostPort(s)
	if err != nil {
		return "", err
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return "", fmt.Errorf("%q: listen needs an IP address, not a host name", s)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}
