package service

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	kservice "github.com/kardianos/service"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"
)

// afterInstall sets what kardianos/service leaves out on Windows:
//   - the failure actions also apply when the service stops itself with an
//     error (not only when the process crashes), so "restart on failure"
//     holds for every failure, as systemd's Restart=on-failure does;
//   - the service gets its own SID (NT SERVICE\timesync) and its token only
//     the privileges it needs (RequiredPrivileges, windowsPrivileges): the
//     process runs as LocalSystem but without SeDebugPrivilege,
//     SeTcbPrivilege, SeLoadDriverPrivilege, SeImpersonatePrivilege and the
//     rest. This is what Windows offers instead of the privilege-separated
//     parent and engine of Linux and macOS (see service/privsep).
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
	sid := struct{ sidType uint32 }{windows.SERVICE_SID_TYPE_UNRESTRICTED}
	err = windows.ChangeServiceConfig2(s.Handle, windows.SERVICE_CONFIG_SERVICE_SID_INFO, (*byte)(unsafe.Pointer(&sid)))
	if err == nil {
		ms := multiSZ(windowsPrivileges)
		info := struct{ privileges *uint16 }{&ms[0]}
		err = windows.ChangeServiceConfig2(s.Handle, windows.SERVICE_CONFIG_REQUIRED_PRIVILEGES_INFO, (*byte)(unsafe.Pointer(&info)))
	}
	if errors.Is(err, windows.ERROR_INVALID_LEVEL) {
		// Not implemented by this "Windows" (Wine): say so, go on.
		fmt.Fprintf(os.Stderr, "note: this system cannot limit the service's privileges (%v); it keeps LocalSystem's\n", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("limiting the privileges of %s: %w", c.Name, err)
	}
	return nil
}
