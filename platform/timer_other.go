//go:build !linux

package platform

import "time"

// afterFunc is RealTimers.AfterFunc: time.AfterFunc (timer_linux.go says
// why Linux differs).
func afterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
