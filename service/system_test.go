package service

import (
	"encoding/xml"
	"html"
	"reflect"
	"strings"
	"testing"
)

var testSystemOptions = SystemOptions{
	Executable: "/usr/local/bin/timesync",
	ConfigPath: "/etc/timesync/timesync.conf",
}

func TestSystemConfigPerOS(t *testing.T) {
	wantArgs := []string{"service", "run", "--config", "/etc/timesync/timesync.conf"}
	tests := []struct {
		goos    string
		name    string
		deps    []string
		options map[string]any
	}{
		{"linux", "timesync", []string{
			"Wants=time-sync.target",
			"Before=time-sync.target",
			"After=network.target nss-lookup.target",
			"Conflicts=systemd-timesyncd.service chronyd.service chrony.service ntp.service ntpd.service ntpsec.service openntpd.service",
		}, map[string]any{"SystemdScript": systemdUnit, "Restart": "on-failure"}},
		{"darwin", "org.timesync.timesync", nil,
			map[string]any{"LaunchdConfig": launchdPlist, "KeepAlive": true, "RunAtLoad": true}},
		{"windows", "timesync", []string{"Tcpip"}, map[string]any{
			"StartType": "automatic", "DelayedAutoStart": true,
			"OnFailure": "restart", "OnFailureDelayDuration": "5s", "OnFailureResetPeriod": 86400,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.goos, func(t *testing.T) {
			c := systemConfig(tt.goos, testSystemOptions)
			if c.Name != tt.name {
				t.Errorf("Name = %q, want %q", c.Name, tt.name)
			}
			if c.DisplayName == "" || c.Description == "" {
				t.Errorf("DisplayName %q, Description %q: want both set", c.DisplayName, c.Description)
			}
			if c.Executable != testSystemOptions.Executable {
				t.Errorf("Executable = %q, want %q", c.Executable, testSystemOptions.Executable)
			}
			if !reflect.DeepEqual(c.Arguments, wantArgs) {
				t.Errorf("Arguments = %q, want %q", c.Arguments, wantArgs)
			}
			if !reflect.DeepEqual(c.Dependencies, tt.deps) {
				t.Errorf("Dependencies = %q, want %q", c.Dependencies, tt.deps)
			}
			if len(c.Option) != len(tt.options) {
				t.Errorf("got %d options %v, want %d", len(c.Option), keys(c.Option), len(tt.options))
			}
			for k, want := range tt.options {
				if got := c.Option[k]; got != want {
					t.Errorf("Option[%q] = %v, want %v", k, got, want)
				}
			}
		})
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// renderPlist renders the plist as kardianos/service's darwin Install does
// (same data keys; its html function is text/template's html escaper, which
// is html.EscapeString's).
func renderPlist(t *testing.T, c map[string]any) string {
	t.Helper()
	out, err := renderKardianos(launchdPlist, c, map[string]func(string) (string, error){
		"html": func(s string) (string, error) { return html.EscapeString(s), nil },
	})
	if err != nil {
		t.Fatalf("rendering the plist: %v", err)
	}
	return out
}

// plistDict parses a launchd plist's top-level dict into key → element
// (name of a boolean element, text of a string or integer, or the strings of
// an array joined with "|").
func plistDict(t *testing.T, text string) map[string]string {
	t.Helper()
	var doc struct {
		XMLName xml.Name `xml:"plist"`
		Dict    struct {
			Items []struct {
				XMLName xml.Name
				Text    string   `xml:",chardata"`
				Strings []string `xml:"string"`
			} `xml:",any"`
		} `xml:"dict"`
	}
	d := xml.NewDecoder(strings.NewReader(text))
	d.Strict = true
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("plist is not well-formed XML: %v\n%s", err, text)
	}
	m := map[string]string{}
	items := doc.Dict.Items
	if len(items)%2 != 0 {
		t.Fatalf("plist dict has %d elements, want key/value pairs", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		k, v := items[i], items[i+1]
		if k.XMLName.Local != "key" {
			t.Fatalf("plist dict element %d is <%s>, want <key>", i, k.XMLName.Local)
		}
		switch v.XMLName.Local {
		case "true", "false":
			m[k.Text] = v.XMLName.Local
		case "array":
			m[k.Text] = strings.Join(v.Strings, "|")
		default:
			m[k.Text] = v.Text
		}
	}
	return m
}

func TestLaunchdPlist(t *testing.T) {
	o := SystemOptions{Executable: "/Applications/Time Sync & Co/timesync", ConfigPath: "/etc/timesync/<odd>.conf"}
	c := systemConfig("darwin", o)
	if c.Option["LaunchdConfig"] != launchdPlist {
		t.Fatal("darwin config does not carry our plist template")
	}
	text := renderPlist(t, map[string]any{
		// The keys kardianos v1.3.0's darwin Install passes.
		"Name": c.Name, "Path": c.Executable, "Arguments": c.Arguments,
		"ChRoot": "", "UserName": "", "WorkingDirectory": "",
		"KeepAlive": "true", "RunAtLoad": "true", "SessionCreate": "false",
		"StandardOutPath": "/usr/local/var/log/x.out.log", "StandardErrorPath": "/usr/local/var/log/x.err.log",
		"EnvVars": []string(nil),
	})
	got := plistDict(t, text)
	want := map[string]string{
		"Label":             "org.timesync.timesync",
		"ProgramArguments":  "/Applications/Time Sync & Co/timesync|service|run|--config|/etc/timesync/<odd>.conf",
		"RunAtLoad":         "true",
		"KeepAlive":         "true",
		"ThrottleInterval":  "5",
		"StandardOutPath":   "/var/log/timesync.log",
		"StandardErrorPath": "/var/log/timesync.log",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plist dict:\ngot  %q\nwant %q\n%s", got, want, text)
	}
}
