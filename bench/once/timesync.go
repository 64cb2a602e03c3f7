package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// onceJSON is the part of `timesync --once --json` output the bench reads
// (contract in DESIGN.md).
type onceJSON struct {
	OffsetSeconds *float64 `json:"offset_seconds"`
	Applied       bool     `json:"applied"`
}

// parseTimesyncOffset reads offset_seconds (reference minus local clock)
// from timesync's JSON. A result claiming it applied a change is an error:
// the bench only ever runs --dry-run.
func parseTimesyncOffset(out string) (time.Duration, error) {
	var j onceJSON
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &j); err != nil {
		return 0, fmt.Errorf("decoding --json output: %w", err)
	}
	if j.Applied {
		return 0, errors.New(`"applied": true under --dry-run`)
	}
	if j.OffsetSeconds == nil {
		return 0, errors.New("no offset_seconds in --json output")
	}
	return time.Duration(*j.OffsetSeconds * float64(time.Second)), nil
}

// timesyncOnce runs `timesync --once --dry-run --json` against servers.
func timesyncOnce(bin string, servers []string, timeout time.Duration) (runResult, error) {
	args := []string{"--once", "--dry-run", "--json"}
	for _, s := range servers {
		args = append(args, "--server", s)
	}
	wall, stdout, stderr, err := runTool(exec.Command(bin, args...), timeout)
	if err != nil {
		return runResult{}, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr))
	}
	off, err := parseTimesyncOffset(stdout)
	if err != nil {
		return runResult{}, fmt.Errorf("%v\n%s", err, stdout)
	}
	return runResult{wall: wall, offset: off}, nil
}
