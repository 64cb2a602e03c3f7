package conflicts

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ProcFS lists processes from a Linux /proc tree rooted at Root ("/proc";
// tests use a fake tree). Processes that exit while it reads are skipped.
type ProcFS struct{ Root string }

// Processes reads Root/PID/comm and Root/PID/cmdline of every process.
func (f ProcFS) Processes(ctx context.Context) ([]Process, error) {
	ents, err := os.ReadDir(f.Root)
	if err != nil {
		return nil, err
	}
	var out []Process
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(f.Root, e.Name(), "comm"))
		if err != nil {
			continue // gone, or hidden from us
		}
		p := Process{PID: pid, Comm: strings.TrimSuffix(string(comm), "\n")}
		if cmdline, err := os.ReadFile(filepath.Join(f.Root, e.Name(), "cmdline")); err == nil {
			p.Args = strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
		}
		out = append(out, p)
	}
	return out, nil
}
