package procstat

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Two processes of one binary hold fewer distinct pages together than
// their VmRSS summed (they share its text and libc), and at least as
// many as the larger alone; a process alone holds about its VmRSS.
func TestDistinctResident(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("page frame numbers need root")
	}
	var pids []int
	for range 2 {
		cmd := exec.Command("sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Skip(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		pids = append(pids, cmd.Process.Pid)
	}
	// Until each has loaded its libraries and sleeps.
	for _, pid := range pids {
		for i := 0; ; i++ {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
			if strings.Contains(string(b), "nanosleep") || strings.Contains(string(b), "sleep") {
				break
			}
			if i == 500 {
				t.Fatalf("pid %d never slept (wchan %q)", pid, b)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var sum, largest int64
	for _, pid := range pids {
		r, err := RSS(pid)
		if err != nil {
			t.Fatal(err)
		}
		sum += r
		largest = max(largest, r)
		one, err := DistinctResident(pid)
		if err != nil {
			t.Fatal(err)
		}
		// VmRSS and the pages mapped can differ by a few pages (the
		// kernel's counters lag), not more.
		if d := one - r; d > 64<<10 || d < -64<<10 {
			t.Errorf("pid %d: %d bytes in distinct pages, VmRSS %d", pid, one, r)
		}
	}
	both, err := DistinctResident(pids...)
	if err != nil {
		t.Fatal(err)
	}
	if both >= sum || both < largest {
		t.Errorf("two sleeps: %d bytes distinct; want fewer than their VmRSS summed (%d) and at least the larger (%d)", both, sum, largest)
	}
}

func TestParseMapsRange(t *testing.T) {
	lo, hi, ok := parseMapsRange("7f12a000-7f12b000 r-xp 00000000 08:01 123 /usr/lib/libc.so.6")
	if !ok || lo != 0x7f12a000 || hi != 0x7f12b000 {
		t.Errorf("got %x %x %v", lo, hi, ok)
	}
	if _, _, ok := parseMapsRange("garbage"); ok {
		t.Error("garbage parsed")
	}
}
