package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestRefusesBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // in the error, which must be one line naming the flag
	}{
		{[]string{"--duration", "100s"}, "--stats-from"},
		{[]string{"--duration", "1000s", "--stats-from", "1000s"}, "--duration"},
		{[]string{"--minpoll", "7", "--maxpoll", "6"}, "--minpoll 7 is greater than --maxpoll 6"},
		{[]string{"--profile", "vax"}, "--profile"},
		{[]string{"--loss", "2"}, "--loss"},
		{[]string{"--drift-ppm", "abc"}, "--drift-ppm"},
		{[]string{"--drift-ppm", "900"}, "--drift-ppm"},
		{[]string{"--servers", "0"}, "--servers"},
		{[]string{"--bogus"}, "--bogus"},
		{[]string{"--seeds", "x"}, "--seeds"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := runMain(tt.args, &out)
		if err == nil {
			t.Errorf("%v: got no error", tt.args)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "seed 1") {
			t.Errorf("%v: got %q, want one line naming %q and no seed", tt.args, msg, tt.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: wrote %q to stdout", tt.args, out.String())
		}
	}
}

func TestHelpSaysMinusOneIsNever(t *testing.T) {
	var out bytes.Buffer
	if err := runMain([]string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: got %v, want flag.ErrHelp", err)
	}
	if s := out.String(); !strings.Contains(s, "-1 means never") || !strings.Contains(s, "--drift-ppm") && !strings.Contains(s, "-drift-ppm") {
		t.Errorf("--help does not explain -1 or --drift-ppm:\n%s", s)
	}
}

// A short run with a correct drift file: second 0 of the trace is there
// (the drift file sets the frequency while the loop is built) and the
// JSON carries the scenario.
func TestShortRunWithDriftFile(t *testing.T) {
	var out bytes.Buffer
	err := runMain([]string{"--seeds", "3", "--duration", "3000s", "--stats-from", "1000s", "--drift-ppm", "100", "--json"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Scenario map[string]any `json:"scenario"`
		Runs     []struct {
			Seed uint64  `json:"seed"`
			RMS  float64 `json:"rms_offset_seconds"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) != 1 || doc.Runs[0].Seed != 3 || doc.Scenario["drift_file_ppm"] != 100.0 {
		t.Errorf("got %+v", doc)
	}
	if doc.Runs[0].RMS <= 0 || doc.Runs[0].RMS > 200e-6 {
		t.Errorf("RMS offset with a correct drift file: got %v s, want (0, 200 µs]", doc.Runs[0].RMS)
	}
}
