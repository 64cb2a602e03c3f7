//go:build linux

package main

import (
	"fmt"
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// pair is one reading of CLOCK_REALTIME taken between two reads of
// CLOCK_MONOTONIC_RAW. The raw clock is never adjusted by the kernel (no
// step, slew or frequency correction), so the realtime clock's phase and
// rate against it show exactly what was done to the clock.
type pair struct {
	raw   int64 // CLOCK_MONOTONIC_RAW in ns: midpoint of the bracketing reads
	real  int64 // CLOCK_REALTIME in ns since the Unix epoch
	width int64 // ns between the bracketing raw reads: the reading's uncertainty
}

// phaseNS reports realtime minus raw, in ns. Its change between two pairs is
// how far the clock was moved (stepped or slewed) relative to free running.
func (p pair) phaseNS() int64 { return p.real - p.raw }

// clockNS reads clock id in ns. clock_gettime on CLOCK_REALTIME or
// CLOCK_MONOTONIC_RAW cannot fail on Linux; if it does, the check's recover
// turns the panic into a failed result.
func clockNS(id int32) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(id, &ts); err != nil {
		panic(fmt.Sprintf("clock_gettime(%d): %v", id, err))
	}
	return ts.Nano()
}

// readPair keeps the tightest of tries bracketed readings.
func readPair(tries int) pair {
	best := pair{width: math.MaxInt64}
	for i := 0; i < tries; i++ {
		r1 := clockNS(unix.CLOCK_MONOTONIC_RAW)
		t := clockNS(unix.CLOCK_REALTIME)
		r2 := clockNS(unix.CLOCK_MONOTONIC_RAW)
		if w := r2 - r1; w < best.width {
			best = pair{raw: r1 + w/2, real: t, width: w}
		}
	}
	return best
}

// measureRate measures the realtime clock's rate against the raw clock over
// window, in ppm, by a least-squares fit of the phase of pairs read every
// few milliseconds: far less noisy than two end points under TCG, where
// one bracketed reading is only good to about a microsecond. It reports the
// fit's standard error too.
func measureRate(window time.Duration) (ppm, stdErrPPM float64) {
	const every = 5 * time.Millisecond
	var pairs []pair
	end := time.Now().Add(window)
	for time.Now().Before(end) {
		pairs = append(pairs, readPair(5))
		time.Sleep(every)
	}
	return fitRate(pairs)
}

// fitRate fits phase = a + rate·raw by least squares over pairs and reports
// the rate in ppm and its standard error. It needs at least three pairs.
func fitRate(pairs []pair) (ppm, stdErrPPM float64) {
	n := float64(len(pairs))
	if len(pairs) < 3 {
		return math.NaN(), math.Inf(1)
	}
	// Work relative to the first pair, in seconds and ns, to keep the
	// sums well inside float64 precision.
	x0, y0 := pairs[0].raw, pairs[0].phaseNS()
	var sx, sy float64
	for _, p := range pairs {
		sx += float64(p.raw-x0) / 1e9
		sy += float64(p.phaseNS() - y0)
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for _, p := range pairs {
		dx := float64(p.raw-x0)/1e9 - mx
		dy := float64(p.phaseNS()-y0) - my
		sxx += dx * dx
		sxy += dx * dy
	}
	if sxx == 0 {
		return math.NaN(), math.Inf(1)
	}
	slope := sxy / sxx // ns per second = ppb
	var sse float64
	for _, p := range pairs {
		dx := float64(p.raw-x0)/1e9 - mx
		r := float64(p.phaseNS()-y0) - my - slope*dx
		sse += r * r
	}
	se := math.Sqrt(sse/(n-2)) / math.Sqrt(sxx)
	return slope / 1e3, se / 1e3
}

// shiftClock moves the guest's realtime clock by d with clock_gettime and
// clock_settime, deliberately not through the driver under test. It sets up
// the conditions a check needs (a clock 1 h behind, 20 ms ahead).
func shiftClock(d time.Duration) error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return fmt.Errorf("clock_gettime: %w", err)
	}
	ts = unix.NsecToTimespec(ts.Nano() + int64(d))
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return fmt.Errorf("clock_settime: %w", err)
	}
	return nil
}

// kernelState is the kernel's timekeeping state as adjtimex reports it
// read-only.
type kernelState struct {
	tx    unix.Timex
	state int // TIME_OK, TIME_ERROR, …
}

// readKernel calls adjtimex with modes 0 (read only).
func readKernel() (kernelState, error) {
	var tx unix.Timex
	st, err := unix.Adjtimex(&tx)
	if err != nil {
		return kernelState{}, fmt.Errorf("adjtimex (read): %w", err)
	}
	return kernelState{tx: tx, state: st}, nil
}

// freqPPM reports the kernel's frequency correction in ppm, combining the
// ADJ_FREQUENCY value (ppm with a 16-bit fraction) and the tick length
// against nominalTickUS (each µs of tick per USER_HZ tick is 1e6/nominal
// ppm). It is computed here independently of the driver under test.
func (k kernelState) freqPPM(nominalTickUS int64) float64 {
	return float64(k.tx.Freq)/65536 + float64(int64(k.tx.Tick)-nominalTickUS)*1e6/float64(nominalTickUS)
}

// slewRemaining reports how much of an ADJ_OFFSET_SINGLESHOT (adjtime)
// slew the kernel has still to apply (ADJ_OFFSET_SS_READ, read only).
func slewRemaining() (time.Duration, error) {
	tx := unix.Timex{Modes: unix.ADJ_OFFSET_SS_READ}
	if _, err := unix.Adjtimex(&tx); err != nil {
		return 0, fmt.Errorf("adjtimex ADJ_OFFSET_SS_READ: %w", err)
	}
	return time.Duration(tx.Offset) * time.Microsecond, nil
}

// waitSlewDone polls slewRemaining every poll until it is zero or timeout
// passes; it reports when it saw zero (by the monotonic clock).
func waitSlewDone(poll, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		left, err := slewRemaining()
		if err != nil {
			return time.Time{}, err
		}
		now := time.Now()
		if left == 0 {
			return now, nil
		}
		if now.After(deadline) {
			return now, fmt.Errorf("kernel slew still has %v to go after %v", left, timeout)
		}
		time.Sleep(poll)
	}
}

// jumpWatch polls CLOCK_REALTIME (bracketed by CLOCK_MONOTONIC_RAW) in the
// background and records what a program reading the time would have seen:
// any backward move, and the largest change of phase between two polls (a
// step shows as a jump of its full size; a slew at 500 ppm as microseconds).
type jumpWatch struct {
	stop chan struct{}
	done chan struct{}

	polls      int
	backwardNS int64 // largest backward move of realtime between two polls
	maxJumpNS  int64 // largest |Δphase| between two consecutive tight polls
}

func startJumpWatch(interval time.Duration) *jumpWatch {
	w := &jumpWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		const tight = 50_000 // ns: wider brackets (preempted) do not count for jumps
		prev := readPair(1)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			time.Sleep(interval)
			p := readPair(1)
			w.polls++
			if back := prev.real - p.real; back > w.backwardNS {
				w.backwardNS = back
			}
			if p.width < tight && prev.width < tight {
				j := p.phaseNS() - prev.phaseNS()
				if j < 0 {
					j = -j
				}
				if j > w.maxJumpNS {
					w.maxJumpNS = j
				}
			}
			prev = p
		}
	}()
	return w
}

// Stop ends the watch; the fields are final afterwards.
func (w *jumpWatch) Stop() {
	close(w.stop)
	<-w.done
}
