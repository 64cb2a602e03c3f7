package engine

import (
	"math"
	"testing"
	"time"
)

// Intervals that overlap form a majority, whatever their midpoints
// (chrony's rule).
func TestSelectOverlapIsMajority(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		cands []Candidate
		ok    bool
		want  []State
		low   time.Duration // the region's ends, when ok
		high  time.Duration
	}{
		{"two overlapping, midpoints outside", []Candidate{{Offset: 0, Distance: 10 * ms}, {Offset: 15 * ms, Distance: 10 * ms}},
			true, []State{StateSelected, StateSelected}, 5 * ms, 10 * ms},
		{"two touching", []Candidate{{Offset: 0, Distance: 10 * ms}, {Offset: 20 * ms, Distance: 10 * ms}},
			true, []State{StateSelected, StateSelected}, 10 * ms, 10 * ms},
		{"two apart", []Candidate{{Offset: 0, Distance: 10 * ms}, {Offset: 25 * ms, Distance: 10 * ms}},
			false, []State{StateCandidate, StateCandidate}, 0, 0},
		{"three, one far", []Candidate{{Offset: 0, Distance: 10 * ms}, {Offset: 15 * ms, Distance: 10 * ms}, {Offset: 100 * ms, Distance: 10 * ms}},
			true, []State{StateSelected, StateSelected, StateFalseticker}, 5 * ms, 10 * ms},
		{"three in a chain: each reaches the region two of them share", []Candidate{{Offset: 0, Distance: 10 * ms}, {Offset: 18 * ms, Distance: 10 * ms}, {Offset: 36 * ms, Distance: 10 * ms}},
			true, []State{StateSelected, StateSelected, StateSelected}, 8 * ms, 28 * ms},
		{"four, two pairs apart", []Candidate{{Offset: 0, Distance: ms}, {Offset: ms, Distance: ms}, {Offset: 50 * ms, Distance: ms}, {Offset: 51 * ms, Distance: ms}},
			false, []State{StateCandidate, StateCandidate, StateCandidate, StateCandidate}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel := Select(tt.cands, 1)
			if sel.OK != tt.ok {
				t.Fatalf("OK: got %v (%s), want %v", sel.OK, sel.Why, tt.ok)
			}
			for i, w := range tt.want {
				if sel.States[i] != w {
					t.Errorf("candidate %d: got %s (%s), want %s", i, sel.States[i], sel.Reasons[i], w)
				}
			}
			if tt.ok {
				low, high, _ := intersect(tt.cands)
				if low != tt.low || high != tt.high {
					t.Errorf("region: got [%v, %v], want [%v, %v]", low, high, tt.low, tt.high)
				}
			}
		})
	}
}

func TestCombine(t *testing.T) {
	us := time.Microsecond
	t.Run("none", func(t *testing.T) {
		if got := Combine(nil); got != (Combined{}) {
			t.Errorf("Combine(nil): got %+v, want the zero value", got)
		}
	})
	t.Run("one is returned as it is", func(t *testing.T) {
		e := Estimate{Offset: 5 * us, OffsetSD: us, Distance: 100 * us, Jitter: 2 * us, FrequencyPPM: -3, SkewPPM: 0.1}
		got := Combine([]Estimate{e})
		want := Combined{Offset: 5 * us, OffsetSD: us, Distance: 100 * us, Jitter: 2 * us, FrequencyPPM: -3, SkewPPM: 0.1, HasFrequency: true}
		if got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("weights", func(t *testing.T) {
		// Variances 1 and 4 (sd² + root²): weights 4/5 and 1/5.
		ests := []Estimate{
			{Offset: 0, OffsetSD: us, Distance: 10 * us, FrequencyPPM: 1, SkewPPM: 1},
			{Offset: 100 * us, Root: 2 * us, Distance: 60 * us, FrequencyPPM: 4, SkewPPM: 2},
			{Offset: time.Second, OffsetSD: time.Second}, // weight ~ 0, no frequency
		}
		got := Combine(ests)
		if d := got.Offset - 20*us; d.Abs() > 2*time.Nanosecond {
			t.Errorf("offset: got %v, want 20µs", got.Offset)
		}
		if d := got.Distance - 20*us; d.Abs() > 2*time.Nanosecond {
			t.Errorf("distance: got %v, want 20µs", got.Distance)
		}
		// Frequencies weighted 1 and 1/4: (1 + 1)/(5/4) = 1.6 ppm.
		if !got.HasFrequency || math.Abs(got.FrequencyPPM-1.6) > 1e-9 || math.Abs(got.SkewPPM-math.Sqrt(0.8)) > 1e-9 {
			t.Errorf("frequency: got %v ± %v (%v), want 1.6 ± %.4f", got.FrequencyPPM, got.SkewPPM, got.HasFrequency, math.Sqrt(0.8))
		}
	})
	t.Run("sample estimate", func(t *testing.T) {
		s := Sample{Offset: 3 * time.Millisecond, Delay: 2 * time.Millisecond, RootDelay: 10 * time.Millisecond, RootDispersion: time.Millisecond}
		e := SampleEstimate(s, 100*us)
		if want := time.Duration(math.Round(2e6 / (2 * math.Sqrt(3)))); e.OffsetSD != want {
			t.Errorf("OffsetSD: got %v, want %v (δ/2√3)", e.OffsetSD, want)
		}
		if want := 6 * time.Millisecond; e.Root != want {
			t.Errorf("Root: got %v, want %v", e.Root, want)
		}
		if e.SkewPPM != 0 {
			t.Errorf("a single burst gives no frequency: got skew %v", e.SkewPPM)
		}
	})
}
