package procstat

import (
	"os"
	"os/exec"
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

func TestParseStatParent(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"12 (timesync) S 7 12 12 0 -1", 7, true},
		{"13 (a) b) (c) R 1 13 13 0", 1, true},
		{"14 (x y) S", 0, false},
		{"garbage", 0, false},
	} {
		got, ok := ParseStatParent(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseStatParent(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// Tree finds a child this test starts, and TreeUsage counts both.
func TestTree(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	defer Stop(cmd, time.Second)
	pids, err := Tree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pids {
		found = found || p == cmd.Process.Pid
	}
	if !found || pids[0] != os.Getpid() {
		t.Fatalf("Tree(self) = %v; want self first and child %d in it", pids, cmd.Process.Pid)
	}
	u, err := TreeUsage(os.Getpid())
	// PSS (smaps_rollup) and RSS (status) are read one after the other,
	// and the test process may grow in between (CI once saw PSS 1 kB
	// over RSS): a tenth of slack.
	if err != nil || u.Procs < 2 || u.RSS <= 0 || u.PSS <= 0 || u.PSS > u.RSS+u.RSS/10 || u.MaxRSS > u.RSS {
		t.Fatalf("TreeUsage: %+v, %v; want ≥ 2 processes, 0 < PSS ≤ RSS (+10 %%, read apart)", u, err)
	}
}

func TestParsePSS(t *testing.T) {
	got, err := ParsePSS("00400000-7ffd [rollup]\nRss:     11316 kB\nPss:      6707 kB\nPss_Dirty: 2104 kB\n")
	if err != nil || got != 6707<<10 {
		t.Errorf("got %d, %v; want 6707 kB", got, err)
	}
	if _, err := ParsePSS("Rss: 1 kB\n"); err == nil {
		t.Error("no Pss line: want an error")
	}
}

// A child that ended but was not waited for is a zombie: Exited says so,
// while its schedstat (what CPUTime reads) is still there.
func TestExitedZombie(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	pid := cmd.Process.Pid
	if Exited(pid) {
		t.Fatal("a running sleep counted as exited")
	}
	cmd.Process.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for !Exited(pid) {
		if time.Now().After(deadline) {
			t.Fatal("a killed child not seen as exited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := CPUTime(pid); err != nil {
		t.Logf("the zombie's schedstat is gone too: %v", err)
	}
	cmd.Wait()
	if !Exited(pid) {
		t.Error("a reaped child not seen as exited")
	}
}

func TestParseStatMinFlt(t *testing.T) {
	for in, want := range map[string]int64{
		"10633 (cat) R 10590 10590 8925 0 -1 4194304 99 0 0 0": 99,
		"13 (a) b) (c) S 1 13 13 0 -1 64 7 0":                  7,
		"14 (x) S 1 2":                                         0,
		"garbage":                                              0,
	} {
		if got := ParseStatMinFlt(in); got != want {
			t.Errorf("ParseStatMinFlt(%q) = %d, want %d", in, got, want)
		}
	}
}

// This test's own threads have run and faulted at least once.
func TestThreadsOfSelf(t *testing.T) {
	ts, err := Threads(os.Getpid())
	if err != nil || len(ts) == 0 {
		t.Fatalf("Threads: %v, %v", ts, err)
	}
	var cpu time.Duration
	var slices, faults int64
	for _, th := range ts {
		cpu, slices, faults = cpu+th.CPU, slices+th.Slices, faults+th.MinFlt
	}
	if cpu <= 0 || slices <= 0 || faults <= 0 {
		t.Errorf("threads of this process: cpu %v, slices %d, faults %d; want all positive", cpu, slices, faults)
	}
}

func TestParseProcStat(t *testing.T) {
	m, err := ParseProcStat("cpu  238314 2 69385 6250521 4694 3 697 1259 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := (238314 + 2 + 69385 + 3 + 697) * 10 * time.Millisecond; m.Busy != want || m.Steal != 12590*time.Millisecond {
		t.Errorf("got %+v, want busy %v steal 12.59s", m, want)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 x 4 5 6 7 8"} {
		if _, err := ParseProcStat(bad); err == nil {
			t.Errorf("ParseProcStat(%q): no error", bad)
		}
	}
}
