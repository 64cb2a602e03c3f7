//go:build !cgo

package main

import (
	"errors"
	"io"

	"github.com/timesync/timesync/service/control/client"
)

// runWindows needs fyne's GL driver, which needs cgo on Linux and
// macOS; this build (CGO_ENABLED=0, as "make build" makes it) has only
// the tray.
func runWindows(*client.Client, string, string, bool, io.Reader) error {
	return errors.New("this timesync-gui was built without cgo and has no windows; build it with 'make build-gui'")
}
