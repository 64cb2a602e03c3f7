//go:build linux

package main

import (
	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/platform/linux"
)

// newDriver returns the Linux clock driver under test, as the service and
// `timesync --once` construct it.
func newDriver() (platform.Driver, error) {
	return linux.New()
}
