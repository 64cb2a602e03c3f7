//go:build !linux && !darwin && !windows

package osclock

import (
	"fmt"
	"runtime"
	"time"

	"github.com/timesync/timesync/platform"
)

// New reports platform.ErrUnsupported: timesync has no clock driver for
// this OS.
func New() (platform.Driver, error) {
	return nil, fmt.Errorf("clock driver for %s: %w", runtime.GOOS, platform.ErrUnsupported)
}

// ReadFrequency reports platform.ErrUnsupported.
func ReadFrequency() (float64, error) {
	return 0, fmt.Errorf("read frequency on %s: %w", runtime.GOOS, platform.ErrUnsupported)
}

func nullOptions() platform.NullOptions {
	return platform.NullOptions{
		KernelSlew: func(time.Duration) (time.Duration, error) { return 0, platform.ErrUnsupported },
	}
}
