// Package procstat reads what the benchmarks compare between processes on
// Linux — CPU time from every thread's schedstat, resident memory from
// /proc/PID/status — and stops the processes they started. One copy for
// bench-idle, bench-serve and bench-gui, so their figures mean the same.
package procstat

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPUTime sums the first field of /proc/PID/task/*/schedstat: the time
// every thread of pid has spent on a CPU, to the nanosecond (/proc/PID/stat
// counts in 10 ms ticks, too coarse for an idle daemon).
func CPUTime(pid int) (time.Duration, error) {
	cpu, _, err := cpuRuns(pid)
	return cpu, err
}

// cpuRuns sums every thread's on-CPU time and times run.
func cpuRuns(pid int) (cpu time.Duration, runs int64, err error) {
	ts, err := threads(pid, false)
	for _, t := range ts {
		cpu, runs = cpu+t.CPU, runs+t.Slices
	}
	return cpu, runs, err
}

// Thread is one thread's on-CPU time (schedstat's first field), how many
// times it ran (its third) and its minor page faults (stat's tenth).
type Thread struct {
	TID    int
	CPU    time.Duration
	Slices int64
	MinFlt int64
}

// Threads reads every thread of pid. A thread that ends while they are
// read is left out.
func Threads(pid int) ([]Thread, error) { return threads(pid, true) }

// threads reads every thread's schedstat, and its stat too if faults.
func threads(pid int, faults bool) ([]Thread, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return nil, fmt.Errorf("process %d: no schedstat (exited?)", pid)
	}
	out := make([]Thread, 0, len(tasks))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that just ended
		}
		th := Thread{}
		if th.CPU, th.Slices, err = parseSchedstat(string(b)); err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		}
		th.TID, _ = strconv.Atoi(filepath.Base(filepath.Dir(t)))
		if faults {
			if st, err := os.ReadFile(filepath.Join(filepath.Dir(t), "stat")); err == nil {
				th.MinFlt = ParseStatMinFlt(string(st))
			}
		}
		out = append(out, th)
	}
	return out, nil
}

// Exited reports whether the process has ended: gone, or a zombie not
// yet waited for (which still has its schedstat, but no memory).
func Exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses and
	// may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return true
	}
	switch s[i+2] {
	case 'Z', 'X', 'x': // zombie, dead ('x' before Linux 3.14)
		return true
	}
	return false
}

// ParseSchedstat reads the on-CPU time, the first field of a schedstat line.
func ParseSchedstat(s string) (time.Duration, error) {
	cpu, _, err := parseSchedstat(s)
	return cpu, err
}

// parseSchedstat reads the on-CPU time and, if present, the times run
// (the third field).
func parseSchedstat(s string) (cpu time.Duration, runs int64, err error) {
	f := strings.Fields(s)
	if len(f) < 1 {
		return 0, 0, errors.New("empty schedstat")
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if len(f) >= 3 {
		runs, _ = strconv.ParseInt(f[2], 10, 64)
	}
	return time.Duration(ns), runs, err
}

// Memory reads VmRSS and VmHWM (in bytes) and Threads from /proc/PID/status.
func Memory(pid int) (rss, hwm int64, threads int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	return ParseStatus(string(b))
}

// RSS is Memory's resident set size alone, in bytes.
func RSS(pid int) (int64, error) {
	rss, _, _, err := Memory(pid)
	return rss, err
}

// ParseStatus reads VmRSS, VmHWM (kB, returned in bytes) and Threads from
// the text of /proc/PID/status.
func ParseStatus(s string) (rss, hwm int64, threads int, err error) {
	found := 0
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, perr := strconv.ParseInt(f[0], 10, 64)
		if perr != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss, found = n<<10, found+1 // kB
		case "VmHWM":
			hwm, found = n<<10, found+1
		case "Threads":
			threads, found = int(n), found+1
		}
	}
	if found != 3 {
		return 0, 0, 0, errors.New("status lacks VmRSS, VmHWM or Threads")
	}
	return rss, hwm, threads, nil
}

// Stop ends a process the benchmark started: SIGTERM, then SIGKILL if it
// has not exited within grace; it waits for the process either way.
func Stop(cmd *exec.Cmd, grace time.Duration) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
	}
}

// Tree lists pid and every process descended from it, from the parent
// field of each /proc/N/stat. A privilege-separated service is a parent
// and its engine; a benchmark that read the parent alone would miss the
// engine's work.
func Tree(pid int) ([]int, error) {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n))
		if err != nil {
			continue // gone meanwhile
		}
		if pp, ok := ParseStatParent(string(b)); ok {
			children[pp] = append(children[pp], n)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

// ParseStatMinFlt reads the minor faults, the tenth field of a stat line;
// 0 if absent.
func ParseStatMinFlt(s string) int64 {
	f := statFields(s)
	if len(f) < 8 {
		return 0
	}
	n, _ := strconv.ParseInt(f[7], 10, 64)
	return n
}

// ParseStatParent reads the parent pid, the fourth field of /proc/N/stat.
func ParseStatParent(s string) (int, bool) {
	f := statFields(s)
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// statFields are a stat line's fields from the third (the state) on: the
// second (the command in parentheses) may hold spaces and parentheses, so
// they are counted after its last ')'. Nil without one.
func statFields(s string) []string {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// PSS reads the proportional set size from /proc/PID/smaps_rollup, in
// bytes: the process's resident pages, each shared page divided by the
// number of processes mapping it. Summed over processes it counts every
// page once, which summing VmRSS does not (two processes of one binary
// share its text).
func PSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	return ParsePSS(string(b))
}

// ParsePSS reads the Pss line (kB, returned in bytes) of smaps_rollup.
func ParsePSS(s string) (int64, error) {
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("smaps_rollup: %w", err)
			}
			return n << 10, nil
		}
	}
	return 0, errors.New("smaps_rollup lacks Pss")
}

// Usage is what TreeUsage finds over a process tree.
type Usage struct {
	CPU     time.Duration // every thread of every process
	Runs    int64         // times any of those threads was put on a CPU (schedstat's third field)
	RSS     int64         // sum of VmRSS: shared pages count once per process
	HWM     int64         // sum of VmHWM
	PSS     int64         // sum of Pss: every page once
	MaxRSS  int64         // the largest single process's VmRSS
	Threads int
	Procs   int
	Pids    []int // the tree, pid first: the processes counted are among them
}

// TreeUsage sums CPUTime, Memory and PSS over Tree(pid).
func TreeUsage(pid int) (Usage, error) {
	var u Usage
	pids, err := Tree(pid)
	if err != nil {
		return u, err
	}
	u.Pids = pids
	for i, p := range pids {
		c, n, err := cpuRuns(p)
		if err == nil {
			var r, h int64
			var t int
			if r, h, t, err = Memory(p); err == nil {
				var ps int64
				if ps, err = PSS(p); err == nil {
					u.CPU, u.Runs, u.RSS, u.HWM, u.PSS, u.Threads, u.Procs = u.CPU+c, u.Runs+n, u.RSS+r, u.HWM+h, u.PSS+ps, u.Threads+t, u.Procs+1
					u.MaxRSS = max(u.MaxRSS, r)
				}
			}
		}
		if err != nil && i == 0 {
			return u, err
		}
		// A child that just ended is left out.
	}
	return u, nil
}

// Machine is what /proc/stat's first line counts for every CPU together,
// in the kernel's ticks turned into time: Busy is user, nice, system, irq
// and softirq; Steal is the time a hypervisor ran something else while
// this machine's CPUs had work.
type Machine struct {
	Busy, Steal time.Duration
}

// MachineCPU reads /proc/stat.
func MachineCPU() (Machine, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Machine{}, err
	}
	return ParseProcStat(string(b))
}

// userHZ is the unit of /proc/stat (USER_HZ, 100 on every Linux
// architecture Go supports).
const userHZ = 100

// ParseProcStat reads the "cpu" line of /proc/stat.
func ParseProcStat(s string) (Machine, error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return Machine{}, fmt.Errorf("/proc/stat: no cpu line: %q", line)
	}
	var v [8]int64 // user nice system idle iowait irq softirq steal
	for i := range v {
		n, err := strconv.ParseInt(f[1+i], 10, 64)
		if err != nil {
			return Machine{}, fmt.Errorf("/proc/stat: %w", err)
		}
		v[i] = n
	}
	tick := time.Second / userHZ
	return Machine{
		Busy:  time.Duration(v[0]+v[1]+v[2]+v[5]+v[6]) * tick,
		Steal: time.Duration(v[7]) * tick,
	}, nil
}
