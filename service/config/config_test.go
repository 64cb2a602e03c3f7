package config

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	want := []Pool{{Name: DefaultPool, Port: 123, IBurst: true, MaxSources: 4}}
	if !reflect.DeepEqual(c.Pools, want) || len(c.Servers) != 0 {
		t.Errorf("Default pools %+v servers %+v, want %+v and none", c.Pools, c.Servers, want)
	}
	if len(c.Listen) != 0 {
		t.Errorf("Default serves time on %v, want off", c.Listen)
	}
	if c.Tinker != DefaultTinker() || c.MinSources != 1 || c.DriftFile == "" {
		t.Errorf("Default tinker %+v minsources %d driftfile %q", c.Tinker, c.MinSources, c.DriftFile)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("Default has warnings: %v", w)
	}
	// The default text must be valid on every OS, including Windows'
	// backslash paths (they are written unquoted and read back as they are).
	for _, goos := range []string{"linux", "darwin", "windows"} {
		text := defaultText(goos, func(string) string { return `D:\Data` })
		toks, _, err := lexLine(strings.Split(strings.SplitAfter(text, "driftfile ")[1], "\n")[0])
		if err != nil || len(toks) != 1 || toks[0] != DefaultDriftFile(goos, func(string) string { return `D:\Data` }) {
			t.Errorf("%s: driftfile line reads back as %q, %v", goos, toks, err)
		}
	}
}

func TestDefaultPaths(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "ProgramData" {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		goos, programData, path, drift string
	}{
		{"linux", "", "/etc/timesync/timesync.conf", "/var/lib/timesync/timesync.drift"},
		{"darwin", "", "/etc/timesync/timesync.conf", "/var/db/timesync/timesync.drift"},
		{"freebsd", "", "/etc/timesync/timesync.conf", "/var/db/timesync/timesync.drift"},
		{"windows", `C:\ProgramData`, `C:\ProgramData\timesync\timesync.conf`, `C:\ProgramData\timesync\timesync.drift`},
		{"windows", `E:\PD\`, `E:\PD\timesync\timesync.conf`, `E:\PD\timesync\timesync.drift`},
		{"windows", "", `C:\ProgramData\timesync\timesync.conf`, `C:\ProgramData\timesync\timesync.drift`},
	}
	for _, tt := range tests {
		if got := defaultPath(tt.goos, env(tt.programData)); got != tt.path {
			t.Errorf("defaultPath(%s, %q) = %q, want %q", tt.goos, tt.programData, got, tt.path)
		}
		if got := DefaultDriftFile(tt.goos, env(tt.programData)); got != tt.drift {
			t.Errorf("DefaultDriftFile(%s, %q) = %q, want %q", tt.goos, tt.programData, got, tt.drift)
		}
	}
	if DefaultPath() == "" {
		t.Error("DefaultPath() is empty")
	}
}

func TestHostPort(t *testing.T) {
	tests := []struct {
		s    Server
		want string
	}{
		{Server{Address: "192.0.2.1"}, "192.0.2.1:123"},
		{Server{Address: "192.0.2.1", Port: 1123}, "192.0.2.1:1123"},
		{Server{Address: "2001:db8::1"}, "[2001:db8::1]:123"},
		{Server{Address: "fe80::1%eth0", Port: 4123}, "[fe80::1%eth0]:4123"},
		{Server{Address: "time.example.com", Port: 123}, "time.example.com:123"},
	}
	for _, tt := range tests {
		if got := tt.s.HostPort(); got != tt.want {
			t.Errorf("%+v.HostPort() = %q, want %q", tt.s, got, tt.want)
		}
	}
	if got := (Pool{Name: "pool.example.org"}).HostPort(); got != "pool.example.org:123" {
		t.Errorf("Pool.HostPort() = %q", got)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		c     Config
		want  string // substring; "" means valid
		field string // the FieldError's path
	}{
		{"zero config", Config{}, "", ""},
		{"zero counts are defaults", Config{Servers: []Server{{Address: "a.example"}}, Pools: []Pool{{Name: "p.example"}}}, "", ""},
		{"server with port in address", Config{Servers: []Server{{Address: "a.example:123"}}}, "give the port separately", "servers[0].address"},
		{"server brackets", Config{Servers: []Server{{Address: "[::1]"}}}, "give the port separately", "servers[0].address"},
		{"server empty", Config{Servers: []Server{{}}}, "empty address", "servers[0].address"},
		{"server port", Config{Servers: []Server{{Address: "a.example", Port: 70000}}}, "port 70000 is out of range", "servers[0].port"},
		{"minpoll > maxpoll", Config{Servers: []Server{{Address: "a.example", MinPoll: 9, MaxPoll: 7}}}, "minpoll 9 is greater than maxpoll 7", "servers[0].minpoll"},
		{"duplicate via default port", Config{Servers: []Server{{Address: "A.example"}, {Address: "a.example", Port: 123}}}, "already configured", "servers[1].address"},
		{"pool maxsources", Config{Pools: []Pool{{Name: "p.example", MaxSources: -1}}}, "maxsources: -1 is out of range", "pools[0].maxsources"},
		{"restrict default with address", Config{Restrict: []Restrict{{Default: true, Addr: netip.MustParsePrefix("10.0.0.0/8")}}}, "must not have an address", "restrict[0].addr"},
		{"restrict nothing", Config{Restrict: []Restrict{{NoQuery: true}}}, "needs an address or default", "restrict[0].addr"},
		{"restrict unmasked", Config{Restrict: []Restrict{{Addr: netip.MustParsePrefix("10.0.0.1/8")}}}, "bits outside the mask", "restrict[0].addr"},
		{"listen host name", Config{Listen: []string{"localhost:123"}}, "needs an IP address", "listen[0]"},
		{"listen duplicate", Config{Listen: []string{"::", "[::]:123"}}, "already configured", "listen[1]"},
		{"negative step", Config{Tinker: Tinker{Step: -time.Second}}, "tinker: step: -1 s is negative", "tinker.step_seconds"},
		{"negative minsources", Config{MinSources: -2}, "minsources: -2", "min_sources"},
		{"relative driftfile", Config{DriftFile: "drift"}, "not an absolute path", "drift_file"},
		{"group control char", Config{ControlGroup: "a\nb"}, "control character", "control_group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			case tt.want != "":
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tt.field {
					t.Errorf("Validate() = %v: field %v, want %q", err, fe, tt.field)
				}
			}
		})
	}
}

func TestInField(t *testing.T) {
	base := errors.New("x")
	for _, tt := range []struct {
		prefix string
		err    error
		want   string
	}{
		{"server", &FieldError{Field: "minpoll", Err: base}, "server.minpoll"},
		{"servers[2]", &FieldError{Field: "address", Err: base}, "servers[2].address"},
		{"listen", &FieldError{Field: "[0]", Err: base}, "listen[0]"},
		{"tinker", base, "tinker"},
		{"", &FieldError{Field: "addr", Err: base}, "addr"},
	} {
		var fe *FieldError
		if err := InField(tt.prefix, tt.err); !errors.As(err, &fe) || fe.Field != tt.want || !errors.Is(err, base) {
			t.Errorf("InField(%q, %v) = %v (field %v), want field %q wrapping the error", tt.prefix, tt.err, err, fe, tt.want)
		}
	}
	if InField("x", nil) != nil {
		t.Error("InField of nil is not nil")
	}
}

func TestValidateNamesLinesAfterEdits(t *testing.T) {
	c := parseOK(t, "# x\nserver a.example minpoll 8\n")
	c.Servers[0].MaxPoll = 7
	err := c.Validate()
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 2 || !strings.Contains(pe.Msg, "minpoll 8 is greater than maxpoll 7") {
		t.Errorf("Validate() = %v, want test.conf:2: … minpoll 8 is greater than maxpoll 7", err)
	}
	// The line's error still names its field.
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "servers[0].minpoll" {
		t.Errorf("Validate() = %v: field %v, want servers[0].minpoll", err, fe)
	}
}

func TestEffective(t *testing.T) {
	c := &Config{
		Servers:  []Server{{Address: "a.example"}},
		Pools:    []Pool{{Name: "p.example"}},
		Listen:   []string{"::"},
		Restrict: []Restrict{{Addr: netip.MustParsePrefix("10.0.0.0/8"), Ignore: true}},
	}
	e := c.Effective()
	want := &Config{
		Servers:    []Server{{Address: "a.example", Port: 123, MinPoll: 6, MaxPoll: 10}},
		Pools:      []Pool{{Name: "p.example", Port: 123, MaxSources: 4}},
		Listen:     []string{"[::]:123"},
		Restrict:   []Restrict{DefaultRestrict(), {Addr: netip.MustParsePrefix("10.0.0.0/8"), Ignore: true}},
		MinSources: 1,
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("Effective() =\n%+v\nwant\n%+v", e, want)
	}
	if c.Servers[0].Port != 0 || c.Listen[0] != "::" || len(c.Restrict) != 1 {
		t.Errorf("Effective modified its receiver: %+v", c)
	}
	// With a default rule, none is added.
	c.Restrict = append(c.Restrict, Restrict{Default: true})
	if got := len(c.Effective().Restrict); got != 2 {
		t.Errorf("Effective() has %d rules, want the 2 configured", got)
	}
}

func TestClone(t *testing.T) {
	c := parseOK(t, office)
	n := c.Clone()
	n.Servers[0].IBurst = false
	n.Listen[0] = "127.0.0.1:123"
	n.Restrict[0].Ignore = false
	if !c.Servers[0].IBurst || c.Listen[0] != "0.0.0.0:123" || !c.Restrict[0].Ignore {
		t.Errorf("changing the clone changed the original: %+v", c)
	}
	if string(n.Format()) == string(c.Format()) {
		t.Error("clone formats like the original after edits")
	}
}

func TestKeepLayout(t *testing.T) {
	old := parseOK(t, office)
	b, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON Config
	if err := json.Unmarshal(b, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, exported(old)) {
		t.Errorf("JSON round trip:\n%+v\nwant\n%+v\njson: %s", fromJSON, exported(old), b)
	}
	if strings.Contains(string(fromJSON.Format()), "office") {
		t.Error("a config decoded from JSON has comments")
	}
	fromJSON.KeepLayout(old)
	if got, want := string(fromJSON.Format()), string(old.Format()); got != want {
		t.Errorf("with KeepLayout:\n%s\nwant\n%s", got, want)
	}
}

func TestTinkerJSON(t *testing.T) {
	tk := Tinker{Step: 128 * time.Millisecond, Stepout: 900 * time.Second}
	b, err := json.Marshal(tk)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"step_seconds":0.128,"stepout_seconds":900,"panic_seconds":0}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var back Tinker
	if err := json.Unmarshal(b, &back); err != nil || back != tk {
		t.Errorf("Unmarshal = %+v, %v; want %+v", back, err, tk)
	}
	for _, bad := range []string{`{"step_seconds":-1}`, `{"step":1}`, `{"panic_seconds":"x"}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}

func TestEditing(t *testing.T) {
	c := parseOK(t, "server a.example\nserver a.example:124\nserver b.example\npool p.example\nrestrict default\n")
	if err := c.AddServer(Server{Address: "A.EXAMPLE", Port: 123}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("AddServer(duplicate) = %v, want ErrDuplicate", err)
	}
	if err := c.AddServer(Server{Address: "bad host"}); err == nil {
		t.Error("AddServer(invalid) succeeded")
	}
	if err := c.RemoveServer("a.example"); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("RemoveServer(a.example) = %v, want ErrAmbiguous", err)
	}
	if err := c.RemoveServer("a.example:124"); err != nil {
		t.Errorf("RemoveServer(a.example:124) = %v", err)
	}
	if err := c.RemoveServer("a.example"); err != nil {
		t.Errorf("RemoveServer(a.example) = %v", err)
	}
	if err := c.RemoveServer("c.example"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemoveServer(c.example) = %v, want ErrNotFound", err)
	}
	if len(c.Servers) != 1 || c.Servers[0].Address != "b.example" {
		t.Errorf("servers left: %+v", c.Servers)
	}
	if err := c.AddPool(Pool{Name: "P.example"}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("AddPool(duplicate) = %v", err)
	}
	if err := c.AddPool(Pool{Name: "q.example", MaxSources: 2}); err != nil {
		t.Errorf("AddPool = %v", err)
	}
	if err := c.RemovePool("p.example"); err != nil || len(c.Pools) != 1 {
		t.Errorf("RemovePool = %v, pools %+v", err, c.Pools)
	}
	if err := c.RemovePool("p.example"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemovePool twice = %v", err)
	}
	if err := c.SetRestrict(Restrict{Default: true, Ignore: true}); err != nil || len(c.Restrict) != 1 || !c.Restrict[0].Ignore {
		t.Errorf("SetRestrict(default) = %v, rules %+v", err, c.Restrict)
	}
	if err := c.SetRestrict(Restrict{Addr: netip.MustParsePrefix("10.0.0.1/8")}); err == nil {
		t.Error("SetRestrict(unmasked) succeeded")
	}
	if err := c.RemoveRestrict(Restrict{Addr: netip.MustParsePrefix("10.0.0.0/8")}); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemoveRestrict(missing) = %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("after edits: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		in   string
		want []string // substrings, in order
	}{
		{"server a.example\n", nil},
		{"", []string{"no server or pool"}},
		{"server a.example\nminsources 2\n", []string{"minsources 2 is more than the 1 sources"}},
		{"pool p.example maxsources 2\nserver a.example\nminsources 3\n", nil},
		{"server a.example\ntinker step 2000 panic 1000\n", []string{"step 2000 s exceeds panic 1000 s"}},
		{"server a.example\ntinker step 2000 panic 0\n", nil},
		{"server a.example\nrestrict default\n", []string{"not served"}},
		{"server a.example\nlisten ::\nrestrict default kod\nrestrict ::1 kod limited\n", []string{"restrict default kod: kod has no effect without limited"}},
	}
	for _, tt := range tests {
		got := parseOK(t, tt.in).Warnings()
		if len(got) != len(tt.want) {
			t.Errorf("Warnings(%q) = %q, want %d", tt.in, got, len(tt.want))
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tt.want[i]) {
				t.Errorf("Warnings(%q)[%d] = %q, want it to contain %q", tt.in, i, got[i], tt.want[i])
			}
		}
	}
}
