//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// onceJSON is the part of `timesync --once --json` output the checks use
// (DESIGN.md, CLI contract).
type onceJSON struct {
	Offset      float64 `json:"offset_seconds"`
	Delay       float64 `json:"delay_seconds"`
	Action      string  `json:"action"`
	Applied     bool    `json:"applied"`
	SlewSeconds float64 `json:"slew_seconds"`
	Error       string  `json:"error"`
}

// onceRun is one run of the timesync binary.
type onceRun struct {
	args     []string
	stdout   string
	stderr   string
	exitCode int
	start    time.Time // before exec (carries the monotonic reading)
	end      time.Time // after exit
}

// runTimesync runs bin with args, as uid/gid cred when cred is non-nil.
func runTimesync(bin string, cred *syscall.Credential, timeout time.Duration, args ...string) (onceRun, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Dir = "/tmp"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/tmp"}
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	r := onceRun{args: args, start: time.Now()}
	err := cmd.Run()
	r.end = time.Now()
	r.stdout, r.stderr = out.String(), errb.String()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		r.exitCode = exitErr.ExitCode()
	default:
		return r, fmt.Errorf("running %s %s: %w (stderr: %s)", bin, strings.Join(args, " "), err, oneLine(r.stderr))
	}
	return r, nil
}

// parseOnceJSON decodes the one JSON object `timesync --once --json` prints.
func parseOnceJSON(stdout string) (onceJSON, error) {
	var j onceJSON
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&j); err != nil {
		return j, fmt.Errorf("timesync --json output %q: %w", oneLine(stdout), err)
	}
	if j.Action == "" {
		return j, fmt.Errorf("timesync --json output %q has no action", oneLine(stdout))
	}
	return j, nil
}

// nonEmptyLines returns the lines of s that are not blank.
func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, strings.TrimRight(l, "\r"))
		}
	}
	return out
}

// oneLine shortens s to one line for a message.
func oneLine(s string) string {
	s = strings.Join(nonEmptyLines(s), " | ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
