package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/timesync/timesync/internal/strictjson"
)

// Defaults. A zero Port, MinPoll, MaxPoll, MaxSources or MinSources in a
// Config built in code means the default; Parse always fills them in.
const (
	DefaultPort       = 123
	DefaultMinPoll    = 6  // 2^6 s = 64 s
	DefaultMaxPoll    = 10 // 2^10 s = 1024 s
	MinPollLimit      = 3  // 8 s, ntpd's lower bound
	MaxPollLimit      = 17 // 36.4 h, ntpd's upper bound
	DefaultMaxSources = 4
	MaxMaxSources     = 16 // chrony's bound
	DefaultMinSources = 1

	DefaultStep    = 128 * time.Millisecond
	DefaultStepout = 900 * time.Second
	DefaultPanic   = 1000 * time.Second
)

// Sentinel errors of the editing methods (AddServer, RemoveServer, …).
var (
	ErrDuplicate = errors.New("already configured")
	ErrNotFound  = errors.New("not configured")
	ErrAmbiguous = errors.New("ambiguous")
)

// Config is the whole configuration. Build one with Default, Parse, Load or
// Import; a Config literal works too (zero counts mean defaults, see the
// package comment) but its Tinker is taken literally.
type Config struct {
	Servers []Server `json:"servers"`
	Pools   []Pool   `json:"pools"`
	// Restrict holds the access rules in file order. A rule for "default"
	// may be absent: RestrictFor and Effective then use DefaultRestrict.
	Restrict []Restrict `json:"restrict"`
	// Listen holds the addresses to serve time on, "ADDRESS:PORT" with
	// IPv6 in brackets ("[::]:123"). Empty means do not serve.
	Listen []string `json:"listen"`
	// Metrics is where Prometheus metrics are served over HTTP,
	// "ADDRESS:PORT" with IPv6 in brackets; empty means not at all.
	Metrics string `json:"metrics,omitempty"`
	Tinker  Tinker `json:"tinker"`
	// MinSources is how many sources must agree before the clock is
	// disciplined (ntpd's "tos minsane", chrony's "minsources").
	MinSources int `json:"min_sources"`
	// DriftFile is where the frequency estimate is kept across restarts;
	// empty means none. Absolute path.
	DriftFile string `json:"drift_file"`
	// ControlGroup names the group whose members may change settings
	// through the control API, besides root / Administrators.
	ControlGroup string `json:"control_group"`

	layout *layout // comments and order of the parsed file; nil if none
}

// Server is one "server" directive: a single time server.
type Server struct {
	// Address is a host name (lower case) or an IP address, without port
	// or brackets.
	Address string `json:"address"`
	// Port is the UDP port, 1..65535; 0 means DefaultPort.
	Port int `json:"port"`
	// IBurst sends a burst of requests when the server is first
	// unreachable, for a fast first synchronization.
	IBurst bool `json:"iburst"`
	// Prefer favours this server when the selected sources are combined.
	Prefer bool `json:"prefer"`
	// MinPoll and MaxPoll bound the poll interval as exponents (2^N
	// seconds), MinPollLimit..MaxPollLimit, MinPoll <= MaxPoll; 0 means
	// DefaultMinPoll / DefaultMaxPoll.
	MinPoll int `json:"minpoll"`
	MaxPoll int `json:"maxpoll"`
}

// HostPort returns "host:port" with IPv6 in brackets, the port defaulted.
func (s Server) HostPort() string {
	return net.JoinHostPort(s.Address, strconv.Itoa(orDefault(s.Port, DefaultPort)))
}

// Polls returns the poll exponent bounds with defaults applied.
func (s Server) Polls() (minPoll, maxPoll int) {
	return orDefault(s.MinPoll, DefaultMinPoll), orDefault(s.MaxPoll, DefaultMaxPoll)
}

// String returns the directive as it is written in the file.
func (s Server) String() string { return formatServer(s) }

// Pool is one "pool" directive: a DNS name whose addresses are used as up
// to MaxSources servers.
type Pool struct {
	Name string `json:"name"`
	// Port is the UDP port, 1..65535; 0 means DefaultPort.
	Port   int  `json:"port"`
	IBurst bool `json:"iburst"`
	// MaxSources is how many of the pool's addresses are used, 1..16;
	// 0 means DefaultMaxSources.
	MaxSources int `json:"maxsources"`
}

// HostPort returns "name:port", the port defaulted.
func (p Pool) HostPort() string {
	return net.JoinHostPort(p.Name, strconv.Itoa(orDefault(p.Port, DefaultPort)))
}

// String returns the directive as it is written in the file.
func (p Pool) String() string { return formatPool(p) }

// Tinker holds the step and panic thresholds of the discipline, with
// ntpd's meaning:
//   - an offset larger than Step is corrected by stepping the clock once it
//     has persisted for Stepout; smaller offsets are slewed. 0 means never
//     step.
//   - an offset larger than Panic is refused (except at the first update,
//     as ntpd -g); 0 disables the check.
//
// In JSON the thresholds are seconds: {"step_seconds": 0.128, …}.
type Tinker struct {
	Step    time.Duration
	Stepout time.Duration
	Panic   time.Duration
}

// DefaultTinker returns ntpd's defaults: step 0.128 s, stepout 900 s,
// panic 1000 s.
func DefaultTinker() Tinker {
	return Tinker{Step: DefaultStep, Stepout: DefaultStepout, Panic: DefaultPanic}
}

type tinkerJSON struct {
	Step    float64 `json:"step_seconds"`
	Stepout float64 `json:"stepout_seconds"`
	Panic   float64 `json:"panic_seconds"`
}

// MarshalJSON writes the thresholds in seconds.
func (t Tinker) MarshalJSON() ([]byte, error) {
	return json.Marshal(tinkerJSON{t.Step.Seconds(), t.Stepout.Seconds(), t.Panic.Seconds()})
}

// UnmarshalJSON reads the thresholds in seconds; unknown fields and
// negative or absurd values are errors.
func (t *Tinker) UnmarshalJSON(b []byte) error {
	var j tinkerJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("tinker: %w", err)
	}
	if err := strictjson.Check(b, &j, false); err != nil {
		return fmt.Errorf("tinker: %w", err)
	}
	var nt Tinker
	var err error
	for _, f := range []struct {
		name string
		sec  float64
		dst  *time.Duration
	}{{"step", j.Step, &nt.Step}, {"stepout", j.Stepout, &nt.Stepout}, {"panic", j.Panic, &nt.Panic}} {
		if *f.dst, err = secondsToDuration(f.sec); err != nil {
			return fmt.Errorf("tinker: %s: %w", f.name, err)
		}
	}
	*t = nt
	return nil
}

// Restrict is one access rule for clients of the time server, with ntpd's
// flags. Either Default is set (the rule for addresses no other rule
// matches) or Addr is a masked prefix (ADDRESS + mask).
type Restrict struct {
	Default bool         `json:"default"`
	Addr    netip.Prefix `json:"addr"`
	// Ignore drops every packet from the matching clients.
	Ignore bool `json:"ignore"`
	// KoD answers a rate-limited client with a RATE kiss-o'-death
	// instead of silence (only together with Limited).
	KoD bool `json:"kod"`
	// Limited rate-limits clients (minimum and average interval).
	Limited bool `json:"limited"`
	// NoModify refuses run-time configuration changes over NTP.
	NoModify bool `json:"nomodify"`
	// NoQuery refuses control and monitoring queries (ntpq's mode 6/7).
	NoQuery bool `json:"noquery"`
	// NoPeer refuses symmetric-active associations.
	NoPeer bool `json:"nopeer"`
	// NoServe refuses time service (queries may still be answered).
	NoServe bool `json:"noserve"`
	// NoTrap refuses trap service.
	NoTrap bool `json:"notrap"`
}

// String returns the directive as it is written in the file.
func (r Restrict) String() string { return formatRestrict(r) }

// Default returns the configuration of a fresh install: the public NTP pool
// with iburst, a drift file and no time service. (Tests must never query
// the pool.)
func Default() *Config {
	c, err := Parse("default", strings.NewReader(defaultText(runtime.GOOS, os.Getenv)))
	if err != nil {
		panic("config: default configuration does not parse: " + err.Error())
	}
	return c
}

// DefaultPool is the pool the built-in configuration uses. Only a user's
// machine ever resolves it; tests never query it.
const DefaultPool = "pool.ntp.org"

func defaultText(goos string, getenv func(string) string) string {
	drift := DefaultDriftFile(goos, getenv)
	return `# timesync configuration; one directive a line, see "timesync config check".
# Directives: server, pool, restrict, listen, metrics, tinker, minsources, driftfile,
# control-group.

# Time sources. Add your own with "server ADDRESS iburst".
pool ` + DefaultPool + ` iburst

# Frequency of the local oscillator, kept across restarts.
driftfile ` + quote(drift) + `

# Serving time to other machines is off; add e.g. "listen 0.0.0.0" and
# restrict rules to turn it on.
`
}

// DefaultPath returns where the configuration lives on this OS:
// /etc/timesync/timesync.conf on Linux, macOS and other Unix systems,
// %ProgramData%\timesync\timesync.conf on Windows.
func DefaultPath() string { return defaultPath(runtime.GOOS, os.Getenv) }

func defaultPath(goos string, getenv func(string) string) string {
	if goos == "windows" {
		return programData(getenv) + `\timesync\timesync.conf`
	}
	return "/etc/timesync/timesync.conf"
}

// DefaultDriftFile returns the drift file of a fresh install for goos
// (runtime.GOOS): /var/lib/timesync/timesync.drift on Linux,
// /var/db/timesync/timesync.drift on macOS and the BSDs,
// %ProgramData%\timesync\timesync.drift on Windows.
func DefaultDriftFile(goos string, getenv func(string) string) string {
	switch goos {
	case "windows":
		return programData(getenv) + `\timesync\timesync.drift`
	case "darwin", "freebsd", "openbsd", "netbsd", "dragonfly":
		return "/var/db/timesync/timesync.drift"
	}
	return "/var/lib/timesync/timesync.drift"
}

func programData(getenv func(string) string) string {
	if p := strings.TrimRight(getenv("ProgramData"), `\`); p != "" {
		return p
	}
	return `C:\ProgramData`
}

// DefaultRestrict is the rule used for clients no rule matches when the
// configuration has no "restrict default": serve time, rate-limit with a
// RATE kiss-o'-death, refuse everything else (modification, queries,
// peering, traps).
//
// ntpd's compiled-in default entry has no flags at all; this is instead the
// "restrict default kod limited nomodify notrap nopeer noquery" line that
// ntp.org's and every distribution's sample ntp.conf ships, as RFC 8633
// (NTP best current practices, section 4.4) recommends. Serving is opt-in
// anyway (listen), so whoever turns it on gets time service for everyone,
// rate-limited, and nothing more.
func DefaultRestrict() Restrict {
	return Restrict{Default: true, KoD: true, Limited: true, NoModify: true, NoTrap: true, NoPeer: true, NoQuery: true}
}

// Clone returns a deep copy; the copy shares nothing mutable with c.
func (c *Config) Clone() *Config {
	n := *c
	n.Servers = slices.Clone(c.Servers)
	n.Pools = slices.Clone(c.Pools)
	n.Restrict = slices.Clone(c.Restrict)
	n.Listen = slices.Clone(c.Listen)
	return &n // layout is never modified after parsing: sharing it is safe
}

// KeepLayout makes Format of c keep the comments and order of old's file.
// Use it when c was built without them, e.g. decoded from JSON sent to
// the control API, and is about to replace old on disk.
func (c *Config) KeepLayout(old *Config) {
	if old != nil {
		c.layout = old.layout
	}
}

// Effective returns a copy with every default made explicit: ports, poll
// exponents, maxsources, minsources, listen ports, and DefaultRestrict
// prepended when no rule is for "default". Tinker is copied as is.
func (c *Config) Effective() *Config {
	n := c.Clone()
	for i := range n.Servers {
		s := &n.Servers[i]
		s.Port = orDefault(s.Port, DefaultPort)
		s.MinPoll, s.MaxPoll = s.Polls()
	}
	for i := range n.Pools {
		p := &n.Pools[i]
		p.Port = orDefault(p.Port, DefaultPort)
		p.MaxSources = orDefault(p.MaxSources, DefaultMaxSources)
	}
	n.MinSources = orDefault(n.MinSources, DefaultMinSources)
	for i, l := range n.Listen {
		if hp, err := parseListen(l); err == nil {
			n.Listen[i] = hp
		}
	}
	if !slices.ContainsFunc(n.Restrict, func(r Restrict) bool { return r.Default }) {
		n.Restrict = slices.Insert(n.Restrict, 0, DefaultRestrict())
	}
	return n
}

// AddServer appends s after checking it; ErrDuplicate if a server with the
// same host and port exists.
func (c *Config) AddServer(s Server) error {
	if err := checkServer(s); err != nil {
		return err
	}
	s.Address = canonicalHost(s.Address)
	if slices.ContainsFunc(c.Servers, func(o Server) bool { return o.HostPort() == s.HostPort() }) {
		return &FieldError{Field: "address", Err: fmt.Errorf("server %s: %w", s.HostPort(), ErrDuplicate)}
	}
	c.Servers = append(c.Servers, s)
	return nil
}

// RemoveServer removes the server at addr, "HOST[:PORT]". Without a port it
// removes the one server with that host, ErrAmbiguous if there are several.
func (c *Config) RemoveServer(addr string) error {
	host, port, hasPort, err := splitHostPort(addr)
	if err != nil {
		return err
	}
	var idx []int
	for i, s := range c.Servers {
		if canonicalHost(s.Address) == host && (!hasPort || orDefault(s.Port, DefaultPort) == port) {
			idx = append(idx, i)
		}
	}
	switch len(idx) {
	case 0:
		return fmt.Errorf("server %s: %w", addr, ErrNotFound)
	case 1:
		c.Servers = slices.Delete(c.Servers, idx[0], idx[0]+1)
		return nil
	}
	return fmt.Errorf("server %s: %w: %d servers on that host, give the port", addr, ErrAmbiguous, len(idx))
}

// AddPool appends p after checking it; ErrDuplicate if the same name and
// port is configured.
func (c *Config) AddPool(p Pool) error {
	if err := checkPool(p); err != nil {
		return err
	}
	p.Name = canonicalHost(p.Name)
	if slices.ContainsFunc(c.Pools, func(o Pool) bool { return o.HostPort() == p.HostPort() }) {
		return &FieldError{Field: "name", Err: fmt.Errorf("pool %s: %w", p.HostPort(), ErrDuplicate)}
	}
	c.Pools = append(c.Pools, p)
	return nil
}

// RemovePool removes the pool with name (any port).
func (c *Config) RemovePool(name string) error {
	name = canonicalHost(name)
	n := len(c.Pools)
	c.Pools = slices.DeleteFunc(c.Pools, func(p Pool) bool { return canonicalHost(p.Name) == name })
	if len(c.Pools) == n {
		return fmt.Errorf("pool %s: %w", name, ErrNotFound)
	}
	return nil
}

// SetRestrict adds r, or replaces the flags of the rule for the same
// address (or of the default rule).
func (c *Config) SetRestrict(r Restrict) error {
	if err := checkRestrict(r); err != nil {
		return err
	}
	for i, o := range c.Restrict {
		if restrictKey(o) == restrictKey(r) {
			c.Restrict[i] = r
			return nil
		}
	}
	c.Restrict = append(c.Restrict, r)
	return nil
}

// RemoveRestrict removes the rule for the same address as r (or the
// default rule if r.Default); r's flags are not compared.
func (c *Config) RemoveRestrict(r Restrict) error {
	n := len(c.Restrict)
	c.Restrict = slices.DeleteFunc(c.Restrict, func(o Restrict) bool { return restrictKey(o) == restrictKey(r) })
	if len(c.Restrict) == n {
		return fmt.Errorf("%s: %w", restrictKey(r), ErrNotFound)
	}
	return nil
}

// Warnings returns advice about a valid configuration that probably does
// not do what its author wants; "config check" prints them.
func (c *Config) Warnings() []string {
	var w []string
	if len(c.Servers) == 0 && len(c.Pools) == 0 {
		w = append(w, "no server or pool: the clock will not be synchronized")
	}
	most := len(c.Servers)
	for _, p := range c.Pools {
		most += orDefault(p.MaxSources, DefaultMaxSources)
	}
	if ms := orDefault(c.MinSources, DefaultMinSources); most > 0 && ms > most {
		w = append(w, fmt.Sprintf("minsources %d is more than the %d sources configured: the clock will never be synchronized", ms, most))
	}
	t := c.Tinker
	if t.Step > 0 && t.Panic > 0 && t.Step > t.Panic {
		w = append(w, fmt.Sprintf("tinker: step %s s exceeds panic %s s: offsets between the two are refused, never stepped",
			formatSeconds(t.Step), formatSeconds(t.Panic)))
	}
	for _, r := range c.Restrict {
		if r.KoD && !r.Limited {
			w = append(w, formatRestrict(r)+": kod has no effect without limited")
		}
	}
	if len(c.Listen) == 0 && len(c.Restrict) > 0 {
		w = append(w, "restrict rules are set but time is not served: add a listen directive to serve")
	}
	return w
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
