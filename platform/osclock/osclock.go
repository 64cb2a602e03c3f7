// Package osclock picks this operating system's clock driver: New returns
// the real one (platform/linux, platform/darwin or platform/windows),
// ReadFrequency reads its frequency correction without changing anything,
// and NewNull returns a null driver that behaves like it for --dry-run.
// On other systems New reports platform.ErrUnsupported.
//
// It is the only package that imports the OS drivers, each from a file
// built only on its OS.
package osclock

import "github.com/timesync/timesync/platform"

// NewNull returns a null driver (platform.Null) that mimics this OS's real
// driver: its limits, its kernel's one-shot slew (or the lack of one), and
// the frequency correction the real driver would start from, read
// read-only. When that frequency cannot be read, the null driver starts
// from 0 and err says why; the driver returned is usable either way.
func NewNull() (n *platform.Null, err error) {
	opt := nullOptions()
	opt.FrequencyPPM, err = ReadFrequency()
	if err != nil {
		opt.FrequencyPPM = 0
	}
	return platform.NewNullWithOptions(opt), err
}
