package darwin

import (
	"testing"
	"time"
)

func TestSplitTimeval(t *testing.T) {
	tests := []struct {
		d         time.Duration
		sec, usec int64
	}{
		{0, 0, 0},
		{1500 * time.Millisecond, 1, 500000},
		{-1500 * time.Millisecond, -2, 500000},
		{-250 * time.Millisecond, -1, 750000},
		{-time.Microsecond, -1, 999999},
		{-time.Second, -1, 0},
		{time.Microsecond, 0, 1},
		{1700000000*time.Second + 123456*time.Microsecond, 1700000000, 123456},
	}
	for _, tt := range tests {
		sec, usec := splitTimeval(tt.d)
		if sec != tt.sec || usec != tt.usec {
			t.Errorf("splitTimeval(%v) = %d s %d µs, want %d s %d µs", tt.d, sec, usec, tt.sec, tt.usec)
		}
		if usec < 0 || usec >= 1e6 {
			t.Errorf("splitTimeval(%v) µs %d outside [0, 1e6)", tt.d, usec)
		}
		if back := joinTimeval(sec, usec); back != tt.d {
			t.Errorf("joinTimeval(splitTimeval(%v)) = %v", tt.d, back)
		}
	}
}

func TestJoinTimevalKernelForm(t *testing.T) {
	// The kernel returns a negative remaining correction with both fields
	// truncated toward zero.
	tests := []struct {
		sec, usec int64
		want      time.Duration
	}{
		{0, -250000, -250 * time.Millisecond},
		{-1, -500000, -1500 * time.Millisecond},
		{-2, 500000, -1500 * time.Millisecond},
		{3, 1, 3*time.Second + time.Microsecond},
	}
	for _, tt := range tests {
		if got := joinTimeval(tt.sec, tt.usec); got != tt.want {
			t.Errorf("joinTimeval(%d, %d) = %v, want %v", tt.sec, tt.usec, got, tt.want)
		}
	}
}

func TestKernelSlewDuration(t *testing.T) {
	tests := []struct {
		offset, want time.Duration
	}{
		{0, 0},
		{time.Millisecond, 250 * time.Millisecond},
		{-100 * time.Millisecond, 25 * time.Second},
		{time.Second, 250 * time.Second},
		{time.Second + time.Microsecond, 25*time.Second + 25*time.Microsecond},
		{-2 * time.Second, 50 * time.Second},
	}
	for _, tt := range tests {
		if got := KernelSlewDuration(tt.offset); got != tt.want {
			t.Errorf("KernelSlewDuration(%v) = %v, want %v", tt.offset, got, tt.want)
		}
	}
}

func TestWantedDriftInterval(t *testing.T) {
	tests := []struct {
		name   string
		cur    time.Duration
		synced bool
		est    time.Duration
		freq   float64
		want   time.Duration
	}{
		{"unsynchronized keeps a long interval", 30 * time.Second, false, 0, 100e-6, 30 * time.Second},
		{"unsynchronized at least nominal", time.Second, false, 0, 100e-6, 4 * time.Second},
		{"synchronized from the error", 4 * time.Second, true, 2 * time.Millisecond, 100e-6, 10 * time.Second},
		{"synchronized minimum", 4 * time.Second, true, 100 * time.Microsecond, 3000e-6, 500 * time.Millisecond},
		{"synchronized maximum", 4 * time.Second, true, time.Second, 1e-6, 64 * time.Second},
		{"zero frequency", 4 * time.Second, true, time.Millisecond, 0, 64 * time.Second},
	}
	for _, tt := range tests {
		got := wantedDriftInterval(tt.cur, tt.synced, tt.est, tt.freq)
		if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("%s: wantedDriftInterval = %v, want %v", tt.name, got, tt.want)
		}
	}
}
