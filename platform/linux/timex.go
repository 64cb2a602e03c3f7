//go:build linux

package linux

import (
	"fmt"
	"math"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// This file holds the pure arithmetic between the driver's units (ppm,
// time.Duration) and the kernel's (struct timex): no system calls.

const (
	// freqScale converts ppm to timex.freq, which is ppm with a 16-bit
	// binary fraction ("scaled ppm").
	freqScale = 1 << 16

	// kernelMaxFreqPPM is what the kernel accepts in timex.freq
	// (MAXFREQ, 500 ppm); larger values are silently clamped.
	kernelMaxFreqPPM = 500

	// staReadOnly are the status bits the kernel reports but ignores
	// when set (STA_RONLY in include/uapi/linux/timex.h).
	staReadOnly = unix.STA_PPSSIGNAL | unix.STA_PPSJITTER | unix.STA_PPSWANDER |
		unix.STA_PPSERROR | unix.STA_CLOCKERR | unix.STA_NANO | unix.STA_MODE | unix.STA_CLK

	// staKernelDiscipline are the status bits with which the kernel
	// disciplines the clock on its own (PLL/FLL, PPS); they must be off
	// while this driver sets the frequency.
	staKernelDiscipline = unix.STA_PLL | unix.STA_FLL | unix.STA_PPSFREQ | unix.STA_PPSTIME
)

// tickBounds reports the tick lengths, in µs per USER_HZ tick, the kernel
// accepts: within 10% of nominal (900000/USER_HZ to 1100000/USER_HZ with
// C integer division, as sys_adjtimex checks them).
func tickBounds(hz int) (lo, hi int64) {
	return 900000 / int64(hz), 1100000 / int64(hz)
}

// splitFrequency returns the ADJ_TICK value (µs per USER_HZ tick) and the
// ADJ_FREQUENCY value (scaled ppm) that together make the clock run ppm
// faster than one second per second (positive = faster).
//
// The tick does the coarse part: one µs more per tick is hz µs more per
// second, hz ppm (100 ppm with the usual USER_HZ = 100). The frequency does
// the remainder, which stays well inside the kernel's ±500 ppm. Like
// chrony, when USER_HZ <= 250 the tick currently set (curTick) is kept if
// it is next to the one wanted: the remainder then stays within 1.5 ticks
// (150 ppm), and the tick does not flip back and forth when the wanted
// frequency hovers around a multiple of hz ppm.
//
// The tick is reckoned against exactly 10^6 µs per second (tick*hz − 10^6
// µs/s), which is the kernel's own arithmetic (second length = tick·USER_HZ),
// so USER_HZ values that do not divide 10^6 are handled exactly too.
func splitFrequency(ppm float64, hz int, curTick int64) (tick, freq int64, err error) {
	if hz <= 0 {
		return 0, 0, fmt.Errorf("USER_HZ %d is not positive", hz)
	}
	fhz := float64(hz)
	tick = int64(math.Round((1e6 + ppm) / fhz))
	if hz <= 250 && (tick == curTick+1 || tick == curTick-1) {
		tick = curTick
	}
	lo, hi := tickBounds(hz)
	if tick < lo || tick > hi {
		return 0, 0, fmt.Errorf("%+.3f ppm needs tick %d µs, outside the kernel's %d..%d", ppm, tick, lo, hi)
	}
	rest := ppm - (float64(tick)*fhz - 1e6)
	if math.Abs(rest) > kernelMaxFreqPPM {
		return 0, 0, fmt.Errorf("%+.3f ppm leaves %+.3f ppm for ADJ_FREQUENCY beyond the kernel's ±%d ppm (USER_HZ %d)", ppm, rest, kernelMaxFreqPPM, hz)
	}
	return tick, int64(math.Round(rest * freqScale)), nil
}

// mergeFrequency is the inverse of splitFrequency: the frequency
// correction in ppm (positive = faster) that tick (µs per USER_HZ tick) and
// freq (scaled ppm) apply together.
func mergeFrequency(tick, freq int64, hz int) float64 {
	return float64(tick)*float64(hz) - 1e6 + float64(freq)/freqScale
}

// setOffsetTime returns the timex.time value ADJ_SETOFFSET|ADJ_NANO wants
// for offset: whole seconds, and nanoseconds in [0, 10^9). The kernel
// rejects a negative or too large nanosecond field with EINVAL, so a
// negative offset such as −0.25 s must be written as −1 s + 0.75 s.
func setOffsetTime(offset time.Duration) (sec, nsec int64) {
	sec = int64(offset / time.Second)
	nsec = int64(offset % time.Second)
	if nsec < 0 {
		sec--
		nsec += int64(time.Second)
	}
	return sec, nsec
}

// addTimespec returns ts moved by offset, normalised (nanoseconds in
// [0, 10^9)), as clock_settime requires.
func addTimespec(sec, nsec int64, offset time.Duration) (int64, int64) {
	dsec, dnsec := setOffsetTime(offset)
	sec += dsec
	nsec += dnsec
	if nsec >= int64(time.Second) {
		sec++
		nsec -= int64(time.Second)
	}
	return sec, nsec
}

// modeNames spells timex modes the way the kernel headers do, for error
// messages ("ADJ_TICK|ADJ_FREQUENCY"); 0 is "read".
func modeNames(modes uint32) string {
	if modes == 0 {
		return "read"
	}
	if modes == unix.ADJ_OFFSET_SINGLESHOT {
		return "ADJ_OFFSET_SINGLESHOT"
	}
	names := []struct {
		bit  uint32
		name string
	}{
		{unix.ADJ_OFFSET, "ADJ_OFFSET"},
		{unix.ADJ_FREQUENCY, "ADJ_FREQUENCY"},
		{unix.ADJ_MAXERROR, "ADJ_MAXERROR"},
		{unix.ADJ_ESTERROR, "ADJ_ESTERROR"},
		{unix.ADJ_STATUS, "ADJ_STATUS"},
		{unix.ADJ_TIMECONST, "ADJ_TIMECONST"},
		{unix.ADJ_TAI, "ADJ_TAI"},
		{unix.ADJ_SETOFFSET, "ADJ_SETOFFSET"},
		{unix.ADJ_MICRO, "ADJ_MICRO"},
		{unix.ADJ_NANO, "ADJ_NANO"},
		{unix.ADJ_TICK, "ADJ_TICK"},
	}
	var out []string
	for _, n := range names {
		if modes&n.bit != 0 {
			out = append(out, n.name)
			modes &^= n.bit
		}
	}
	if modes != 0 {
		out = append(out, fmt.Sprintf("0x%x", modes))
	}
	return strings.Join(out, "|")
}

// setInt stores v in a timex field whatever its width (long is 32 bits on
// 32-bit architectures).
func setInt[T ~int32 | ~int64](p *T, v int64) { *p = T(v) }
