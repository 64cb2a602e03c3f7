//go:build darwin

package darwin

import (
	"time"

	"golang.org/x/sys/unix"
)

// New returns the driver of this Mac's clock. It makes no system call; the
// drift-removal loop runs on real timers (platform.RealTimers, whose
// monotonic clock does not advance while the Mac sleeps).
func New() (*Driver, error) {
	return NewWithOps(Ops{Adjtime: adjtime, Gettimeofday: gettimeofday, Settimeofday: settimeofday})
}

func adjtime(delta time.Duration) (time.Duration, error) {
	sec, usec := splitTimeval(delta)
	in := unix.Timeval{Sec: sec, Usec: int32(usec)}
	var old unix.Timeval
	if err := unix.Adjtime(&in, &old); err != nil {
		return 0, err
	}
	return joinTimeval(old.Sec, int64(old.Usec)), nil
}

func gettimeofday() (time.Time, error) {
	var tv unix.Timeval
	if err := unix.Gettimeofday(&tv); err != nil {
		return time.Time{}, err
	}
	return time.Unix(tv.Sec, int64(tv.Usec)*1000), nil
}

func settimeofday(t time.Time) error {
	tv := unix.Timeval{Sec: t.Unix(), Usec: int32(t.Nanosecond() / 1000)}
	return unix.Settimeofday(&tv)
}
