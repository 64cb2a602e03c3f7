package vmtest

import (
	"errors"
	"io/fs"
	"math"
	"strings"
	"testing"
	"time"
)

func fakeFS(files map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		s, ok := files[name]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(s), nil
	}
}

func TestGuard(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		wantOK bool
	}{
		{"guest", map[string]string{MarkerPath: MarkerContent, "/proc/cmdline": "console=ttyS0 timesync.vmtest=1 quiet\n"}, true},
		{"no marker", map[string]string{"/proc/cmdline": "timesync.vmtest=1"}, false},
		{"wrong marker", map[string]string{MarkerPath: "x", "/proc/cmdline": "timesync.vmtest=1"}, false},
		{"no flag", map[string]string{MarkerPath: MarkerContent, "/proc/cmdline": "console=ttyS0 quiet"}, false},
		{"flag as substring only", map[string]string{MarkerPath: MarkerContent, "/proc/cmdline": "xtimesync.vmtest=1 timesync.vmtest=10"}, false},
		{"no cmdline", map[string]string{MarkerPath: MarkerContent}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Guard(fakeFS(tt.files))
			if got := err == nil; got != tt.wantOK {
				t.Fatalf("Guard: got err %v, want ok=%v", err, tt.wantOK)
			}
			if err != nil && !errors.Is(err, ErrNotGuest) {
				t.Errorf("Guard: got %v, want it to wrap ErrNotGuest", err)
			}
		})
	}
}

func TestParamsRoundTrip(t *testing.T) {
	p := Params{"checks": "step,slew", "server": "10.0.2.2:1234", "era_expect_s": "24.5"}
	line, err := p.Cmdline()
	if err != nil {
		t.Fatal(err)
	}
	if want := "timesync.checks=step,slew timesync.era_expect_s=24.5 timesync.server=10.0.2.2:1234"; line != want {
		t.Errorf("Cmdline: got %q, want %q", line, want)
	}
	got := ParseCmdline("console=ttyS0 " + CmdlineFlag + " " + line + "\n")
	if got["server"] != "10.0.2.2:1234" || got["vmtest"] != "1" || len(got["checks"]) == 0 {
		t.Errorf("ParseCmdline: got %v", got)
	}
	if l := got.List("checks"); len(l) != 2 || l[0] != "step" || l[1] != "slew" {
		t.Errorf("List(checks): got %v, want [step slew]", l)
	}
	if l := got.List("absent"); l != nil {
		t.Errorf("List(absent): got %v, want nil", l)
	}
	f, err := got.Float("era_expect_s", 0)
	if err != nil || f != 24.5 {
		t.Errorf("Float: got %v, %v, want 24.5", f, err)
	}
	if _, err := (Params{"x": "abc"}).Float("x", 0); err == nil {
		t.Error("Float(abc): got no error")
	}
	d, err := (Params{"w": "3s"}).Duration("w", time.Second)
	if err != nil || d != 3*time.Second {
		t.Errorf("Duration: got %v, %v, want 3s", d, err)
	}
	d, err = (Params{}).Duration("w", time.Second)
	if err != nil || d != time.Second {
		t.Errorf("Duration default: got %v, %v, want 1s", d, err)
	}
	if _, err := (Params{"a": "b c"}).Cmdline(); err == nil {
		t.Error("Cmdline with a space in a value: got no error")
	}
}

func TestResultLineRoundTrip(t *testing.T) {
	in := Result{Check: "step", OK: true, Summary: "residual 0.31 ms <= 5 ms",
		Figures: map[string]float64{"residual_ms": 0.31, "stepped_s": -3600.0012}}
	line := FormatResult(in)
	if !strings.HasPrefix(line, ResultPrefix) || strings.Contains(line, "\n") {
		t.Fatalf("FormatResult: got %q, want one line starting with %q", line, ResultPrefix)
	}
	// Console lines arrive with CR and sometimes a kernel message glued in front.
	for _, console := range []string{line, line + "\r", "[   12.3] e1000: eth0 NIC Link is Up" + line + "\r"} {
		got, ok, err := ParseLine(console)
		if !ok || err != nil {
			t.Fatalf("ParseLine(%q): got ok=%v err=%v", console, ok, err)
		}
		if got.Check != in.Check || got.OK != in.OK || got.Summary != in.Summary ||
			got.Figures["residual_ms"] != 0.31 || got.Figures["stepped_s"] != -3600.0012 {
			t.Errorf("ParseLine: got %+v, want %+v", got, in)
		}
	}
}

func TestParseLineRejects(t *testing.T) {
	tests := []struct {
		line    string
		wantOK  bool
		wantErr bool
	}{
		{"[    1.0] Linux version 6.1", false, false},
		{ResultPrefix + `{"check":"step","ok":tr`, true, true},
		{ResultPrefix + `{"ok":true}`, true, true},
		{ResultPrefix + `{"check":"x","ok":true,"bogus":1}`, true, true},
	}
	for _, tt := range tests {
		_, ok, err := ParseLine(tt.line)
		if ok != tt.wantOK || (err != nil) != tt.wantErr {
			t.Errorf("ParseLine(%q): got ok=%v err=%v, want ok=%v err=%v", tt.line, ok, err, tt.wantOK, tt.wantErr)
		}
	}
}

func TestFormatResultNonFinite(t *testing.T) {
	line := FormatResult(Result{Check: "freq", OK: true, Figures: map[string]float64{"error_ppm": math.NaN()}})
	got, ok, err := ParseLine(line)
	if !ok || err != nil {
		t.Fatalf("ParseLine: got ok=%v err=%v", ok, err)
	}
	if got.OK || got.Error == "" {
		t.Errorf("non-finite figure: got %+v, want a failed result with an error", got)
	}
}
