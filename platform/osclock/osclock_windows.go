//go:build windows

package osclock

import (
	"time"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/platform/windows"
)

// New returns the Windows time-adjustment driver.
func New() (platform.Driver, error) {
	d, err := windows.New()
	if err != nil {
		return nil, err
	}
	return d, nil
}

// ReadFrequency reads the system time adjustment (no privilege needed) as
// a frequency correction in ppm; 0 while Windows runs the clock itself.
func ReadFrequency() (float64, error) {
	d, err := windows.New()
	if err != nil {
		return 0, err
	}
	return d.Frequency()
}

func nullOptions() platform.NullOptions {
	return platform.NullOptions{
		MaxFrequencyPPM: windows.MaxFrequencyPPM,
		// Windows has no slew the kernel finishes on its own.
		KernelSlew: func(time.Duration) (time.Duration, error) { return 0, platform.ErrUnsupported },
	}
}
