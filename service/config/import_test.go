package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// report is what a test expects of one Skipped entry.
type report struct {
	line    int
	partial bool
	why     string // substring
}

func checkReport(t *testing.T, got []Skipped, want []report) {
	t.Helper()
	if len(got) != len(want) {
		var lines []string
		for _, s := range got {
			lines = append(lines, s.String())
		}
		t.Fatalf("got %d reports, want %d:\n%s", len(got), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		g := got[i]
		if g.Line != w.line || g.Partial != w.partial || !strings.Contains(g.Why, w.why) {
			t.Errorf("report %d = %s (partial %v), want line %d partial %v containing %q", i, g, g.Partial, w.line, w.partial, w.why)
		}
	}
}

func importFile(t *testing.T, name string) (*Config, []Skipped) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, skipped, err := Import(name, f)
	if err != nil {
		t.Fatalf("Import(%s): %v", name, err)
	}
	// Whatever Import produces must be a valid file of our own.
	back, err := Parse("imported.conf", strings.NewReader(string(c.Format())))
	if err != nil {
		t.Fatalf("the imported configuration does not parse: %v\n%s", err, c.Format())
	}
	if !reflect.DeepEqual(exported(back), exported(c)) {
		t.Errorf("imported config changed through Format/Parse:\n%+v\n%+v", exported(c), exported(back))
	}
	if !strings.HasPrefix(string(c.Format()), "# Imported from "+name+" (read as ") {
		t.Errorf("no header comment:\n%s", c.Format())
	}
	return c, skipped
}

func TestImportNTPConf(t *testing.T) {
	c, skipped := importFile(t, "ntp.conf")
	want := Config{
		Servers: []Server{{Address: "ntp.example.net", Port: 123, IBurst: true, Prefer: true, MinPoll: 4, MaxPoll: 8}},
		Pools: []Pool{
			{Name: "0.debian.pool.ntp.org", Port: 123, IBurst: true, MaxSources: 4},
			{Name: "1.debian.pool.ntp.org", Port: 123, IBurst: true, MaxSources: 4},
		},
		Restrict: []Restrict{
			{Default: true, KoD: true, Limited: true, NoModify: true, NoQuery: true, NoPeer: true, NoTrap: true},
			{Addr: netip.MustParsePrefix("127.0.0.1/32")},
			{Addr: netip.MustParsePrefix("::1/128")},
			{Addr: netip.MustParsePrefix("192.168.123.0/24"), Ignore: true},
		},
		Tinker:     Tinker{Step: DefaultStep, Stepout: DefaultStepout, Panic: 0},
		MinSources: 2,
		DriftFile:  "/var/lib/ntp/ntp.drift",
	}
	if got := exported(c); !reflect.DeepEqual(got, want) {
		t.Errorf("Import:\n%+v\nwant\n%+v", got, want)
	}
	checkReport(t, skipped, []report{
		{0, true, "add \"listen 0.0.0.0\""},
		{6, false, "leap indicator"},
		{11, false, "system log"},
		{12, false, "system log"},
		{16, false, "reference clocks"},
		{17, false, "symmetric peering"},
		{22, false, "pool 1.debian.pool.ntp.org:123 is already on line 21"},
		{24, true, "huffpuff is not supported"},
		{25, true, "minclock is not supported"},
		{36, false, "own servers"},
		{40, true, "notrust"},
	})
}

func TestImportChronyConf(t *testing.T) {
	c, skipped := importFile(t, "chrony.conf")
	want := Config{
		Servers: []Server{
			{Address: "192.0.2.10", Port: 123, IBurst: true, Prefer: true, MinPoll: 3, MaxPoll: 9},
			{Address: "2001:db8::10", Port: 1123, MinPoll: 6, MaxPoll: 10},
		},
		Pools: []Pool{{Name: "2.debian.pool.ntp.org", Port: 123, IBurst: true, MaxSources: 3}},
		Restrict: []Restrict{
			{Default: true, Ignore: true},
			{Addr: netip.MustParsePrefix("192.168.0.0/16")},
			{Addr: netip.MustParsePrefix("192.168.5.0/24"), Ignore: true},
			{Addr: netip.MustParsePrefix("2001:db8:1::/48")},
		},
		Listen:     []string{"0.0.0.0:123", "[::]:123"},
		Tinker:     Tinker{Step: time.Second, Stepout: DefaultStepout, Panic: DefaultPanic},
		MinSources: 2,
		DriftFile:  "/var/lib/chrony/chrony.drift",
	}
	if got := exported(c); !reflect.DeepEqual(got, want) {
		t.Errorf("Import:\n%+v\nwant\n%+v", got, want)
	}
	checkReport(t, skipped, []report{
		{5, false, "reads one file"},
		{9, true, "minpoll 2 is outside 3..17, using 3; polltarget is not supported"},
		{10, true, "nts: authentication"},
		{11, false, "noselect"},
		{14, false, "reads one file"},
		{18, false, "authentication"},
		{25, false, "system log"},
		{28, false, "tuning"},
		{32, false, "RTC"},
		{36, true, "first 3 clock updates"},
		{41, true, "added listen 0.0.0.0:123, [::]:123"},
		{44, false, "host names in allow/deny are not supported"},
		{47, false, "leap indicator"},
	})
	// The LAN is served, the printers and everyone else are not.
	for addr, serves := range map[string]bool{"192.168.1.9": true, "192.168.5.9": false, "203.0.113.1": false, "2001:db8:1::1": true, "2001:db8:2::1": false} {
		if got := c.RestrictFor(netip.MustParseAddr(addr)).Serves(); got != serves {
			t.Errorf("imported rules: %s served = %v, want %v", addr, got, serves)
		}
	}
}

func TestImportTimesyncdConf(t *testing.T) {
	c, skipped := importFile(t, "timesyncd.conf")
	srv := func(a string) Server { return Server{Address: a, Port: 123, MinPoll: 5, MaxPoll: 11} }
	want := Config{
		Servers:    []Server{srv("ntp1.example.com"), srv("192.0.2.20"), srv("0.debian.pool.ntp.org"), srv("1.debian.pool.ntp.org")},
		Tinker:     DefaultTinker(),
		MinSources: 1,
	}
	if got := exported(c); !reflect.DeepEqual(got, want) {
		t.Errorf("Import:\n%+v\nwant\n%+v", got, want)
	}
	checkReport(t, skipped, []report{
		{16, true, "FallbackNTP servers became ordinary servers"},
		{16, false, "server 192.0.2.20:123 is already on line 15"},
		{19, true, "2160 s is not a power of two: using 2^11 = 2048 s"},
		{20, false, "no equivalent"},
	})
}

func TestImportTimesyncdStock(t *testing.T) {
	// Debian's shipped file: everything commented out.
	stock := "[Time]\n#NTP=\n#FallbackNTP=0.debian.pool.ntp.org 1.debian.pool.ntp.org\n#RootDistanceMaxSec=5\n"
	c, skipped, err := Import("/etc/systemd/timesyncd.conf", strings.NewReader(stock))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers)+len(c.Pools) != 0 {
		t.Errorf("sources %+v %+v, want none", c.Servers, c.Pools)
	}
	checkReport(t, skipped, []report{{0, true, "no time source"}})
}

func TestImportTimesyncdDetails(t *testing.T) {
	tests := []struct {
		name, in string
		servers  []Server
		report   []report
	}{
		{"empty assignment resets", "[Time]\nNTP=a.example\nNTP=\nNTP=b.example c.example:1123\n",
			[]Server{{Address: "b.example", Port: 123, MinPoll: 6, MaxPoll: 10}, {Address: "c.example", Port: 1123, MinPoll: 6, MaxPoll: 10}}, nil},
		{"other section", "[Time]\nNTP=a.example\n[Network]\nNTP=b.example\n",
			[]Server{{Address: "a.example", Port: 123, MinPoll: 6, MaxPoll: 10}}, []report{{4, false, "section [Network]"}}},
		{"poll bounds cross", "[Time]\nNTP=a.example\nPollIntervalMinSec=4096\nPollIntervalMaxSec=64\n",
			[]Server{{Address: "a.example", Port: 123, MinPoll: 6, MaxPoll: 6}}, []report{{4, true, "minpoll 12 would exceed maxpoll 6"}}},
		{"poll clamped", "[Time]\nNTP=a.example\nPollIntervalMinSec=1\nPollIntervalMaxSec=7d\n",
			[]Server{{Address: "a.example", Port: 123, MinPoll: 3, MaxPoll: 17}},
			[]report{{3, true, "minpoll 0 is outside 3..17"}, {4, true, "maxpoll 19 is outside 3..17, using 17"}}},
		{"bad span", "[Time]\nNTP=a.example\nPollIntervalMinSec=soon\n",
			[]Server{{Address: "a.example", Port: 123, MinPoll: 6, MaxPoll: 10}}, []report{{3, false, "not a time span"}}},
		{"bad address", "[Time]\nNTP=bad!host a.example\n",
			[]Server{{Address: "a.example", Port: 123, MinPoll: 6, MaxPoll: 10}}, []report{{2, false, "bad!host: cannot read the address"}}},
		{"no equals", "[Time]\nNTP a.example\n", nil, []report{{0, true, "no time source"}, {2, false, "not KEY=VALUE"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, skipped, err := ImportDialect(DialectTimesyncd, "t.conf", strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Servers, tt.servers) {
				t.Errorf("servers %+v, want %+v", c.Servers, tt.servers)
			}
			checkReport(t, skipped, tt.report)
		})
	}
}

func TestImportNTPDetails(t *testing.T) {
	tests := []struct {
		name, in string
		check    func(t *testing.T, c *Config)
		report   []report
	}{
		{"server options", "server -4 a.example iburst burst key 5 version 3 minpoll 1 maxpoll 20",
			func(t *testing.T, c *Config) {
				if want := []Server{{Address: "a.example", Port: 123, IBurst: true, MinPoll: 3, MaxPoll: 17}}; !reflect.DeepEqual(c.Servers, want) {
					t.Errorf("servers %+v, want %+v", c.Servers, want)
				}
			},
			[]report{{0, true, "listen"}, {1, true, "-4 (address family)"}}},
		{"noselect", "server a.example noselect", func(t *testing.T, c *Config) {
			if len(c.Servers) != 0 {
				t.Errorf("servers %+v, want none", c.Servers)
			}
		}, []report{{0, true, ""}, {1, false, "noselect"}}},
		{"minpoll above maxpoll", "server a.example minpoll 12", func(t *testing.T, c *Config) {
			if s := c.Servers[0]; s.MinPoll != 12 || s.MaxPoll != 12 {
				t.Errorf("polls %d..%d, want 12..12", s.MinPoll, s.MaxPoll)
			}
		}, []report{{0, true, ""}, {1, true, "minpoll 12 > maxpoll 10"}}},
		{"pool with options", "pool p.example prefer minpoll 4", func(t *testing.T, c *Config) {
			if want := []Pool{{Name: "p.example", Port: 123, MaxSources: 4}}; !reflect.DeepEqual(c.Pools, want) {
				t.Errorf("pools %+v", c.Pools)
			}
		}, []report{{0, true, ""}, {1, true, "prefer is not supported on a pool; minpoll/maxpoll"}}},
		{"restrict merge and mask", "restrict -4 default noquery\nrestrict -6 default nopeer\nrestrict 10.1.2.3 mask 255.0.0.0 kod\nrestrict 10.0.0.0 mask 255.0.0.0 limited",
			func(t *testing.T, c *Config) {
				want := []Restrict{{Default: true, NoQuery: true, NoPeer: true}, {Addr: netip.MustParsePrefix("10.0.0.0/8"), KoD: true, Limited: true}}
				if !reflect.DeepEqual(c.Restrict, want) {
					t.Errorf("restrict %+v, want %+v", c.Restrict, want)
				}
			}, []report{{0, true, ""}, {2, true, "one default rule for IPv4 and IPv6"}, {4, true, "combined"}}},
		{"restrict odd flags", "restrict default ippeerlimit 2 version nomrulist", func(t *testing.T, c *Config) {
			if want := []Restrict{{Default: true}}; !reflect.DeepEqual(c.Restrict, want) {
				t.Errorf("restrict %+v", c.Restrict)
			}
		}, []report{{0, true, ""}, {1, true, "ippeerlimit is not supported; version is not supported; nomrulist"}}},
		{"restrict host name", "restrict time.example", nil, []report{{0, true, ""}, {1, false, "host name"}}},
		{"restrict bad mask", "restrict 10.0.0.0 mask 255.0.255.0", nil, []report{{0, true, ""}, {1, false, "not contiguous"}}},
		{"interface listen", "interface listen 192.0.2.1\ninterface ignore wildcard", func(t *testing.T, c *Config) {
			if want := []string{"192.0.2.1:123"}; !reflect.DeepEqual(c.Listen, want) {
				t.Errorf("listen %v, want %v", c.Listen, want)
			}
		}, []report{{2, false, "interface listen ADDRESS"}}},
		{"tinker nothing", "tinker allan 1500", nil, []report{{0, true, ""}, {1, false, "nothing convertible: allan"}}},
		{"tinker bad value", "tinker step x stepout 60", func(t *testing.T, c *Config) {
			if c.Tinker.Stepout != time.Minute || c.Tinker.Step != DefaultStep {
				t.Errorf("tinker %+v", c.Tinker)
			}
		}, []report{{0, true, ""}, {1, true, `step: "x" is not a number`}}},
		{"tos without minsane", "tos maxclock 10", nil, []report{{0, true, ""}, {1, false, "minsane"}}},
		{"relative driftfile", "driftfile ntp.drift", nil, []report{{0, true, ""}, {1, false, "absolute path"}}},
		{"unknown", "frobnicate 3\nserver 192.0.2.1", nil, []report{{0, true, ""}, {1, false, "not supported"}}},
		{"bad quoting", `server "a.example`, nil, []report{{0, true, ""}, {1, false, "cannot read"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, skipped, err := ImportDialect(DialectNTP, "ntp.conf", strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
			checkReport(t, skipped, tt.report)
		})
	}
}

func TestImportChronyAccess(t *testing.T) {
	tests := []struct {
		name, in string
		serves   map[string]bool
		listen   []string
		report   []report
	}{
		{"no allow: nothing served, bindaddress unused",
			"makestep 1 -1\nbindaddress 192.0.2.1\ndeny 10.0.0.0/8", map[string]bool{"10.0.0.1": false, "192.0.2.9": false}, nil,
			[]report{{1, true, "at any clock update"}, {2, false, "no allow"}}},
		{"allow everything but one net",
			"makestep 1 3\nallow\ndeny 10/8", map[string]bool{"10.0.0.1": false, "192.0.2.9": true, "2001:db8::1": true},
			[]string{"0.0.0.0:123", "[::]:123"}, []report{{1, true, ""}, {2, true, "added listen"}}},
		{"later line for the same subnet wins",
			"makestep 1 3\nallow 10.0.0.0/8\ndeny 10.0.0.0/8", map[string]bool{"10.0.0.1": false}, []string{"0.0.0.0:123", "[::]:123"},
			[]report{{1, true, ""}, {2, true, "added listen"}}},
		{"allow all overrides nested denies",
			"makestep 1 3\ndeny 10.1.0.0/16\nallow all 10.0.0.0/8\nallow 172.16.5.4", map[string]bool{"10.1.2.3": true, "172.16.5.4": true, "172.16.5.5": false},
			[]string{"0.0.0.0:123", "[::]:123"}, []report{{1, true, ""}, {3, true, "added listen"}}},
		{"deny all drops everything before",
			"makestep 1 3\nallow 10.0.0.0/8\ndeny all", map[string]bool{"10.0.0.1": false}, []string{"0.0.0.0:123", "[::]:123"},
			[]report{{1, true, ""}, {2, true, "added listen"}}},
		{"bindaddress and port",
			"makestep 1 3\nallow 192.0.2.0/24\nbindaddress 192.0.2.1\nbindaddress ::1\nport 1123", map[string]bool{"192.0.2.77": true},
			[]string{"192.0.2.1:1123", "[::1]:1123"}, []report{{1, true, ""}, {2, true, "added listen 192.0.2.1:1123, [::1]:1123"}}},
		{"port 0 disables serving",
			"makestep 1 3\nallow 192.0.2.0/24\nport 0", map[string]bool{"192.0.2.77": true}, nil,
			[]report{{1, true, ""}, {3, true, "port 0 turns chronyd's server off"}}},
		{"no makestep",
			"allow 192.0.2.5", map[string]bool{"192.0.2.5": true, "192.0.2.6": false}, []string{"0.0.0.0:123", "[::]:123"},
			[]report{{0, true, "chronyd never steps"}, {1, true, "added listen"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, skipped, err := ImportDialect(DialectChrony, "chrony.conf", strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			for addr, want := range tt.serves {
				if got := c.RestrictFor(netip.MustParseAddr(addr)).Serves(); got != want {
					t.Errorf("%s served = %v, want %v (rules %v)", addr, got, want, c.Restrict)
				}
			}
			if !reflect.DeepEqual(c.Listen, tt.listen) {
				t.Errorf("listen %v, want %v", c.Listen, tt.listen)
			}
			checkReport(t, skipped, tt.report)
		})
	}
}

func TestChronySubnet(t *testing.T) {
	for in, want := range map[string]string{
		"192.168": "192.168.0.0/16", "10": "10.0.0.0/8", "1.2.3": "1.2.3.0/24", "1.2.3.4": "1.2.3.4/32",
		"1.2.3.4/24": "1.2.3.0/24", "0/0": "0.0.0.0/0", "::/0": "::/0", "2001:db8::1": "2001:db8::1/128",
		"2001:db8::/32": "2001:db8::/32",
	} {
		got, err := chronySubnet(in)
		if err != nil || got.String() != want {
			t.Errorf("chronySubnet(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"host.lan", "1.2.3.4/33", "1.x", "10/x"} {
		if got, err := chronySubnet(bad); err == nil {
			t.Errorf("chronySubnet(%q) = %v, want an error", bad, got)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name, data string
		want       Dialect
	}{
		{"ntp.conf", "server a iburst\nrestrict default kod\n", DialectNTP},
		{"chrony.conf", "server a iburst\nmakestep 1 3\n", DialectChrony},
		{"timesyncd.conf", "[Time]\nNTP=a\n", DialectTimesyncd},
		{"/tmp/upload", "[Time]\n#NTP=\n", DialectTimesyncd},
		{"/tmp/upload", "pool p iburst maxsources 2\n", DialectChrony},
		{"/tmp/upload", "server a\ndriftfile /x\n", DialectNTP},
		{"/tmp/upload", "driftfile /x\nrtcsync\nallow 10/8\n", DialectChrony},
		{"/etc/chrony/chrony.conf", "server a\n", DialectChrony},
		{"/etc/ntp.conf", "server a\n", DialectNTP},
		{"/etc/ntpsec/ntp.conf", "server a\nrestrict default\n", DialectNTP},
		{`C:\Users\me\chrony.conf`, "server a\n", DialectChrony},
		{"chrony.conf", "restrict default\ntinker panic 0\nstatistics loopstats\n", DialectNTP}, // content wins
		{"", "", DialectNTP},
	}
	for _, tt := range tests {
		if got := Detect(tt.name, []byte(tt.data)); got != tt.want {
			t.Errorf("Detect(%q, %q) = %s, want %s", tt.name, tt.data, got, tt.want)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errInjected }

func TestImportFile(t *testing.T) {
	c, skipped, err := ImportFile("testdata/chrony.conf")
	if err != nil || len(c.Servers) != 2 || len(skipped) == 0 || skipped[0].File != "testdata/chrony.conf" {
		t.Errorf("ImportFile = %+v, %v, %v", c, skipped, err)
	}
	if _, _, err := ImportFile("testdata/missing.conf"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ImportFile(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestImportErrors(t *testing.T) {
	if _, _, err := Import("x.conf", failingReader{}); !errors.Is(err, errInjected) {
		t.Errorf("Import of a failing reader = %v, want the read error", err)
	}
	if _, _, err := ImportDialect("openntpd", "x.conf", strings.NewReader("")); err == nil {
		t.Error("ImportDialect(unknown) succeeded")
	}
	big := strings.NewReader(strings.Repeat("#\n", maxImport))
	if _, _, err := Import("x.conf", big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Import of a huge file = %v, want a size error", err)
	}
}

func TestSkippedString(t *testing.T) {
	for _, tt := range []struct {
		s    Skipped
		want string
	}{
		{Skipped{File: "ntp.conf", Line: 7, Text: "leapfile /x", Why: "w"}, `ntp.conf:7: skipped "leapfile /x": w`},
		{Skipped{File: "chrony.conf", Line: 3, Text: "makestep 1 3", Why: "w", Partial: true}, `chrony.conf:3: kept in part "makestep 1 3": w`},
		{Skipped{File: "ntp.conf", Why: "w", Partial: true}, `ntp.conf: note: w`},
	} {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestImportChronyServers(t *testing.T) {
	tests := []struct {
		name, in string
		servers  []Server
		pools    []Pool
		report   []report
	}{
		{"port option and key", "server a.example port 4123 key 7 burst xleave",
			[]Server{{Address: "a.example", Port: 4123, MinPoll: 6, MaxPoll: 10}}, nil,
			[]report{{1, true, "key: authentication (symmetric keys, Autokey, NTS) is not supported — this source is now used without it; burst is not supported (iburst is); xleave is not supported"}}},
		{"bad port", "server a.example port 0",
			[]Server{{Address: "a.example", Port: 123, MinPoll: 6, MaxPoll: 10}}, nil,
			[]report{{1, true, "port 0 is out of range, using 123"}}},
		{"not a number", "server a.example minpoll fast",
			[]Server{{Address: "a.example", Port: 123, MinPoll: 6, MaxPoll: 10}}, nil,
			[]report{{1, true, `minpoll "fast" is not a whole number, ignored`}}},
		{"missing value", "server a.example maxpoll", nil, nil, []report{{1, false, "maxpoll needs a value"}}},
		{"maxsources on a server", "server a.example maxsources 2",
			[]Server{{Address: "a.example", Port: 123, MinPoll: 6, MaxPoll: 10}}, nil,
			[]report{{1, true, "maxsources applies to pools only"}}},
		{"pool maxsources clamped", "pool p.example maxsources 40 prefer maxpoll 12",
			nil, []Pool{{Name: "p.example", Port: 123, MaxSources: 16}},
			[]report{{1, true, "maxsources 40 is outside 1..16, using 16; prefer is not supported on a pool; minpoll/maxpoll are not supported"}}},
		{"duplicate", "server a.example\nserver A.example iburst",
			[]Server{{Address: "a.example", Port: 123, MinPoll: 6, MaxPoll: 10}}, nil,
			[]report{{2, false, "server a.example:123 is already on line 2"}}}, // line 1 is makestep
		{"minpoll above maxpoll", "server a.example minpoll 12 maxpoll 8",
			[]Server{{Address: "a.example", Port: 123, MinPoll: 12, MaxPoll: 12}}, nil,
			[]report{{1, true, "minpoll 12 > maxpoll 8, using maxpoll 12"}}},
		{"no address", "server", nil, nil, []report{{1, false, "no address"}}},
		{"bad address", "server [192.0.2.1]", nil, nil, []report{{1, false, "brackets are only for IPv6"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, skipped, err := ImportDialect(DialectChrony, "chrony.conf", strings.NewReader("makestep 1 3\n"+tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Servers, tt.servers) || !reflect.DeepEqual(c.Pools, tt.pools) {
				t.Errorf("servers %+v pools %+v, want %+v %+v", c.Servers, c.Pools, tt.servers, tt.pools)
			}
			skipped = skipped[1:] // the makestep note
			for i := range tt.report {
				tt.report[i].line++ // after the makestep line
			}
			checkReport(t, skipped, tt.report)
		})
	}
}

func TestImportChronyMisc(t *testing.T) {
	tests := []struct {
		in     string
		report []report
	}{
		{"makestep 1", []report{{0, true, "no makestep"}, {1, false, "want makestep THRESHOLD LIMIT"}}},
		{"makestep soon 3", []report{{0, true, "no makestep"}, {1, false, "not a number of seconds"}}},
		{"minsources 0\nmakestep 0.5 1", []report{{1, false, "minsources: 0 is out of range"}, {2, true, "in the first 1 clock updates"}}},
		{"driftfile chrony.drift\nmakestep 0.5 1", []report{{1, false, "absolute path"}, {2, true, ""}}},
		{"! comment\n% comment\n; comment\nmakestep 1 2\nallow 1 2", []report{{4, true, ""}, {5, false, "want [all] [SUBNET]"}}},
		{"makestep 1 2\nbindaddress\nport x", []report{{1, true, ""}, {2, false, "want one address"}, {3, false, "not a whole number"}}},
		{"makestep 1 2\nallow 10/8\nbindaddress eth0", []report{{1, true, ""}, {2, true, "added listen 0.0.0.0:123, [::]:123"}, {3, false, "not an IP address"}}},
		{"makestep 1 2\nport 1123", []report{{1, true, ""}, {2, false, "no allow"}}},
		{"makestep 1 2\nfrobnicate", []report{{1, true, ""}, {2, false, "not supported by timesync"}}},
	}
	for _, tt := range tests {
		_, skipped, err := ImportDialect(DialectChrony, "chrony.conf", strings.NewReader(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.SplitN(tt.in, "\n", 2)[0], func(t *testing.T) { checkReport(t, skipped, tt.report) })
	}
}

func TestDirectiveStrings(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{Server{Address: "2001:db8::1", Port: 4123, IBurst: true, MaxPoll: 12}.String(), "server [2001:db8::1]:4123 iburst maxpoll 12"},
		{Pool{Name: "pool.ntp.org", Port: 123, MaxSources: 4}.String(), "pool pool.ntp.org"},
		{Restrict{Addr: netip.MustParsePrefix("2001:db8::/48"), NoServe: true}.String(), "restrict 2001:db8:: mask ffff:ffff:ffff:: noserve"},
		{DefaultRestrict().String(), "restrict default kod limited nomodify noquery nopeer notrap"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// A file that is already timesync's, or that none of the formats knows,
// is refused with the reason instead of becoming an empty configuration.
func TestImportRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, file, data string
		want             error
	}{
		{"own header", "x.conf", "# Imported from ntp.conf (read as ntp.conf) by \"timesync config import\".\nserver 192.0.2.1\n", ErrAlreadyTimesync},
		{"own name", "/etc/timesync/timesync.conf", "server 192.0.2.1 iburst\n", ErrAlreadyTimesync},
		{"own directive", "x.conf", "server 192.0.2.1\nlisten 0.0.0.0\n", ErrAlreadyTimesync},
		{"garbage", "x.conf", "hello world\nthis is not a config\n", ErrNothingImported},
		{"binary", "x.conf", "\x7fELF\x02\x01\x01\x00\x00", ErrNothingImported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := Import(tc.file, strings.NewReader(tc.data))
			if !errors.Is(err, tc.want) || cfg != nil {
				t.Errorf("got %v, %v; want %v and no config", cfg, err, tc.want)
			}
		})
	}
	// Server lines alone are valid in both formats: imported, with notes.
	if _, _, err := Import("ntp.conf", strings.NewReader("server 192.0.2.1 iburst\n")); err != nil {
		t.Errorf("plain server list: %v", err)
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "is a directory") || strings.Contains(err.Error(), ":1:") {
		t.Errorf("got %v, want 'is a directory' without a line number", err)
	}
}
