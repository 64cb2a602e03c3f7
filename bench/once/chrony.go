package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/timesync/timesync/bench/internal/debs"
)

// chronyd is an unpacked chronyd binary and the environment it needs.
type chronyd struct {
	bin string
	env []string // os.Environ plus LD_LIBRARY_PATH when libraries were unpacked too
}

// prepareChrony returns a runnable chronyd (debs.PrepareChrony: Debian's
// chrony package unpacked into cache, never installed).
func prepareChrony(given, cache string, progress io.Writer) (*chronyd, error) {
	c, err := debs.PrepareChrony(given, cache, progress)
	if err != nil {
		return nil, err
	}
	return &chronyd{bin: c.Bin, env: c.Env}, nil
}

// wrongBy matches chronyd -Q's result line. Its X is the reference time
// minus the local clock (positive: the local clock is behind), the same
// sign as timesync's offset_seconds: a server 0.25 s ahead of us gives
// "System clock wrong by 0.250… seconds (ignored)".
var wrongBy = regexp.MustCompile(`System clock wrong by (-?[0-9]+(?:\.[0-9]+)?) seconds`)

// parseChronyOffset finds chronyd's measured offset in its log output.
func parseChronyOffset(log string) (time.Duration, error) {
	m := wrongBy.FindStringSubmatch(log)
	if m == nil {
		return 0, errors.New(`no "System clock wrong by" line in its output`)
	}
	sec, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(sec * float64(time.Second)), nil
}

// chronyArgs is the chronyd command line for one -Q run against servers,
// writing nothing outside dir: -Q measures and exits without touching the
// clock, -x disables clock control as a second guard, -d logs to stderr,
// -f points at an empty file so /etc/chrony is not read, and the pidfile
// lives in dir. cmdport 0 opens no command socket.
func chronyArgs(servers []string, dir, conf string, root bool, timeout time.Duration) []string {
	args := []string{"-Q", "-x", "-d", "-f", conf, "-t", strconv.Itoa(int(timeout.Seconds()))}
	if root {
		args = append(args, "-u", "root")
	} else {
		args = append(args, "-U")
	}
	for _, s := range servers {
		host, port := splitHostPort(s)
		args = append(args, fmt.Sprintf("server %s port %s iburst", host, port))
	}
	return append(args, "pidfile "+filepath.Join(dir, "chronyd.pid"), "cmdport 0")
}

// once runs chronyd -Q against servers and returns what it measured.
func (c *chronyd) once(servers []string, dir string, timeout time.Duration) (runResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return runResult{}, err
	}
	conf := filepath.Join(dir, "empty.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		return runResult{}, err
	}
	cmd := exec.Command(c.bin, chronyArgs(servers, dir, conf, os.Geteuid() == 0, timeout)...)
	cmd.Env, cmd.Dir = c.env, dir
	wall, stdout, stderr, err := runTool(cmd, timeout+5*time.Second)
	if err != nil {
		return runResult{}, fmt.Errorf("%v\n%s%s", err, stdout, stderr)
	}
	off, err := parseChronyOffset(stdout + stderr)
	if err != nil {
		return runResult{}, fmt.Errorf("%v:\n%s%s", err, stdout, stderr)
	}
	return runResult{wall: wall, offset: off}, nil
}
