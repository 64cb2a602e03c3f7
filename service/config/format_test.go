package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

const office = `# timesync.conf for the office

# Our ISP's servers.
server 192.0.2.1   iburst   # primary
SERVER 192.0.2.2 minpoll 6 maxpoll 10

pool pool.example.org iburst maxsources 4

# Serve the LAN.
listen 0.0.0.0:123


restrict default ignore
# The office LAN.
restrict 192.168.1.0/24 nomodify noquery
tinker panic 0
# end
`

func TestFormatKeepsComments(t *testing.T) {
	c := parseOK(t, office)
	want := `# timesync.conf for the office

# Our ISP's servers.
server 192.0.2.1 iburst # primary
server 192.0.2.2

pool pool.example.org iburst

# Serve the LAN.
listen 0.0.0.0

restrict default ignore
# The office LAN.
restrict 192.168.1.0 mask 255.255.255.0 nomodify noquery
tinker step 0.128 stepout 900 panic 0
# end
`
	if got := string(c.Format()); got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormatAfterEdits(t *testing.T) {
	c := parseOK(t, office)
	if err := c.RemoveServer("192.0.2.2"); err != nil {
		t.Fatal(err)
	}
	if err := c.AddServer(Server{Address: "2001:db8::7", Port: 4123, Prefer: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveRestrict(Restrict{Addr: netip.MustParsePrefix("192.168.1.0/24")}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetRestrict(Restrict{Addr: netip.MustParsePrefix("10.0.0.0/8"), KoD: true, Limited: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetRestrict(Restrict{Default: true, NoServe: true}); err != nil {
		t.Fatal(err)
	}
	c.ControlGroup = "ntp admins"
	c.MinSources = 2
	c.Tinker = DefaultTinker()
	want := `# timesync.conf for the office

# Our ISP's servers.
server 192.0.2.1 iburst # primary
server [2001:db8::7]:4123 prefer

pool pool.example.org iburst

# Serve the LAN.
listen 0.0.0.0

restrict default noserve
restrict 10.0.0.0 mask 255.0.0.0 kod limited
tinker step 0.128 stepout 900 panic 1000
# end

minsources 2

control-group "ntp admins"
`
	if got := string(c.Format()); got != want {
		t.Errorf("Format after edits:\n%s\nwant:\n%s", got, want)
	}

	// Removing the first server takes its comment block along.
	if err := c.RemoveServer("192.0.2.1:123"); err != nil {
		t.Fatal(err)
	}
	if got := string(c.Format()); strings.Contains(got, "ISP") || strings.Contains(got, "primary") {
		t.Errorf("comments of a removed server kept:\n%s", got)
	}
}

func TestFormatWithoutLayout(t *testing.T) {
	c := &Config{
		Listen:       []string{"::", "127.0.0.1:1123"},
		Restrict:     []Restrict{{Default: true, Ignore: true}, {Addr: netip.MustParsePrefix("::1/128")}},
		Servers:      []Server{{Address: "a.example"}, {Address: "192.0.2.9", Port: 123, MinPoll: 4, MaxPoll: 6}},
		Pools:        []Pool{{Name: "p.example", MaxSources: 2}},
		Tinker:       Tinker{Step: 0, Stepout: 300 * time.Second, Panic: 0},
		DriftFile:    `C:\ProgramData\timesync\timesync.drift`,
		ControlGroup: "wheel",
	}
	want := `server a.example
server 192.0.2.9 minpoll 4 maxpoll 6

pool p.example maxsources 2

tinker step 0 stepout 300 panic 0

driftfile C:\ProgramData\timesync\timesync.drift

restrict default ignore
restrict ::1

listen ::
listen 127.0.0.1:1123

control-group wheel
`
	if got := string(c.Format()); got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	inputs := map[string]string{
		"office":  office,
		"default": string(Default().Format()),
		"everything": `server 192.0.2.1:1123 iburst prefer minpoll 3 maxpoll 17
server [fe80::1%eth0]:123
server time.example.com minpoll 10 maxpoll 10
pool pool.example.org:10123 maxsources 16
restrict default kod limited nomodify noquery nopeer noserve notrap ignore
restrict 2001:db8:: mask ffff:ffff:ffff:: noserve
restrict 203.0.113.7
listen [::1]:4123
listen 127.0.0.1
tinker step 1.5 stepout 60.000000001 panic 86400
minsources 3
driftfile "/var/lib/my timesync/drift"
control-group "BUILTIN\Time \"Operators\""
`,
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			c1 := parseOK(t, in)
			text1 := c1.Format()
			c2 := parseOK(t, string(text1))
			if !reflect.DeepEqual(exported(c1), exported(c2)) {
				t.Errorf("Parse → Format → Parse changed the config:\n%+v\n%+v\ntext:\n%s", exported(c1), exported(c2), text1)
			}
			if text2 := c2.Format(); string(text2) != string(text1) {
				t.Errorf("Format is not stable:\n%s\nthen:\n%s", text1, text2)
			}
		})
	}
}

func TestFormatOfEffectiveParsesBack(t *testing.T) {
	c := &Config{Servers: []Server{{Address: "a.example"}}, Listen: []string{"0.0.0.0"}}
	e := c.Effective()
	back := parseOK(t, string(c.Format()))
	if !reflect.DeepEqual(back.Servers, e.Servers) || !reflect.DeepEqual(back.Listen, e.Listen) {
		t.Errorf("got %+v %v, want %+v %v", back.Servers, back.Listen, e.Servers, e.Listen)
	}
}

func TestFormatMetrics(t *testing.T) {
	c, err := Parse("x", strings.NewReader("server 192.0.2.1\n# scrape me\nmetrics [::1]:9123\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(c.Format()), "server 192.0.2.1\n# scrape me\nmetrics [::1]:9123\n"; got != want {
		t.Errorf("Format:\n%s\nwant\n%s", got, want)
	}
	c.Metrics = ""
	if got, want := string(c.Format()), "server 192.0.2.1\n"; got != want {
		t.Errorf("Format without metrics:\n%s\nwant\n%s", got, want)
	}
}
