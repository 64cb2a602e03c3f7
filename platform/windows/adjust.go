package windows

import (
	"fmt"
	"math"
	"time"
)

// This file is the pure arithmetic of the driver: time adjustments, FILETIME
// and SYSTEMTIME. It builds on every OS so that it is tested everywhere.

// Adjustment is the system time adjustment as GetSystemTimeAdjustment or
// GetSystemTimeAdjustmentPrecise reports it.
//
// Semantics (both APIs): for every Increment units of time that actually
// pass, as the system counts them, Adjustment units are added to the
// time-of-day clock; Adjustment = Increment runs the clock at its nominal
// rate, a larger value runs it faster. The units differ: the legacy API
// counts 100 ns per clock interrupt (Increment is the interrupt period,
// typically 156250 = 15.625 ms); the precise API (Windows 10 and later)
// counts performance-counter ticks per second (Increment is the QPC
// frequency, typically 10^7; Microsoft's own sample adds ppm·QPCfreq/10^6
// units for a ppm change). Only the ratio matters, so the same formula
// serves both:
//
//	ppm = 10^6 · (Adjustment − Increment) / Increment
//	Adjustment = round(Increment · (1 + ppm/10^6))
//
// The resolution is 10^6/Increment ppm: 0.1 ppm with the precise API, 6.4
// ppm with the legacy one at 15.625 ms.
type Adjustment struct {
	Adjustment uint64
	Increment  uint64
	// Disabled reports whether the system runs the clock itself (no
	// adjustment in effect; Adjustment is meaningless).
	Disabled bool
	// Precise reports whether the values come from the precise API.
	Precise bool
}

// PPM reports the frequency correction the adjustment applies, in ppm
// (positive = clock runs faster); 0 when adjustment is disabled.
func (a Adjustment) PPM() float64 {
	if a.Disabled || a.Increment == 0 {
		return 0
	}
	return 1e6 * (float64(a.Adjustment) - float64(a.Increment)) / float64(a.Increment)
}

// ResolutionPPM reports the smallest frequency step the API can make, in ppm.
func (a Adjustment) ResolutionPPM() float64 {
	if a.Increment == 0 {
		return math.Inf(1)
	}
	return 1e6 / float64(a.Increment)
}

// adjustmentFor returns the adjustment that makes the clock run ppm faster
// for the given increment, refusing values the API cannot carry (zero or
// beyond limit, which is 2^32−1 for the legacy API's DWORD).
func adjustmentFor(ppm float64, increment, limit uint64) (uint64, error) {
	if increment == 0 {
		return 0, fmt.Errorf("time increment is 0")
	}
	adj := math.Round(float64(increment) * (1 + ppm/1e6))
	if adj < 1 || adj > float64(limit) {
		return 0, fmt.Errorf("%+.3f ppm needs adjustment %.0f per %d, outside 1..%d", ppm, adj, increment, limit)
	}
	return uint64(adj), nil
}

// fileTimeEpoch is 1970-01-01 in FILETIME units: 100 ns since 1601-01-01 UTC.
const fileTimeEpoch = 116444736000000000

// fileTimeToTime converts a FILETIME (100 ns since 1601-01-01 UTC).
func fileTimeToTime(ft uint64) time.Time {
	d := int64(ft) - fileTimeEpoch
	sec, rem := d/1e7, d%1e7
	if rem < 0 {
		sec--
		rem += 1e7
	}
	return time.Unix(sec, rem*100).UTC()
}

// SystemTime is a Win32 SYSTEMTIME: UTC calendar fields to the millisecond.
type SystemTime struct {
	Year, Month, DayOfWeek, Day, Hour, Minute, Second, Milliseconds uint16
}

// systemTimeFor returns the SYSTEMTIME nearest t and the part of t it
// cannot carry (t minus the result, within ±0.5 ms). SetSystemTime accepts
// years 1601 to 30827.
func systemTimeFor(t time.Time) (SystemTime, time.Duration, error) {
	r := t.UTC().Round(time.Millisecond)
	if r.Year() < 1601 || r.Year() > 30827 {
		return SystemTime{}, 0, fmt.Errorf("%v is outside the years SYSTEMTIME can hold", t)
	}
	return SystemTime{
		Year:         uint16(r.Year()),
		Month:        uint16(r.Month()),
		DayOfWeek:    uint16(r.Weekday()),
		Day:          uint16(r.Day()),
		Hour:         uint16(r.Hour()),
		Minute:       uint16(r.Minute()),
		Second:       uint16(r.Second()),
		Milliseconds: uint16(r.Nanosecond() / int(time.Millisecond)),
	}, t.Sub(r), nil
}

// Time returns the instant st names.
func (st SystemTime) Time() time.Time {
	return time.Date(int(st.Year), time.Month(st.Month), int(st.Day), int(st.Hour), int(st.Minute), int(st.Second),
		int(st.Milliseconds)*int(time.Millisecond), time.UTC)
}
