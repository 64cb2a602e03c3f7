//go:build linux

package main

// Only the pure helpers are tested here: nothing in these tests reads or
// changes a clock, and the guest program's main never runs on the host.

import (
	"math"
	"math/rand"
	"testing"
)

func TestFitRate(t *testing.T) {
	tests := []struct {
		name    string
		ppm     float64
		noiseNS float64
		tol     float64
	}{
		{"zero", 0, 0, 1e-5},
		{"fast exact", 1000, 0, 1e-5},
		{"slow exact", -250.5, 0, 1e-5}, // phases rounded to whole ns
		{"noisy", 100, 1000, 0.2},       // 1 µs reading noise over 3 s, 600 points: standard error ≈ 0.047 ppm
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(1))
			var pairs []pair
			raw0 := int64(5e9)
			real0 := int64(2_000_000_000e9) // an epoch-scale realtime
			for i := 0; i < 600; i++ {
				dRaw := int64(i) * 5e6
				phase := float64(dRaw)*tt.ppm/1e6 + rng.NormFloat64()*tt.noiseNS
				pairs = append(pairs, pair{raw: raw0 + dRaw, real: real0 + dRaw + int64(math.Round(phase)), width: 1000})
			}
			got, se := fitRate(pairs)
			if math.Abs(got-tt.ppm) > tt.tol {
				t.Errorf("fitRate: got %.6f ppm, want %.6f ±%g", got, tt.ppm, tt.tol)
			}
			// The standard error of the slope is σ/(√n·sd(x)).
			wantSE := tt.noiseNS / 1e3 / (math.Sqrt(600) * 3 / math.Sqrt(12))
			if tt.noiseNS > 0 && (se < wantSE*0.8 || se > wantSE*1.2) {
				t.Errorf("fitRate standard error: got %g ppm, want %g ±20%%", se, wantSE)
			}
		})
	}
	if got, _ := fitRate([]pair{{raw: 1}, {raw: 2}}); !math.IsNaN(got) {
		t.Errorf("fitRate of two pairs: got %v, want NaN", got)
	}
}

func TestKernelFreqPPM(t *testing.T) {
	tests := []struct {
		tick, freq int64
		want       float64
	}{
		{10000, 0, 0},
		{10000, 100 << 16, 100},
		{9997, 3244032, -250.5},
		{10010, 0, 1000},
		{9985, 0, -1500},
		{10000, -(500 << 16), -500},
	}
	for _, tt := range tests {
		var k kernelState
		setLong(&k.tx.Tick, tt.tick)
		setLong(&k.tx.Freq, tt.freq)
		if got := k.freqPPM(10000); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("tick %d freq %d: got %v ppm, want %v", tt.tick, tt.freq, got, tt.want)
		}
	}
}

// setLong sets a C long field of unix.Timex (int64, or int32 on 32-bit
// systems).
func setLong[T int32 | int64](p *T, v int64) { *p = T(v) }

func TestParseOnceJSON(t *testing.T) {
	out := `{"offset_seconds":3600.000512,"delay_seconds":0.0012,"action":"step","applied":true,"sources":[{"address":"10.0.2.2:123","state":"selected"}]}` + "\n"
	j, err := parseOnceJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	if j.Offset != 3600.000512 || j.Action != "step" || !j.Applied {
		t.Errorf("parseOnceJSON: got %+v", j)
	}
	for _, bad := range []string{"", "clock stepped by +1 s\n", `{"offset_seconds":1}`} {
		if _, err := parseOnceJSON(bad); err == nil {
			t.Errorf("parseOnceJSON(%q): got no error", bad)
		}
	}
}

func TestStderrHelpers(t *testing.T) {
	if got := nonEmptyLines("\n  \nfirst\r\n\nsecond\n"); len(got) != 2 || got[0] != "first" || got[1] != "second" {
		t.Errorf("nonEmptyLines: got %q, want [first second]", got)
	}
	tests := []struct {
		line string
		want bool
	}{
		{"timesync: not permitted to change the system clock: run as root or grant CAP_SYS_TIME", true},
		{"timesync: Operation not permitted", true},
		{"timesync: no server answered", false},
	}
	for _, tt := range tests {
		if got := mentionsPrivilege(tt.line); got != tt.want {
			t.Errorf("mentionsPrivilege(%q): got %v, want %v", tt.line, got, tt.want)
		}
	}
}
