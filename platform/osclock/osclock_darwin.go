//go:build darwin

package osclock

import (
	"fmt"
	"time"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/platform/darwin"
)

// New returns the macOS adjtime driver.
func New() (platform.Driver, error) {
	d, err := darwin.New()
	if err != nil {
		return nil, err
	}
	return d, nil
}

// ReadFrequency reports 0: the macOS driver builds its frequency
// correction in this process (the kernel keeps none that adjtime can
// read), so a new driver always starts from 0.
func ReadFrequency() (float64, error) { return 0, nil }

func nullOptions() platform.NullOptions {
	return platform.NullOptions{
		MaxFrequencyPPM: darwin.MaxFrequencyPPM,
		KernelSlew: func(offset time.Duration) (time.Duration, error) {
			if offset > darwin.MaxKernelSlew || offset < -darwin.MaxKernelSlew {
				return 0, fmt.Errorf("beyond ±%.6f s: %w", darwin.MaxKernelSlew.Seconds(), platform.ErrOutOfRange)
			}
			return darwin.KernelSlewDuration(offset.Round(time.Microsecond)), nil
		},
	}
}
