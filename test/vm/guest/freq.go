//go:build linux

package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/test/vm/vmtest"
)

// freqTargets are the frequency corrections checkFreq sets, in ppm: inside
// the kernel's ±500 ppm ADJ_FREQUENCY range and beyond it (ADJ_TICK).
var freqTargets = []float64{+100, -250.5, +1000, -1500}

const (
	// maxReadbackPPM is the read-back error allowed: the kernel keeps the
	// frequency in units of 2^-16 ppm.
	maxReadbackPPM = 0.001
	// maxRateErrorPPM is the measured-rate error allowed: "exact" to the
	// resolution of the kernel's clock. The kernel's realtime clock
	// advances by an integer multiplier per clocksource cycle and reaches
	// a fractional rate by switching between neighbouring multipliers;
	// while it works off an error accumulated after a change (a frequency
	// set, the end of a slew) it runs up to one multiplier step off for
	// seconds. One step is 1/mult: about 0.125 ppm for the guest's 2.1 GHz
	// TSC (mult ≈ 8·10^6), more for a faster TSC. The baseline and each
	// measurement can each be that far off. Measured under TCG:
	// ADJ_FREQUENCY-only settings within 0.001 ppm when settled, others up
	// to 0.11 ppm off, and a baseline once exactly one step (0.125 ppm)
	// off. A wrong tick or frequency unit, sign or USER_HZ would be off by
	// 100 ppm or more.
	maxRateErrorPPM = 0.5
)

// userHZ reports USER_HZ (AT_CLKTCK from the auxiliary vector), the unit of
// the kernel's tick length; 100 when it cannot be read.
func userHZ() int64 {
	const atClkTck = 17
	if vec, err := unix.Auxv(); err == nil {
		for _, kv := range vec {
			if kv[0] == atClkTck && kv[1] > 0 {
				return int64(kv[1])
			}
		}
	}
	return 100
}

// checkFreq: the Linux driver sets each frequency in freqTargets; the value
// reads back exactly (through the driver and through adjtimex directly), and
// the clock's rate measured in-guest against CLOCK_MONOTONIC_RAW, minus a
// frequency-0 baseline from the same boot, is the one set.
func (g *guest) checkFreq() vmtest.Result {
	window, err := g.params.Duration("freq_window", 4*time.Second)
	if err != nil {
		return fail("freq", err)
	}
	settleDelay, err := g.params.Duration("freq_settle", 4*time.Second)
	if err != nil {
		return fail("freq", err)
	}
	if _, err := waitSlewDone(50*time.Millisecond, 2*time.Minute); err != nil {
		return fail("freq", err)
	}
	cs, _ := os.ReadFile("/sys/devices/system/clocksource/clocksource0/current_clocksource")
	logf("freq: clocksource %s", strings.TrimSpace(string(cs)))
	d, err := newDriver()
	if err != nil {
		return fail("freq", err)
	}
	defer func() {
		if err := d.SetFrequency(0); err != nil {
			logf("freq: restoring frequency 0: %v", err)
		}
	}()
	nominalTick := 1_000_000 / userHZ()

	if err := d.SetFrequency(0); err != nil {
		return fail("freq", fmt.Errorf("%s SetFrequency(0): %w", d.Name(), err))
	}
	time.Sleep(settleDelay)
	base, baseU := measureRate(window)
	logf("freq: baseline at 0 ppm: %+.4f ppm (standard error %.4f) over %v", base, baseU, window)

	figures := map[string]float64{"baseline_ppm": base}
	var problems, parts []string
	worst := 0.0
	for _, target := range freqTargets {
		if err := d.SetFrequency(target); err != nil {
			problems = append(problems, fmt.Sprintf("SetFrequency(%+g): %v", target, err))
			continue
		}
		got, err := d.Frequency()
		if err != nil {
			problems = append(problems, fmt.Sprintf("Frequency() after %+g: %v", target, err))
			continue
		}
		k, err := readKernel()
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		kernel := k.freqPPM(nominalTick)
		time.Sleep(settleDelay)
		rate, u := measureRate(window)
		measured := rate - base
		e := measured - target
		worst = math.Max(worst, math.Abs(e))
		logf("freq: set %+g ppm: driver reads %+.6f, kernel tick %d freq %d (%+.6f ppm), measured %+.4f ppm (standard error %.4f), error %+.4f ppm",
			target, got, k.tx.Tick, k.tx.Freq, kernel, measured, math.Hypot(u, baseU), e)
		if math.Abs(got-target) > maxReadbackPPM {
			problems = append(problems, fmt.Sprintf("set %+g ppm, driver reads back %+.6f", target, got))
		}
		if math.Abs(kernel-target) > maxReadbackPPM {
			problems = append(problems, fmt.Sprintf("set %+g ppm, kernel has tick %d freq %d = %+.6f ppm", target, k.tx.Tick, k.tx.Freq, kernel))
		}
		if math.Abs(e) > maxRateErrorPPM {
			problems = append(problems, fmt.Sprintf("set %+g ppm, clock runs %+.4f ppm", target, measured))
		}
		key := strings.NewReplacer("+", "p", "-", "m", ".", "_").Replace(fmt.Sprintf("%+g", target))
		figures["error_ppm_"+key] = e
		parts = append(parts, fmt.Sprintf("%+g→%+.3f", target, measured))
	}
	figures["max_error_ppm"] = worst
	return result(problems,
		fmt.Sprintf("set→measured ppm (%v windows after %v settle): %s; max error %.4f ppm (limit %.2f), baseline %+.4f ppm",
			window, settleDelay, strings.Join(parts, ", "), worst, maxRateErrorPPM, base),
		figures)
}

// checkSync: the driver's SetSyncStatus is visible to adjtimex: STA_UNSYNC
// cleared with maxerror/esterror set when synchronized, set again when not.
func (g *guest) checkSync() vmtest.Result {
	const maxErr, estErr = 100 * time.Millisecond, 2 * time.Millisecond
	d, err := newDriver()
	if err != nil {
		return fail("sync", err)
	}
	sr, ok := d.(platform.SyncStatusReporter)
	if !ok {
		return fail("sync", errors.New(d.Name()+" does not implement platform.SyncStatusReporter"))
	}
	t0 := time.Now()
	if err := sr.SetSyncStatus(true, maxErr, estErr); err != nil {
		return fail("sync", fmt.Errorf("SetSyncStatus(true): %w", err))
	}
	synced, err := readKernel()
	if err != nil {
		return fail("sync", err)
	}
	elapsed := time.Since(t0)
	if err := sr.SetSyncStatus(false, 16*time.Second, 16*time.Second); err != nil {
		return fail("sync", fmt.Errorf("SetSyncStatus(false): %w", err))
	}
	unsynced, err := readKernel()
	if err != nil {
		return fail("sync", err)
	}

	// The kernel adds 500 µs to maxerror every second (MAXFREQ).
	wantMaxLo := maxErr.Microseconds()
	wantMaxHi := wantMaxLo + int64(500*elapsed.Seconds()) + 500
	var problems []string
	if synced.tx.Status&unix.STA_UNSYNC != 0 || synced.state == unix.TIME_ERROR {
		problems = append(problems, fmt.Sprintf("after SetSyncStatus(true): status %#x state %d, want STA_UNSYNC clear", synced.tx.Status, synced.state))
	}
	if int64(synced.tx.Maxerror) < wantMaxLo || int64(synced.tx.Maxerror) > wantMaxHi {
		problems = append(problems, fmt.Sprintf("maxerror %d µs, want %d..%d", synced.tx.Maxerror, wantMaxLo, wantMaxHi))
	}
	if int64(synced.tx.Esterror) != estErr.Microseconds() {
		problems = append(problems, fmt.Sprintf("esterror %d µs, want %d", synced.tx.Esterror, estErr.Microseconds()))
	}
	if unsynced.tx.Status&unix.STA_UNSYNC == 0 || unsynced.state != unix.TIME_ERROR {
		problems = append(problems, fmt.Sprintf("after SetSyncStatus(false): status %#x state %d, want STA_UNSYNC set, TIME_ERROR", unsynced.tx.Status, unsynced.state))
	}
	return result(problems,
		fmt.Sprintf("synced: status %#x state %d maxerror %d µs esterror %d µs; unsynced: status %#x state %d",
			synced.tx.Status, synced.state, synced.tx.Maxerror, synced.tx.Esterror, unsynced.tx.Status, unsynced.state),
		map[string]float64{"maxerror_us": float64(synced.tx.Maxerror), "esterror_us": float64(synced.tx.Esterror),
			"synced_status": float64(synced.tx.Status), "unsynced_status": float64(unsynced.tx.Status)})
}
