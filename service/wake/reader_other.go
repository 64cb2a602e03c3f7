//go:build !linux && !darwin && !windows

package wake

import "time"

const systemSlewPPM = 1000

var start = time.Now()

// Read returns the wall clock and Go's monotonic clock (as both Mono and
// Boot: no sleep tracking here, so a resume shows as a forward jump).
func Read() Reading {
	now := time.Now()
	return Reading{Wall: now.Round(0), Mono: now.Sub(start), Boot: now.Sub(start)}
}
