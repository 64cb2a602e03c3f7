//go:build linux

package osclock

import (
	"errors"
	"testing"
	"time"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/platform/linux"
)

// Everything here only reads the real kernel (adjtimex modes 0).

func TestNewIsLinuxDriver(t *testing.T) {
	d, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if d.Name() != "linux-adjtimex" {
		t.Errorf("Name() = %q, want linux-adjtimex", d.Name())
	}
	if _, ok := d.(platform.KernelSlewer); !ok {
		t.Error("the Linux driver is not a KernelSlewer")
	}
	if _, ok := d.(platform.SyncStatusReporter); !ok {
		t.Error("the Linux driver is not a SyncStatusReporter")
	}
	f, err := d.Frequency()
	if err != nil {
		t.Fatal(err)
	}
	r, err := ReadFrequency()
	if err != nil {
		t.Fatal(err)
	}
	if f != r {
		t.Errorf("driver Frequency() = %v, ReadFrequency() = %v", f, r)
	}
}

func TestNewNullMimicsLinux(t *testing.T) {
	n, err := NewNull()
	if err != nil {
		t.Fatalf("NewNull: %v", err)
	}
	s, err := linux.ReadStatus()
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := n.Frequency(); f != s.FrequencyPPM {
		t.Errorf("null starts from %v ppm, kernel has %v", f, s.FrequencyPPM)
	}
	if got := n.MaxFrequency(); got != linux.MaxFrequencyPPM {
		t.Errorf("MaxFrequency() = %v, want %v", got, linux.MaxFrequencyPPM)
	}
	d, err := n.KernelSlew(-10 * time.Millisecond)
	if err != nil || d != 20*time.Second {
		t.Errorf("KernelSlew(-10ms) = %v, %v; want 20s at 500 ppm", d, err)
	}
	if _, err := n.KernelSlew(time.Hour); !errors.Is(err, platform.ErrOutOfRange) {
		t.Errorf("KernelSlew(1h) = %v, want ErrOutOfRange as the Linux driver", err)
	}
}
