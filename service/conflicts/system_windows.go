package conflicts

import (
	"context"

	"golang.org/x/sys/windows"
)

// System returns the detector for this machine: the service control
// manager's state of W32Time (asked with query rights only).
func System() Detector {
	return Detector{ServiceRunning: windowsServiceRunning, GOOS: "windows"}
}

func windowsServiceRunning(_ context.Context, name string) (bool, error) {
	m, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT)
	if err != nil {
		return false, err
	}
	defer windows.CloseServiceHandle(m)
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return false, err
	}
	h, err := windows.OpenService(m, n, windows.SERVICE_QUERY_STATUS)
	if err == windows.ERROR_SERVICE_DOES_NOT_EXIST {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer windows.CloseServiceHandle(h)
	var st windows.SERVICE_STATUS
	if err := windows.QueryServiceStatus(h, &st); err != nil {
		return false, err
	}
	return st.CurrentState == windows.SERVICE_RUNNING || st.CurrentState == windows.SERVICE_START_PENDING, nil
}
