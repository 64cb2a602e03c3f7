//go:build linux

package linux

import (
	"math"
	"testing"
	"time"
)

func TestSplitFrequency(t *testing.T) {
	tests := []struct {
		name     string
		ppm      float64
		hz       int
		curTick  int64
		wantTick int64
		wantFreq int64 // scaled ppm
	}{
		{"zero", 0, 100, 10000, 10000, 0},
		{"small positive", 12.5, 100, 10000, 10000, 12.5 * 65536},
		{"small negative", -12.5, 100, 10000, 10000, -12.5 * 65536},
		{"one tick", 100, 100, 10000, 10000, 100 * 65536}, // next to current: kept
		{"two ticks", 200, 100, 10000, 10002, 0},
		{"rounds to nearest tick", 1249, 100, 10000, 10012, 49 * 65536},
		{"negative rounds to nearest tick", -1251, 100, 10000, 9987, 49 * 65536},
		{"hysteresis keeps current tick", 149, 100, 10002, 10002, -51 * 65536},
		{"hysteresis from above", 151, 100, 10001, 10001, 51 * 65536}, // wants 10002, keeps 10001
		{"max slew rate", 83333.333, 100, 10000, 10833, int64(math.Round(33.333 * 65536))},
		{"minus max slew rate", -83333.333, 100, 10000, 9167, int64(math.Round(-33.333 * 65536))},
		{"fraction", 0.0001, 100, 10000, 10000, 7}, // 6.5536 rounds to 7
		{"USER_HZ 1024 exact second", 0, 1024, 977, 977, int64(math.Round((1e6 - 977*1024.0) * 65536))},
		{"USER_HZ 250", 1000, 250, 4000, 4004, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tick, freq, err := splitFrequency(tt.ppm, tt.hz, tt.curTick)
			if err != nil {
				t.Fatalf("splitFrequency(%v, %d, %d): %v", tt.ppm, tt.hz, tt.curTick, err)
			}
			if tick != tt.wantTick || freq != tt.wantFreq {
				t.Errorf("splitFrequency(%v, %d, %d) = tick %d, freq %d; want tick %d, freq %d",
					tt.ppm, tt.hz, tt.curTick, tick, freq, tt.wantTick, tt.wantFreq)
			}
		})
	}
}

func TestSplitFrequencyRefuses(t *testing.T) {
	tests := []struct {
		name string
		ppm  float64
		hz   int
	}{
		{"tick beyond +10%", 110000, 100},
		{"tick beyond -10%", -110000, 100},
		{"remainder beyond 500 ppm at USER_HZ 1024", 976.5*1024 - 1e6, 1024}, // midway between ticks: 512 ppm left
		{"no USER_HZ", 0, 0},
	}
	for _, tt := range tests {
		if tick, freq, err := splitFrequency(tt.ppm, tt.hz, 1e6/int64(max(tt.hz, 1))); err == nil {
			t.Errorf("%s: splitFrequency(%v, %d) = %d, %d, want an error", tt.name, tt.ppm, tt.hz, tick, freq)
		}
	}
}

// The split and the merge are inverses to well under 0.001 ppm, for any
// value in range, either sign, whatever tick is set before.
func TestSplitMergeRoundTrip(t *testing.T) {
	for _, hz := range []int{100, 250, 128} {
		nominal := int64(math.Round(1e6 / float64(hz)))
		for _, ppm := range []float64{0, 1e-6, -1e-6, 0.0004, -0.0004, 0.5, -0.5, 49.99999, -50.00001, 99.9, 100, 100.1, -150.3,
			499.99, -500.01, 1234.5678, -1234.5678, 33333.3333, -50000.75, MaxFrequencyPPM, -MaxFrequencyPPM} {
			for _, cur := range []int64{nominal, nominal + 1, nominal - 1, nominal + 5} {
				tick, freq, err := splitFrequency(ppm, hz, cur)
				if err != nil {
					t.Fatalf("splitFrequency(%v, %d, %d): %v", ppm, hz, cur, err)
				}
				lo, hi := tickBounds(hz)
				if tick < lo || tick > hi {
					t.Errorf("splitFrequency(%v, %d, %d) tick %d outside %d..%d", ppm, hz, cur, tick, lo, hi)
				}
				if math.Abs(float64(freq)/freqScale) > kernelMaxFreqPPM {
					t.Errorf("splitFrequency(%v, %d, %d) freq %v ppm beyond ±500", ppm, hz, cur, float64(freq)/freqScale)
				}
				got := mergeFrequency(tick, freq, hz)
				if math.Abs(got-ppm) >= 0.001 {
					t.Errorf("merge(split(%v)) at USER_HZ %d from tick %d = %v, off by %g ppm", ppm, hz, cur, got, got-ppm)
				}
			}
		}
	}
}

func TestMergeFrequency(t *testing.T) {
	tests := []struct {
		tick, freq int64
		hz         int
		want       float64
	}{
		{10000, 0, 100, 0},
		{10001, 0, 100, 100},
		{9999, 0, 100, -100},
		{10000, 65536, 100, 1},
		{10000, -32768, 100, -0.5},
		{9990, 12 * 65536, 100, -988},
		{4000, 0, 250, 0},
	}
	for _, tt := range tests {
		if got := mergeFrequency(tt.tick, tt.freq, tt.hz); got != tt.want {
			t.Errorf("mergeFrequency(%d, %d, %d) = %v, want %v", tt.tick, tt.freq, tt.hz, got, tt.want)
		}
	}
}

func TestSetOffsetTime(t *testing.T) {
	tests := []struct {
		offset    time.Duration
		sec, nsec int64
	}{
		{0, 0, 0},
		{1500 * time.Millisecond, 1, 500000000},
		{-1500 * time.Millisecond, -2, 500000000},
		{-250 * time.Millisecond, -1, 750000000},
		{-time.Nanosecond, -1, 999999999},
		{-time.Second, -1, 0},
		{time.Nanosecond, 0, 1},
		{-3*time.Hour - 1, -10801, 999999999},
	}
	for _, tt := range tests {
		sec, nsec := setOffsetTime(tt.offset)
		if sec != tt.sec || nsec != tt.nsec {
			t.Errorf("setOffsetTime(%v) = %d s %d ns, want %d s %d ns", tt.offset, sec, nsec, tt.sec, tt.nsec)
		}
		if nsec < 0 || nsec >= 1e9 {
			t.Errorf("setOffsetTime(%v) nanoseconds %d outside [0, 1e9)", tt.offset, nsec)
		}
		if back := time.Duration(sec)*time.Second + time.Duration(nsec); back != tt.offset {
			t.Errorf("setOffsetTime(%v) sums to %v", tt.offset, back)
		}
	}
}

func TestAddTimespec(t *testing.T) {
	tests := []struct {
		sec, nsec         int64
		offset            time.Duration
		wantSec, wantNsec int64
	}{
		{100, 900000000, 200 * time.Millisecond, 101, 100000000},
		{100, 100000000, -200 * time.Millisecond, 99, 900000000},
		{100, 0, -time.Nanosecond, 99, 999999999},
		{100, 999999999, time.Nanosecond, 101, 0},
		{100, 5, 0, 100, 5},
	}
	for _, tt := range tests {
		sec, nsec := addTimespec(tt.sec, tt.nsec, tt.offset)
		if sec != tt.wantSec || nsec != tt.wantNsec {
			t.Errorf("addTimespec(%d, %d, %v) = %d, %d, want %d, %d", tt.sec, tt.nsec, tt.offset, sec, nsec, tt.wantSec, tt.wantNsec)
		}
	}
}

func TestModeNames(t *testing.T) {
	tests := []struct {
		modes uint32
		want  string
	}{
		{0, "read"},
		{0x4002, "ADJ_FREQUENCY|ADJ_TICK"},
		{0x2100, "ADJ_SETOFFSET|ADJ_NANO"},
		{0x8001, "ADJ_OFFSET_SINGLESHOT"},
		{0x1c, "ADJ_MAXERROR|ADJ_ESTERROR|ADJ_STATUS"},
		{0x10040, "0x10040"},
	}
	for _, tt := range tests {
		if got := modeNames(tt.modes); got != tt.want {
			t.Errorf("modeNames(0x%x) = %q, want %q", tt.modes, got, tt.want)
		}
	}
}

func TestGuessHZ(t *testing.T) {
	tests := []struct {
		tick int64
		want int
	}{
		{10000, 100},
		{9500, 100},
		{977, 1024},
		{4000, 256},
		{3, 0},
	}
	for _, tt := range tests {
		if got := guessHZ(tt.tick); got != tt.want {
			t.Errorf("guessHZ(%d) = %d, want %d", tt.tick, got, tt.want)
		}
	}
}
