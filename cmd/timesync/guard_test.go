package main

import (
	"fmt"
	"os"
	"time"

	"github.com/timesync/timesync/platform"
)

// forbiddenDriver stands in for the OS clock driver in every test of this
// package: reading works (as a null driver), any change panics, so a test
// that forgets --dry-run fails loudly instead of touching the real clock.
type forbiddenDriver struct{ platform.Driver }

// attempted is the change a test last tried to make, for the one test
// that proves the guard is in the path.
var attempted string

func (forbiddenDriver) forbid(what string) {
	attempted = what
	fmt.Fprintf(os.Stderr, "test tried to %s\n", what)
	panic("a test tried to change the system clock")
}
func (d forbiddenDriver) SetFrequency(ppm float64) error {
	d.forbid(fmt.Sprintf("set the frequency to %+.3f ppm", ppm))
	return nil
}
func (d forbiddenDriver) Step(off time.Duration) error {
	d.forbid(fmt.Sprintf("step the clock by %+.3f s", off.Seconds()))
	return nil
}
func (d forbiddenDriver) KernelSlew(off time.Duration) (time.Duration, error) {
	d.forbid(fmt.Sprintf("slew the clock by %+.3f s", off.Seconds()))
	return 0, nil
}

func init() {
	newClockDriver = func() (platform.Driver, error) {
		return forbiddenDriver{platform.NewNull(0)}, nil
	}
	// Nor does any test read this machine's /etc/timesync.
	systemConfigPath = func() string { return "/nonexistent/timesync.conf" }
}
