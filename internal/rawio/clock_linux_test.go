package rawio

import (
	"testing"

	"golang.org/x/sys/unix"
)

// ClockNS reads a clock the kernel has, in order, and refuses one it
// does not.
func TestClockNS(t *testing.T) {
	a, ok1 := ClockNS(unix.CLOCK_MONOTONIC)
	b, ok2 := ClockNS(unix.CLOCK_MONOTONIC)
	if !ok1 || !ok2 || a <= 0 || b < a {
		t.Errorf("CLOCK_MONOTONIC read %d (%v) then %d (%v)", a, ok1, b, ok2)
	}
	if ns, ok := ClockNS(-1000); ok {
		t.Errorf("clock -1000 read %d, want a refusal", ns)
	}
}

// MonotonicNS is CLOCK_MONOTONIC: between two system-call readings.
func TestMonotonicNS(t *testing.T) {
	for range 100 {
		a, _ := ClockNS(unix.CLOCK_MONOTONIC)
		m := MonotonicNS()
		b, _ := ClockNS(unix.CLOCK_MONOTONIC)
		if m < a || m > b {
			t.Fatalf("MonotonicNS %d outside CLOCK_MONOTONIC's %d..%d", m, a, b)
		}
	}
}
