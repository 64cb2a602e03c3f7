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

func (forbiddenDriver) forbid(what string) {
	fmt.Fprintf(os.Stderr, "test tried to %s the real clock\n", what)
	panic("a test tried to change the system clock")
}
func (d forbiddenDriver) SetFrequency(float64) error { d.forbid("set the frequency of"); return nil }
func (d forbiddenDriver) Step(time.Duration) error   { d.forbid("step"); return nil }
func (d forbiddenDriver) KernelSlew(time.Duration) (time.Duration, error) {
	d.forbid("slew")
	return 0, nil
}

func init() {
	newClockDriver = func() (platform.Driver, error) {
		return forbiddenDriver{platform.NewNull(0)}, nil
	}
}
