//go:build linux

package linux

import (
	"math"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// readOnlyAdjtimex is the real system call behind a guard: any request
// with modes other than 0 fails the test before reaching the kernel.
func readOnlyAdjtimex(t *testing.T) func(*unix.Timex) (int, error) {
	return func(tx *unix.Timex) (int, error) {
		if tx.Modes != 0 {
			t.Fatalf("test tried to change the real clock: modes %s", modeNames(tx.Modes))
		}
		return unix.Adjtimex(tx)
	}
}

// TestRealStatus reads this machine's kernel clock state (modes 0 only)
// and checks it is one a Linux kernel can be in.
func TestRealStatus(t *testing.T) {
	d, err := New(WithAdjtimex(readOnlyAdjtimex(t)), WithClock(func(ts *unix.Timespec) error { return unix.ClockGettime(unix.CLOCK_REALTIME, ts) }, func(*unix.Timespec) error {
		t.Fatal("test tried to set the real clock (clock_settime)")
		return nil
	}))
	if err != nil {
		t.Fatalf("New on the real kernel: %v", err)
	}
	hz := d.UserHZ()
	if hz != 100 && hz&(hz-1) != 0 {
		t.Errorf("USER_HZ %d is neither 100 nor a power of two", hz)
	}
	s, err := d.Status()
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	t.Logf("kernel clock: %+v", s)
	lo, hi := tickBounds(hz)
	if s.TickMicros < lo || s.TickMicros > hi {
		t.Errorf("tick %d µs outside the kernel's %d..%d", s.TickMicros, lo, hi)
	}
	if math.Abs(s.FreqPPM) > kernelMaxFreqPPM {
		t.Errorf("ADJ_FREQUENCY part %v ppm beyond ±500", s.FreqPPM)
	}
	if want := float64(s.TickMicros)*float64(hz) - 1e6 + s.FreqPPM; math.Abs(s.FrequencyPPM-want) > 1e-9 {
		t.Errorf("FrequencyPPM %v, want tick and freq combined %v", s.FrequencyPPM, want)
	}
	if s.MaxError < 0 || s.EstError < 0 || s.MaxError > 16*time.Second+time.Second {
		t.Errorf("maxerror %v esterror %v out of the kernel's range", s.MaxError, s.EstError)
	}
	if s.State < unix.TIME_OK || s.State > unix.TIME_ERROR {
		t.Errorf("state %d is not a TIME_* value", s.State)
	}
	if s.Unsynchronized != (s.Bits&unix.STA_UNSYNC != 0) {
		t.Errorf("Unsynchronized %v disagrees with status 0x%x", s.Unsynchronized, s.Bits)
	}
	if s.Unsynchronized && s.State != unix.TIME_ERROR {
		t.Errorf("STA_UNSYNC set but state %d, want TIME_ERROR", s.State)
	}

	f, err := d.Frequency()
	if err != nil {
		t.Fatalf("Frequency: %v", err)
	}
	if f != s.FrequencyPPM {
		// Nothing on this test machine disciplines the clock between two
		// reads a microsecond apart; a difference means a wrong merge.
		t.Errorf("Frequency() = %v, Status().FrequencyPPM = %v", f, s.FrequencyPPM)
	}
}

// ReadStatus with the real system call (read-only by construction).
func TestRealReadStatus(t *testing.T) {
	s, err := ReadStatus()
	if err != nil {
		t.Fatalf("ReadStatus: %v", err)
	}
	if s.UserHZ <= 0 || s.TickMicros <= 0 {
		t.Errorf("ReadStatus() = %+v", s)
	}
	if hz := userHZFromAuxv(); hz != 0 && hz != s.UserHZ {
		t.Errorf("USER_HZ %d, auxv says %d", s.UserHZ, hz)
	}
}
