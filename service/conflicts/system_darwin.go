package conflicts

import (
	"context"

	"golang.org/x/sys/unix"
)

// System returns the detector for this machine: the kernel's process table
// (sysctl kern.proc.all), which names timed, chronyd and ntpd.
func System() Detector {
	return Detector{Processes: darwinProcesses, GOOS: "darwin"}
}

func darwinProcesses(context.Context) ([]Process, error) {
	kps, err := unix.SysctlKinfoProcSlice("kern.proc.all")
	if err != nil {
		return nil, err
	}
	out := make([]Process, 0, len(kps))
	for _, kp := range kps {
		comm := kp.Proc.P_comm[:]
		n := 0
		for n < len(comm) && comm[n] != 0 {
			n++
		}
		out = append(out, Process{PID: int(kp.Proc.P_pid), Comm: string(comm[:n])})
	}
	return out, nil
}
