package service

import (
	"fmt"

	kservice "github.com/kardianos/service"
	"golang.org/x/sys/windows/svc/mgr"
)

// afterInstall sets what kardianos/service leaves out on Windows: the
// failure actions also apply when the service stops itself with an error
// (not only when the process crashes), so "restart on failure" holds for
// every failure, as systemd's Restart=on-failure does.
func afterInstall(c *kservice.Config) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connecting to the service control manager: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(c.Name)
	if err != nil {
		return fmt.Errorf("opening service %s: %w", c.Name, err)
	}
	defer s.Close()
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("setting failure actions of %s: %w", c.Name, err)
	}
	return nil
}
