package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParseSchedstat(t *testing.T) {
	got, err := ParseSchedstat("123456789 2000 17\n")
	if err != nil || got != 123456789*time.Nanosecond {
		t.Errorf("got %v, %v; want 123.456789ms", got, err)
	}
	if _, err := ParseSchedstat(""); err == nil {
		t.Error("empty schedstat: want an error")
	}
}

func TestParseStatus(t *testing.T) {
	s := "Name:\tchronyd\nVmPeak:\t   10000 kB\nVmHWM:\t    4096 kB\nVmRSS:\t    3072 kB\nThreads:\t1\n"
	rss, hwm, threads, err := ParseStatus(s)
	if err != nil || rss != 3072<<10 || hwm != 4096<<10 || threads != 1 {
		t.Errorf("got rss %d hwm %d threads %d err %v; want 3 MB, 4 MB, 1", rss, hwm, threads, err)
	}
	if _, _, _, err := ParseStatus("Name:\tx\n"); err == nil {
		t.Error("status without VmRSS: want an error")
	}
}

// The readers work on this very process (Linux only; elsewhere /proc is
// missing and they say so).
func TestSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Error(err)
	}
	if rss, err := RSS(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("RSS %d, %v", rss, err)
	}
}
