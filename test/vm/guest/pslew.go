//go:build linux

package main

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"time"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/test/vm/vmtest"
)

func init() { checks["pslew"] = (*guest).checkPlatformSlew }

// pslewOffset is the offset the pslew check slews away, and
// maxPlatformSlewResidual how close to the server the clock must land.
const (
	pslewOffset             = 100 * time.Millisecond
	maxPlatformSlewResidual = 500 * time.Microsecond
)

// checkPlatformSlew: the guest clock 100 ms behind; platform.Clock (the
// service's shared layer, on the Linux driver and Go's real timers) slews
// it away at its fastest rate, ADJ_TICK and ADJ_FREQUENCY together
// (83,333 ppm). The slew is timed on CLOCK_MONOTONIC, which that very
// slew speeds up: accounted as if the monotonic clock ran at the
// oscillator's rate the clock would land some 7.7 ms short. It must land
// within 0.5 ms of the server, and move by the slew's size against
// CLOCK_MONOTONIC_RAW, which the kernel never adjusts.
func (g *guest) checkPlatformSlew() vmtest.Result {
	const name = "pslew"
	if _, err := waitSlewDone(50*time.Millisecond, 2*time.Minute); err != nil {
		return fail(name, err)
	}
	if _, err := settle(g.server, time.Millisecond); err != nil {
		return fail(name, err)
	}
	if err := shiftClock(-pslewOffset); err != nil {
		return fail(name, err)
	}
	pre, err := measureOffset(g.server, 8)
	if err != nil {
		return fail(name, err)
	}
	d, err := newDriver()
	if err != nil {
		return fail(name, err)
	}
	clk, err := platform.NewClock(d, platform.ClockOptions{Logger: slog.New(slog.NewTextHandler(os.Stdout, nil))})
	if err != nil {
		return fail(name, err)
	}
	corrected := clk.CorrectedTimeBase()
	rate := clk.MaxSlewRate()
	before := readPair(200)
	dur, err := clk.Slew(pre.offset, 0)
	if err != nil {
		return fail(name, err)
	}
	// The slew, then the slow slew that takes back what a late timer
	// overshot (platform.Clock's endSlew).
	// SlewRemaining reads 0 from the planned end until the late timer
	// fires and starts the correction: give the timer time first.
	// A correction's own timer can be late too (by milliseconds in an
	// emulated guest), and start another: the slew is over once nothing
	// has been left for longer than a correction takes (at least 1 s).
	time.Sleep(dur + 500*time.Millisecond)
	deadline := time.Now().Add(15 * time.Second)
	var zeroSince time.Time
	for time.Now().Before(deadline) {
		switch {
		case clk.SlewRemaining() != 0:
			zeroSince = time.Time{}
		case zeroSince.IsZero():
			zeroSince = time.Now()
		case time.Since(zeroSince) >= 1500*time.Millisecond:
			deadline = time.Time{}
			continue
		}
		time.Sleep(20 * time.Millisecond)
	}
	left := clk.SlewRemaining()
	after := readPair(200)
	post, err := measureOffset(g.server, 8)
	if err != nil {
		return fail(name, err)
	}
	if err := clk.EndSlew(); err != nil {
		return fail(name, err)
	}
	moved := time.Duration(after.phaseNS() - before.phaseNS())
	// What a slew timed as if CLOCK_MONOTONIC ran at the oscillator's rate
	// would have left: it would run |O|/s seconds of the monotonic clock,
	// which apply s/(1+s) per second.
	s := rate * 1e-6
	naiveLeft := time.Duration(math.Abs(float64(pre.offset)) * (1 - 1/(1+s)))

	var problems []string
	if !corrected {
		problems = append(problems, "platform.Clock does not account in the corrected time base on Linux")
	}
	if rate < 80000 {
		problems = append(problems, fmt.Sprintf("fastest slew rate %.0f ppm, want about 83333 (ADJ_TICK)", rate))
	}
	if (pre.offset - pslewOffset).Abs() > 2*time.Millisecond {
		problems = append(problems, fmt.Sprintf("offset before the slew %+.3f ms, want %+.3f ms", ms(pre.offset), ms(pslewOffset)))
	}
	if left != 0 {
		problems = append(problems, fmt.Sprintf("slew still has %v to go 15 s after its end", left))
	}
	if post.offset.Abs() > maxPlatformSlewResidual {
		problems = append(problems, fmt.Sprintf("residual %+.3f ms after the slew, want within %.1f ms", ms(post.offset), ms(maxPlatformSlewResidual)))
	}
	if e := (moved - pre.offset).Abs(); e > maxPlatformSlewResidual {
		problems = append(problems, fmt.Sprintf("clock moved %+.3f ms against CLOCK_MONOTONIC_RAW, want %+.3f ms", ms(moved), ms(pre.offset)))
	}
	return result(problems,
		fmt.Sprintf("platform.Clock slewed %+.3f ms at %.0f ppm in %.3f s of CLOCK_MONOTONIC; moved %+.3f ms against the raw clock; "+
			"residual %+.3f ms against the server (oscillator-rate accounting would have left %.1f ms)",
			ms(pre.offset), rate, dur.Seconds(), ms(moved), ms(post.offset), ms(naiveLeft)),
		map[string]float64{"offset_ms": ms(pre.offset), "rate_ppm": rate, "slew_s": dur.Seconds(), "moved_ms": ms(moved),
			"residual_ms": ms(post.offset), "raw_error_ms": ms(moved - pre.offset), "naive_left_ms": ms(naiveLeft)})
}
