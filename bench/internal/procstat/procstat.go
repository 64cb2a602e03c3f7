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
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("process %d: no schedstat (exited?)", pid)
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that just ended
		}
		ns, err := ParseSchedstat(string(b))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", t, err)
		}
		sum += ns
	}
	return sum, nil
}

// ParseSchedstat reads the on-CPU time, the first field of a schedstat line.
func ParseSchedstat(s string) (time.Duration, error) {
	f := strings.Fields(s)
	if len(f) < 1 {
		return 0, errors.New("empty schedstat")
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	return time.Duration(ns), err
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
