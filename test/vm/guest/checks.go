//go:build linux

package main

import (
	"fmt"
	"math"
	"strings"
	"syscall"
	"time"

	"github.com/timesync/timesync/test/vm/vmtest"
)

// Limits of the checks, from the issue.
const (
	maxResidual      = 5 * time.Millisecond // offset left after --once, fresh measurement
	kernelSlewPPM    = 500                  // Linux ADJ_OFFSET_SINGLESHOT rate
	maxSlewJump      = time.Millisecond     // a slew never moves the phase this much between two polls
	onceTimeout      = "10s"                // --timeout passed to timesync
	onceWait         = 30 * time.Second     // hard limit for one timesync run
	nobody           = 65534                // uid/gid of the unprivileged run
	unprivShift      = 2 * time.Second      // how far off the clock is for the unprivileged run
	maxUntouchedMove = 200 * time.Microsecond
)

// onceArgs are the arguments of a `timesync --once` run against the test
// server.
func (g *guest) onceArgs(jsonOut bool) []string {
	a := []string{"--once", "--server", g.server, "--timeout", onceTimeout}
	if jsonOut {
		a = append(a, "--json")
	}
	return a
}

// runOnceJSON runs `timesync --once --json` as root and decodes its output;
// a non-zero exit is an error.
func (g *guest) runOnceJSON() (onceRun, onceJSON, error) {
	run, err := runTimesync(g.timesync, nil, onceWait, g.onceArgs(true)...)
	if err != nil {
		return run, onceJSON{}, err
	}
	logf("timesync %s → exit %d, %.2f s, stdout %s, stderr %s", strings.Join(run.args, " "), run.exitCode,
		run.end.Sub(run.start).Seconds(), oneLine(run.stdout), oneLine(run.stderr))
	if run.exitCode != 0 {
		return run, onceJSON{}, fmt.Errorf("timesync --once exited %d: %s", run.exitCode, oneLine(run.stderr))
	}
	j, err := parseOnceJSON(run.stdout)
	return run, j, err
}

// checkStep: the guest clock 1 h behind; `timesync --once` must step it, and
// a fresh measurement afterwards must be within 5 ms of the server.
func (g *guest) checkStep() vmtest.Result {
	const shift = -time.Hour
	pre, err := measureOffset(g.server, 8)
	if err != nil {
		return fail("step", err)
	}
	if err := shiftClock(shift); err != nil {
		return fail("step", err)
	}
	want := pre.offset - shift // what timesync should find: about +3600 s
	_, j, err := g.runOnceJSON()
	if err != nil {
		return fail("step", err)
	}
	post, err := measureOffset(g.server, 8)
	if err != nil {
		return fail("step", err)
	}
	found := time.Duration(j.Offset * 1e9)
	var problems []string
	if j.Action != "step" || !j.Applied {
		problems = append(problems, fmt.Sprintf("action %q applied=%v, want step applied", j.Action, j.Applied))
	}
	if d := (found - want).Abs(); d > 50*time.Millisecond {
		problems = append(problems, fmt.Sprintf("timesync found offset %+.6f s, want %+.6f s", found.Seconds(), want.Seconds()))
	}
	if post.offset.Abs() > maxResidual {
		problems = append(problems, fmt.Sprintf("residual %.3f ms > %.0f ms", ms(post.offset), ms(maxResidual)))
	}
	return result(problems,
		fmt.Sprintf("clock 1 h behind stepped by %+.6f s; residual %+.3f ms (limit ±%.0f ms, measurement delay %.2f ms)",
			found.Seconds(), ms(post.offset), ms(maxResidual), ms(post.delay)),
		map[string]float64{"residual_ms": ms(post.offset), "stepped_s": found.Seconds(), "delay_ms": ms(post.delay)})
}

// checkSlew: the guest clock 20 ms ahead; `timesync --once` must slew it
// (a reader polling CLOCK_REALTIME never sees it go backward or jump), and
// once the kernel's 500 ppm slew has had its expected time the offset is
// gone.
func (g *guest) checkSlew() vmtest.Result {
	const shift = 20 * time.Millisecond // ahead: a step would move the clock backward
	if _, err := waitSlewDone(50*time.Millisecond, 2*time.Minute); err != nil {
		return fail("slew", err)
	}
	if _, err := settle(g.server, time.Millisecond); err != nil {
		return fail("slew", err)
	}
	if err := shiftClock(shift); err != nil {
		return fail("slew", err)
	}
	before := readPair(200)
	watch := startJumpWatch(500 * time.Microsecond)
	run, j, err := g.runOnceJSON()
	if err != nil {
		watch.Stop()
		return fail("slew", err)
	}
	leftAtExit, err := slewRemaining()
	if err != nil {
		watch.Stop()
		return fail("slew", err)
	}
	found := time.Duration(j.Offset * 1e9)
	expected := time.Duration(math.Abs(float64(found)) / kernelSlewPPM * 1e6)
	end, err := waitSlewDone(20*time.Millisecond, 2*expected+20*time.Second)
	watch.Stop()
	if err != nil {
		return fail("slew", err)
	}
	after := readPair(200)
	post, err := measureOffset(g.server, 8)
	if err != nil {
		return fail("slew", err)
	}
	took := end.Sub(run.start)
	moved := time.Duration(after.phaseNS() - before.phaseNS())
	// Rate of the part of the slew after timesync exited, from the kernel's
	// own remaining-offset report and the raw clock.
	var ratePPM float64
	if d := end.Sub(run.end); d > 0 {
		ratePPM = float64(leftAtExit.Abs()) / float64(d) * 1e6
	}

	var problems []string
	if j.Action != "slew" || !j.Applied {
		problems = append(problems, fmt.Sprintf("action %q applied=%v, want slew applied", j.Action, j.Applied))
	}
	if d := (found + shift).Abs(); d > 3*time.Millisecond {
		problems = append(problems, fmt.Sprintf("timesync found offset %+.3f ms, want %+.3f ms", ms(found), ms(-shift)))
	}
	if watch.backwardNS > 0 {
		problems = append(problems, fmt.Sprintf("CLOCK_REALTIME went backward by %.3f ms", float64(watch.backwardNS)/1e6))
	}
	if time.Duration(watch.maxJumpNS) > maxSlewJump {
		problems = append(problems, fmt.Sprintf("phase jumped by %.3f ms between two polls", float64(watch.maxJumpNS)/1e6))
	}
	if watch.polls < 100 {
		problems = append(problems, fmt.Sprintf("only %d polls of CLOCK_REALTIME", watch.polls))
	}
	if d := (took - expected).Abs(); d > expected/10+time.Second {
		problems = append(problems, fmt.Sprintf("slew took %.2f s, want %.2f s ±10%%", took.Seconds(), expected.Seconds()))
	}
	if d := (moved - found).Abs(); d > time.Millisecond {
		problems = append(problems, fmt.Sprintf("clock moved %+.3f ms against CLOCK_MONOTONIC_RAW, want %+.3f ms", ms(moved), ms(found)))
	}
	if post.offset.Abs() > maxResidual {
		problems = append(problems, fmt.Sprintf("residual %.3f ms > %.0f ms after the slew", ms(post.offset), ms(maxResidual)))
	}
	return result(problems,
		fmt.Sprintf("clock 20 ms ahead slewed by %+.3f ms in %.2f s (expected %.2f s at %d ppm, measured rate %.0f ppm), "+
			"no backward step in %d polls (max phase jump %.1f µs); residual %+.3f ms",
			ms(found), took.Seconds(), expected.Seconds(), kernelSlewPPM, ratePPM, watch.polls,
			float64(watch.maxJumpNS)/1e3, ms(post.offset)),
		map[string]float64{"slew_s": took.Seconds(), "expected_s": expected.Seconds(), "rate_ppm": ratePPM,
			"moved_ms": ms(moved), "max_jump_us": float64(watch.maxJumpNS) / 1e3,
			"backward_us": float64(watch.backwardNS) / 1e3, "residual_ms": ms(post.offset)})
}

// checkUnpriv: `timesync --once` as uid 65534 on a clock 2 s behind must
// fail with one clear line on stderr and leave the clock untouched.
func (g *guest) checkUnpriv() vmtest.Result {
	if _, err := waitSlewDone(50*time.Millisecond, 2*time.Minute); err != nil {
		return fail("unpriv", err)
	}
	if _, err := settle(g.server, 2*time.Millisecond); err != nil {
		return fail("unpriv", err)
	}
	if err := shiftClock(-unprivShift); err != nil {
		return fail("unpriv", err)
	}
	defer func() {
		if err := shiftClock(unprivShift); err != nil {
			logf("unpriv: restoring the clock: %v", err)
		}
	}()
	k0, err := readKernel()
	if err != nil {
		return fail("unpriv", err)
	}
	before := readPair(200)
	run, err := runTimesync(g.timesync, &syscall.Credential{Uid: nobody, Gid: nobody}, onceWait, g.onceArgs(false)...)
	if err != nil {
		return fail("unpriv", err)
	}
	logf("timesync as uid %d → exit %d, stdout %s, stderr %s", nobody, run.exitCode, oneLine(run.stdout), oneLine(run.stderr))
	// A slew the kernel had accepted would show over the next second.
	time.Sleep(time.Second)
	after := readPair(200)
	k1, err := readKernel()
	if err != nil {
		return fail("unpriv", err)
	}
	left, err := slewRemaining()
	if err != nil {
		return fail("unpriv", err)
	}
	moved := time.Duration(after.phaseNS() - before.phaseNS())
	lines := nonEmptyLines(run.stderr)

	var problems []string
	if run.exitCode == 0 {
		problems = append(problems, "exit status 0, want non-zero")
	}
	if len(lines) != 1 {
		problems = append(problems, fmt.Sprintf("stderr has %d lines, want 1: %q", len(lines), run.stderr))
	} else if !mentionsPrivilege(lines[0]) {
		problems = append(problems, fmt.Sprintf("stderr line %q does not say that privilege is missing", lines[0]))
	}
	if moved.Abs() > maxUntouchedMove {
		problems = append(problems, fmt.Sprintf("clock moved %+.3f ms against CLOCK_MONOTONIC_RAW", ms(moved)))
	}
	if left != 0 {
		problems = append(problems, fmt.Sprintf("a kernel slew of %v is pending", left))
	}
	if k0.tx.Freq != k1.tx.Freq || k0.tx.Tick != k1.tx.Tick || k0.tx.Status != k1.tx.Status {
		problems = append(problems, fmt.Sprintf("kernel state changed: freq %d→%d tick %d→%d status %#x→%#x",
			k0.tx.Freq, k1.tx.Freq, k0.tx.Tick, k1.tx.Tick, k0.tx.Status, k1.tx.Status))
	}
	line := ""
	if len(lines) > 0 {
		line = lines[0]
	}
	return result(problems,
		fmt.Sprintf("as uid %d: exit %d, clock moved %+.1f µs; stderr: %q", nobody, run.exitCode, float64(moved)/1e3, line),
		map[string]float64{"exit_code": float64(run.exitCode), "moved_us": float64(moved) / 1e3, "stderr_lines": float64(len(lines))})
}

// mentionsPrivilege reports whether an error line tells the user that
// privilege is what is missing.
func mentionsPrivilege(line string) bool {
	l := strings.ToLower(line)
	for _, w := range []string{"root", "permi", "privilege", "cap_sys_time"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// eraRollover is when the 32-bit NTP seconds field wraps (era 0 → 1).
var eraRollover = time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC)

// checkEra: the guest started just before the NTP era rollover, the server
// serves a time just after it. `timesync --once` must compute the offset
// (the host's expectation, timesync.era_expect_s) and step across the
// rollover.
func (g *guest) checkEra() vmtest.Result {
	wantS, err := g.params.Float("era_expect_s", math.NaN())
	if err != nil || math.IsNaN(wantS) {
		return fail("era", fmt.Errorf("kernel parameter %sera_expect_s missing or bad: %v", vmtest.ParamPrefix, err))
	}
	tolS, err := g.params.Float("era_tolerance_s", 1.5)
	if err != nil {
		return fail("era", err)
	}
	now := time.Now().UTC()
	if !now.Before(eraRollover) {
		return fail("era", fmt.Errorf("guest clock %s is already past the rollover %s: boot the guest earlier (-rtc base)",
			now.Format(time.RFC3339Nano), eraRollover.Format(time.RFC3339)))
	}
	_, j, err := g.runOnceJSON()
	if err != nil {
		return fail("era", err)
	}
	after := time.Now().UTC()
	post, err := measureOffset(g.server, 8)
	if err != nil {
		return fail("era", err)
	}
	var problems []string
	if j.Action != "step" || !j.Applied {
		problems = append(problems, fmt.Sprintf("action %q applied=%v, want step applied", j.Action, j.Applied))
	}
	if math.Abs(j.Offset-wantS) > tolS {
		problems = append(problems, fmt.Sprintf("offset %+.6f s, want %+.3f s ±%.1f s", j.Offset, wantS, tolS))
	}
	if !after.After(eraRollover) {
		problems = append(problems, fmt.Sprintf("guest clock %s not past the rollover after the step", after.Format(time.RFC3339Nano)))
	}
	if post.offset.Abs() > maxResidual {
		problems = append(problems, fmt.Sprintf("residual %.3f ms > %.0f ms", ms(post.offset), ms(maxResidual)))
	}
	return result(problems,
		fmt.Sprintf("guest at %s (%.1f s before the 2036 rollover) stepped by %+.6f s (expected %+.1f s ±%.1f s) to %s; residual %+.3f ms",
			now.Format("2006-01-02T15:04:05.000Z"), eraRollover.Sub(now).Seconds(), j.Offset, wantS, tolS,
			after.Format("2006-01-02T15:04:05.000Z"), ms(post.offset)),
		map[string]float64{"offset_s": j.Offset, "expected_s": wantS, "residual_ms": ms(post.offset),
			"before_rollover_s": eraRollover.Sub(now).Seconds()})
}

// result assembles a check's result: OK when there are no problems.
func result(problems []string, summary string, figures map[string]float64) vmtest.Result {
	r := vmtest.Result{OK: len(problems) == 0, Summary: summary, Figures: figures}
	if len(problems) > 0 {
		r.Error = strings.Join(problems, "; ")
	}
	return r
}
