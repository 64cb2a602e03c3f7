package driftfile

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/timesync/timesync/service/discipline"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    discipline.Drift
		wantErr bool
	}{
		// chrony's sign: the oscillator's error; the correction is its opposite.
		{"-12.345678 0.012345\n", discipline.Drift{FrequencyPPM: 12.345678, SkewPPM: 0.012345}, false},
		{"  100.5   2\n", discipline.Drift{FrequencyPPM: -100.5, SkewPPM: 2}, false},
		{"17.25\n", discipline.Drift{FrequencyPPM: 17.25, SkewPPM: DefaultSkewPPM}, false}, // ntpd's format and sign: the correction
		{"", discipline.Drift{}, true},
		{"abc 1", discipline.Drift{}, true},
		{"1 2 3", discipline.Drift{}, true},
		{"600 1", discipline.Drift{}, true},
		{"NaN 1", discipline.Drift{}, true},
		{"1 -2", discipline.Drift{}, true},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("Parse(%q): got error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q): got error %v, want ErrMalformed", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("Parse(%q): got %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// A drift file as chrony writes it (reference.c: "%20.6f %20.6f\n" of
// LCL_ReadAbsoluteFrequency and the skew) on a machine whose uncorrected
// clock gains 23.456 ppm: chrony corrects it by −23.456 ppm, and so must
// timesync; and timesync writes the same bytes for that correction.
func TestChronyDriftFile(t *testing.T) {
	const chrony = "           23.456000             0.042000\n"
	got, err := Parse([]byte(chrony))
	if err != nil {
		t.Fatal(err)
	}
	want := discipline.Drift{FrequencyPPM: -23.456, SkewPPM: 0.042}
	if got != want {
		t.Errorf("Parse(chrony's file): got %+v, want %+v", got, want)
	}
	if out := string(Format(want)); out != chrony {
		t.Errorf("Format: got %q, want chrony's %q", out, chrony)
	}
	if out := string(Format(discipline.Drift{FrequencyPPM: 0, SkewPPM: 1})); out != "            0.000000             1.000000\n" {
		t.Errorf("Format of a zero correction: got %q, want no negative zero", out)
	}
}

func TestSaveRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "timesync.drift")
	if _, err := Read(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of a missing file: got %v, want fs.ErrNotExist", err)
	}
	f := File{Path: path}
	for _, d := range []discipline.Drift{{FrequencyPPM: -99.987654, SkewPPM: 0.021}, {FrequencyPPM: 3.5, SkewPPM: 0.5}} {
		if err := f.Save(d); err != nil {
			t.Fatalf("Save(%+v): %v", d, err)
		}
		got, err := Read(path)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if got != d {
			t.Errorf("Read after Save: got %+v, want %+v", got, d)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after saves, want 1 (no temporary files left)", len(entries))
	}
}

func TestSaveFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "drift")
	f := File{Path: path}
	old := discipline.Drift{FrequencyPPM: 1, SkewPPM: 1}
	if err := f.Save(old); err != nil {
		t.Fatal(err)
	}
	// A NaN is refused before anything is written.
	if err := f.Save(discipline.Drift{FrequencyPPM: 0, SkewPPM: math.NaN()}); err == nil {
		t.Fatal("Save of a NaN skew: got nil error, want one")
	}
	// A directory that is not there cannot take the temporary file.
	if err := (File{Path: filepath.Join(dir, "missing", "drift")}).Save(old); err == nil {
		t.Fatal("Save into a missing directory: got nil error, want one")
	}
	got, err := Read(path)
	if err != nil || got != old {
		t.Errorf("after failed saves: got %+v, %v; want %+v", got, err, old)
	}
}
