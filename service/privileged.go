package service

// privileged.go: the one door to everything the service does with
// privilege. Run as root on Linux and macOS, the service is split into a
// privileged parent and an unprivileged engine (OpenNTPD's model,
// service/privsep): the engine's Privileged sends each call to the parent
// as a message; in one process (Windows, a service not started as root,
// tests) the calls are made here.

import (
	"io"
	"net"

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
	// LoadConfig reads the configuration file at path (the engine may
	// not be able to read it itself).
	LoadConfig(path string) (*config.Config, error)
	// SaveDrift replaces the drift file at path atomically.
	SaveDrift(path string, d discipline.Drift) error
	// LoadDrift reads the drift file at path; a missing file is an error
	// satisfying errors.Is(err, fs.ErrNotExist).
	LoadDrift(path string) (discipline.Drift, error)
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

func (inProcess) LoadConfig(path string) (*config.Config, error) { return config.Load(path) }

func (inProcess) LoadDrift(path string) (discipline.Drift, error) { return driftfile.Read(path) }

func (inProcess) SaveDrift(path string, d discipline.Drift) error {
	return driftfile.File{Path: path}.Save(d)
}

func (p inProcess) Close() error {
	if c, ok := p.d.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// UDPListener is implemented by a Privileged that binds the NTP server's
// sockets for the service (the parent binds port 123; serve.Options.ListenUDP).
type UDPListener interface {
	ListenUDP(network string, laddr *net.UDPAddr) (*net.UDPConn, error)
}

// StepConfirmer is implemented by a Privileged whose parent allows a step
// beyond the panic threshold only with an administrator's confirmation
// token: ConfirmStep checks the token and keeps it for that step.
type StepConfirmer interface {
	ConfirmStep(token string) error
}
