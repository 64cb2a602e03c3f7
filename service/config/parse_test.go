package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// exported returns c without its layout, for comparisons.
func exported(c *Config) Config {
	n := *c
	n.layout = nil
	return n
}

func parseOK(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse("test.conf", strings.NewReader(text))
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return c
}

func TestParseDirectives(t *testing.T) {
	base := func(f func(c *Config)) Config {
		c := Config{Tinker: DefaultTinker(), MinSources: 1}
		f(&c)
		return c
	}
	srv := func(addr string, port int, f func(*Server)) Server {
		s := Server{Address: addr, Port: port, MinPoll: 6, MaxPoll: 10}
		if f != nil {
			f(&s)
		}
		return s
	}
	tests := []struct {
		name, in string
		want     Config
	}{
		{"empty", "", base(func(c *Config) {})},
		{"comments only", "# nothing\n\n   # indented\n", base(func(c *Config) {})},
		{"server ip", "server 192.0.2.1", base(func(c *Config) { c.Servers = []Server{srv("192.0.2.1", 123, nil)} })},
		{"server ip port", "server 192.0.2.1:1123", base(func(c *Config) { c.Servers = []Server{srv("192.0.2.1", 1123, nil)} })},
		{"server ipv6", "server 2001:DB8::1", base(func(c *Config) { c.Servers = []Server{srv("2001:db8::1", 123, nil)} })},
		{"server ipv6 brackets", "server [2001:db8::1]", base(func(c *Config) { c.Servers = []Server{srv("2001:db8::1", 123, nil)} })},
		{"server ipv6 port", "server [2001:db8::1]:4123", base(func(c *Config) { c.Servers = []Server{srv("2001:db8::1", 4123, nil)} })},
		{"server host lower-cased", "server NTP.Example.COM", base(func(c *Config) { c.Servers = []Server{srv("ntp.example.com", 123, nil)} })},
		{"server options", "server time.example.org:10123 iburst prefer minpoll 4 maxpoll 12",
			base(func(c *Config) {
				c.Servers = []Server{srv("time.example.org", 10123, func(s *Server) {
					s.IBurst, s.Prefer, s.MinPoll, s.MaxPoll = true, true, 4, 12
				})}
			})},
		{"server option case", "SERVER a.example IBURST MinPoll 7",
			base(func(c *Config) {
				c.Servers = []Server{srv("a.example", 123, func(s *Server) { s.IBurst, s.MinPoll = true, 7 })}
			})},
		{"server equal polls", "server a.example minpoll 8 maxpoll 8",
			base(func(c *Config) {
				c.Servers = []Server{srv("a.example", 123, func(s *Server) { s.MinPoll, s.MaxPoll = 8, 8 })}
			})},
		{"same host two ports", "server a.example\nserver a.example:124",
			base(func(c *Config) { c.Servers = []Server{srv("a.example", 123, nil), srv("a.example", 124, nil)} })},
		{"pool", "pool pool.ntp.org", base(func(c *Config) { c.Pools = []Pool{{Name: "pool.ntp.org", Port: 123, MaxSources: 4}} })},
		{"pool options", "pool 2.debian.pool.ntp.org:1234 iburst maxsources 8",
			base(func(c *Config) {
				c.Pools = []Pool{{Name: "2.debian.pool.ntp.org", Port: 1234, IBurst: true, MaxSources: 8}}
			})},
		{"restrict default flags", "restrict default kod limited nomodify notrap nopeer noquery",
			base(func(c *Config) {
				c.Restrict = []Restrict{{Default: true, KoD: true, Limited: true, NoModify: true, NoTrap: true, NoPeer: true, NoQuery: true}}
			})},
		{"restrict host", "restrict 127.0.0.1",
			base(func(c *Config) { c.Restrict = []Restrict{{Addr: netip.MustParsePrefix("127.0.0.1/32")}} })},
		{"restrict mask", "restrict 192.168.0.0 mask 255.255.0.0 noserve ignore",
			base(func(c *Config) {
				c.Restrict = []Restrict{{Addr: netip.MustParsePrefix("192.168.0.0/16"), NoServe: true, Ignore: true}}
			})},
		{"restrict cidr", "restrict 10.0.0.0/8 noquery",
			base(func(c *Config) { c.Restrict = []Restrict{{Addr: netip.MustParsePrefix("10.0.0.0/8"), NoQuery: true}} })},
		{"restrict ipv6 mask", "restrict 2001:db8:: mask ffff:ffff:: notrap",
			base(func(c *Config) { c.Restrict = []Restrict{{Addr: netip.MustParsePrefix("2001:db8::/32"), NoTrap: true}} })},
		{"restrict ipv6 host", "restrict ::1",
			base(func(c *Config) { c.Restrict = []Restrict{{Addr: netip.MustParsePrefix("::1/128")}} })},
		{"listen", "listen 0.0.0.0\nlisten [::]:1123\nlisten 127.0.0.1:12345\nlisten ::1",
			base(func(c *Config) { c.Listen = []string{"0.0.0.0:123", "[::]:1123", "127.0.0.1:12345", "[::1]:123"} })},
		{"metrics", "metrics 127.0.0.1:9123", base(func(c *Config) { c.Metrics = "127.0.0.1:9123" })},
		{"metrics ipv6", "metrics [::1]:9123", base(func(c *Config) { c.Metrics = "[::1]:9123" })},
		{"tinker all", "tinker step 0.5 stepout 300 panic 0",
			base(func(c *Config) { c.Tinker = Tinker{Step: 500 * time.Millisecond, Stepout: 300 * time.Second} })},
		{"tinker one keeps others", "tinker panic 2000.25",
			base(func(c *Config) { c.Tinker.Panic = 2000*time.Second + 250*time.Millisecond })},
		{"minsources", "minsources 3", base(func(c *Config) { c.MinSources = 3 })},
		{"driftfile", "driftfile /var/lib/timesync/drift", base(func(c *Config) { c.DriftFile = "/var/lib/timesync/drift" })},
		{"driftfile rooted", `driftfile \timesync\drift`, base(func(c *Config) { c.DriftFile = `\timesync\drift` })},
		{"driftfile quoted", `driftfile "/var/lib/time sync/d\"rift"`, base(func(c *Config) { c.DriftFile = `/var/lib/time sync/d"rift` })},
		{"control-group", "control-group timesync", base(func(c *Config) { c.ControlGroup = "timesync" })},
		{"control-group quoted", `control-group "Time Operators" # Windows`, base(func(c *Config) { c.ControlGroup = "Time Operators" })},
		{"trailing comment", "server 192.0.2.1 iburst # my ISP", base(func(c *Config) {
			c.Servers = []Server{srv("192.0.2.1", 123, func(s *Server) { s.IBurst = true })}
		})},
		{"comment glued", "server 192.0.2.1#x", base(func(c *Config) { c.Servers = []Server{srv("192.0.2.1", 123, nil)} })},
		{"crlf and bom", "\uFEFFserver 192.0.2.1\r\nminsources 2\r\n", base(func(c *Config) {
			c.Servers = []Server{srv("192.0.2.1", 123, nil)}
			c.MinSources = 2
		})},
		{"tabs", "\tserver\t192.0.2.1\t\tiburst", base(func(c *Config) {
			c.Servers = []Server{srv("192.0.2.1", 123, func(s *Server) { s.IBurst = true })}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseOK(t, tt.in)
			if got := exported(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q)\ngot  %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
		msg      string // substring of the message after "test.conf:LINE: "
	}{
		{"unknown directive", "# c\nfoo bar", 2, `unknown directive "foo"`},
		{"metrics without port", "metrics 127.0.0.1", 1, "want ADDRESS:PORT"},
		{"metrics host name", "metrics localhost:9123", 1, "needs an IP address"},
		{"metrics twice", "metrics 127.0.0.1:1\nmetrics 127.0.0.1:2", 2, "given twice (first on line 1)"},
		{"metrics two args", "metrics 127.0.0.1:1 x", 1, "want one ADDRESS:PORT"},
		{"near miss", "sever 1.2.3.4", 1, `did you mean "server"?`},
		{"chrony directive", "makestep 1 3", 1, "chrony.conf syntax"},
		{"ntp directive", "\n\nstatistics loopstats", 3, "ntp.conf syntax"},
		{"timesyncd line", "NTP=a.example", 1, "timesyncd.conf syntax"},
		{"server no address", "server", 1, "missing ADDRESS"},
		{"server bad host", "server bad_host!", 1, "not a valid host name"},
		{"server numeric tld", "server 10.0.0.300", 1, "neither an IP address nor a host name"},
		{"server bad port", "server 192.0.2.1:0", 1, "port: 0 is out of range 1..65535"},
		{"server port text", "server 192.0.2.1:ntp", 1, `port: "ntp" is not a whole number`},
		{"server ipv6 port no brackets", "server 2001:db8::1:123x", 1, "not an IPv6 address"},
		{"server brackets ipv4", "server [192.0.2.1]:123", 1, "brackets are only for IPv6"},
		{"minpoll range", "server a.example minpoll 99", 1, "minpoll: 99 is out of range 3..17"},
		{"maxpoll range", "server a.example maxpoll 2", 1, "maxpoll: 2 is out of range 3..17"},
		{"minpoll > maxpoll", "server a.example minpoll 12 maxpoll 8", 1, "minpoll 12 is greater than maxpoll 8"},
		{"minpoll > default maxpoll", "server a.example minpoll 11", 1, "minpoll 11 is greater than maxpoll 10"},
		{"minpoll no value", "server a.example minpoll", 1, "minpoll needs a value"},
		{"unknown server option", "server a.example burst", 1, `unknown option "burst"`},
		{"option twice", "server a.example iburst iburst", 1, "iburst given twice"},
		{"duplicate server", "server a.example\n\nserver A.EXAMPLE:123", 3, "server a.example:123: already configured on line 1"},
		{"duplicate ipv6 server", "server 2001:db8::1\nserver [2001:0db8::1]", 2, "already configured on line 1"},
		{"pool no name", "pool", 1, "missing NAME"},
		{"pool maxsources", "pool p.example maxsources 17", 1, "maxsources: 17 is out of range 1..16"},
		{"pool option", "pool p.example prefer", 1, `unknown option "prefer"`},
		{"duplicate pool", "pool p.example\npool p.example", 2, "already configured on line 1"},
		{"restrict no target", "restrict", 1, "missing default or ADDRESS"},
		{"restrict host name", "restrict ntp.example", 1, "not default or an IP address"},
		{"restrict bad mask", "restrict 10.0.0.0 mask 255.0.255.0", 1, "not contiguous"},
		{"restrict mask family", "restrict 10.0.0.0 mask ffff::", 1, "not an IPv4 netmask"},
		{"restrict mask missing", "restrict 10.0.0.0 mask", 1, "mask needs a value"},
		{"restrict host bits", "restrict 10.1.2.3 mask 255.0.0.0", 1, "bits outside the mask (did you mean 10.0.0.0 mask 255.0.0.0?)"},
		{"restrict cidr and mask", "restrict 10.0.0.0/8 mask 255.0.0.0", 1, "not both"},
		{"restrict default mask", "restrict default mask 255.0.0.0", 1, "takes no mask"},
		{"restrict unknown flag", "restrict default notrust", 1, `unknown option "notrust"`},
		{"restrict flag twice", "restrict default kod kod", 1, "kod given twice"},
		{"restrict zone", "restrict fe80::1%eth0", 1, "zones are not supported"},
		{"duplicate restrict", "restrict 10.0.0.0/8\nrestrict 10.0.0.0 mask 255.0.0.0 ignore", 2, "restrict 10.0.0.0/8: already configured on line 1"},
		{"duplicate default", "restrict default\nrestrict default ignore", 2, "already configured on line 1"},
		{"listen host name", "listen localhost", 1, "needs an IP address"},
		{"listen two args", "listen 0.0.0.0 ::", 1, "want one ADDRESS"},
		{"duplicate listen", "listen 0.0.0.0\nlisten 0.0.0.0:123", 2, "already configured on line 1"},
		{"tinker empty", "tinker", 1, "want step SEC"},
		{"tinker unknown", "tinker allan 1500", 1, `unknown option "allan"`},
		{"tinker negative", "tinker step -1", 1, "tinker: step: -1 s is negative"},
		{"tinker text", "tinker stepout soon", 1, `"soon" is not a number of seconds`},
		{"tinker nan", "tinker panic NaN", 1, "not a number of seconds"},
		{"tinker huge", "tinker panic 1e12", 1, "more than 100 years"},
		{"tinker twice", "tinker step 1\ntinker panic 0", 2, "tinker: given twice (first on line 1)"},
		{"minsources zero", "minsources 0", 1, "minsources: 0 is out of range 1..64"},
		{"minsources args", "minsources", 1, "want one number"},
		{"driftfile relative", "driftfile drift", 1, "not an absolute path"},
		{"driftfile two", "driftfile /a /b", 1, "want one PATH"},
		{"driftfile twice", "driftfile /a\ndriftfile /b", 2, "driftfile: given twice"},
		{"control-group empty", `control-group ""`, 1, "want one NAME"},
		{"control-group padded", `control-group " admins"`, 1, "leading or trailing blanks"},
		{"unterminated quote", `driftfile "/a b`, 1, "unterminated quoted string"},
		{"stray quote", `driftfile /a"b"`, 1, "stray quote"},
		{"quote glued", `driftfile "/a"b`, 1, "followed by a blank"},
		{"control character", "driftfile /a\x01b", 1, "control character"},
		{"invalid utf-8", "driftfile /a\xffb", 1, "not valid UTF-8"},
		{"long line", "# fine\n" + strings.Repeat("x", maxLine+10), 2, "line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("test.conf", strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.in, c)
			}
			if c != nil {
				t.Errorf("Parse returned a config along with the error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if pe.File != "test.conf" || pe.Line != tt.line {
				t.Errorf("error at %s:%d, want test.conf:%d (%v)", pe.File, pe.Line, tt.line, err)
			}
			if !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("got message %q, want it to contain %q", pe.Msg, tt.msg)
			}
			if want := "test.conf:" + strconv.Itoa(tt.line) + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got %q, want prefix %q", err.Error(), want)
			}
		})
	}
}

func TestParseReportsAllErrorsInLineOrder(t *testing.T) {
	in := `server a.example minpoll 99
server b.example
bogus
server b.example
tinker step -1
pool p.example maxsources 0
`
	_, err := Parse("multi.conf", strings.NewReader(in))
	if err == nil {
		t.Fatal("no error")
	}
	var lines []int
	for _, e := range unjoin(err) {
		var pe *ParseError
		if !errors.As(e, &pe) {
			t.Fatalf("%v is not a *ParseError", e)
		}
		lines = append(lines, pe.Line)
	}
	if want := []int{1, 3, 4, 5, 6}; !reflect.DeepEqual(lines, want) {
		t.Errorf("errors on lines %v, want %v:\n%v", lines, want, err)
	}
	if got := strings.Count(err.Error(), "\n") + 1; got != 5 {
		t.Errorf("got %d lines of error text, want 5:\n%v", got, err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "timesync.conf")
	if err := os.WriteFile(path, []byte("server 192.0.2.1\nminsources 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2: minsources") {
		t.Errorf("Load error %v, want one starting with %s:2: minsources", err, path)
	}
	if err := os.WriteFile(path, []byte("server 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil || len(c.Servers) != 1 {
		t.Errorf("Load = %+v, %v; want one server", c, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error %v, want fs.ErrNotExist", err)
	}
}

func TestParseArgsHelpers(t *testing.T) {
	s, err := ParseServer("[2001:db8::5]:4123", "iburst")
	if err != nil || s.HostPort() != "[2001:db8::5]:4123" || !s.IBurst {
		t.Errorf("ParseServer = %+v, %v", s, err)
	}
	if _, err := ParseServer(); err == nil {
		t.Error("ParseServer() with no arguments succeeded")
	}
	p, err := ParsePool("pool.example", "maxsources", "2")
	if err != nil || p.MaxSources != 2 || p.HostPort() != "pool.example:123" {
		t.Errorf("ParsePool = %+v, %v", p, err)
	}
	r, err := ParseRestrict("192.168.1.0", "mask", "255.255.255.0", "noquery")
	if err != nil || r.Addr != netip.MustParsePrefix("192.168.1.0/24") || !r.NoQuery || r.Default {
		t.Errorf("ParseRestrict = %+v, %v", r, err)
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"plain", "", "with space", `C:\ProgramData\timesync\drift`, `ends\`, `a"b`, `\"`, `a\\b`, "#hash"} {
		toks, _, err := lexLine("x " + quote(s) + " # c")
		if err != nil || len(toks) != 2 || toks[1] != s {
			t.Errorf("lex(quote(%q) = %s) = %q, %v; want [x %q]", s, quote(s), toks, err, s)
		}
	}
	if got := quote(`C:\ProgramData\timesync\drift`); got != `C:\ProgramData\timesync\drift` {
		t.Errorf("quote of a Windows path = %s, want it unquoted", got)
	}
}
