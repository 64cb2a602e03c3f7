//go:build linux

package osclock

import (
	"fmt"
	"time"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/platform/linux"
)

// New returns the Linux adjtimex driver.
func New() (platform.Driver, error) {
	d, err := linux.New()
	if err != nil {
		return nil, err
	}
	return d, nil
}

// ReadFrequency reads the kernel's frequency correction (tick and
// ADJ_FREQUENCY combined) with adjtimex modes 0, in ppm.
func ReadFrequency() (float64, error) {
	s, err := linux.ReadStatus()
	if err != nil {
		return 0, err
	}
	return s.FrequencyPPM, nil
}

func nullOptions() platform.NullOptions {
	return platform.NullOptions{
		MaxFrequencyPPM: linux.MaxFrequencyPPM,
		KernelSlew: func(offset time.Duration) (time.Duration, error) {
			if offset > linux.MaxKernelSlew || offset < -linux.MaxKernelSlew {
				return 0, fmt.Errorf("beyond ±%.6f s: %w", linux.MaxKernelSlew.Seconds(), platform.ErrOutOfRange)
			}
			return platform.SlewDuration(offset.Round(time.Microsecond), linux.KernelSlewPPM), nil
		},
	}
}
