package service

// privileged.go: the one door to everything the service does with
// privilege. A later change splits the service into a privileged parent
// and an unprivileged engine (OpenNTPD's model); the engine will then
// hold a Privileged that sends each call to the parent as a message, and
// nothing else in the service has to change.

import (
	"io"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/discipline"
	"github.com/timesync/timesync/service/discipline/driftfile"
)

// Privileged is every privileged action of the service: changing the
// clock (through the driver: frequency, step, kernel sync status) and
// writing the files it owns (the configuration, the drift file).
type Privileged interface {
	// Driver is the clock driver every correction goes through.
	Driver() platform.Driver
	// SaveConfig validates c and replaces the file at path atomically,
	// keeping its comments.
	SaveConfig(path string, c *config.Config) error
	// SaveDrift replaces the drift file at path atomically.
	SaveDrift(path string, d discipline.Drift) error
	// Close gives the clock back to the OS (Windows' own adjustment).
	Close() error
}

// inProcess is Privileged done by this process itself.
type inProcess struct {
	d platform.Driver
}

// NewPrivileged returns the in-process Privileged over driver d.
func NewPrivileged(d platform.Driver) Privileged { return inProcess{d} }

func (p inProcess) Driver() platform.Driver { return p.d }

func (inProcess) SaveConfig(path string, c *config.Config) error { return config.Save(path, c) }

func (inProcess) SaveDrift(path string, d discipline.Drift) error {
	return driftfile.File{Path: path}.Save(d)
}

func (p inProcess) Close() error {
	if c, ok := p.d.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
