package gui

import (
	"errors"

	"golang.org/x/sys/windows/registry"
)

// runKey is start-at-login on Windows: a value under HKCU's Run key, or
// the machine-wide one the installer writes under HKLM's, which a user
// switches off for themselves the way Task Manager's Startup tab does:
// through Explorer's StartupApproved\Run value of the same name.
type runKey struct{ exe string }

const (
	runKeyPath      = `Software\Microsoft\Windows\CurrentVersion\Run`
	approvedKeyPath = `Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run`
	runValue        = "timesync"
)

func runKeyAutostart(exe string) Autostart { return runKey{exe} }

func hasValue(root registry.Key, path string) bool {
	k, err := registry.OpenKey(root, path, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	_, _, err = k.GetValue(runValue, nil)
	return err == nil
}

// approved reports whether Explorer's StartupApproved value (if any)
// leaves the entry on: its first byte is even when enabled (02), odd when
// a user switched it off (03).
func approved() bool {
	k, err := registry.OpenKey(registry.CURRENT_USER, approvedKeyPath, registry.QUERY_VALUE)
	if err != nil {
		return true
	}
	defer k.Close()
	b, _, err := k.GetBinaryValue(runValue)
	return err != nil || !startupDisabled(b)
}

func (r runKey) Enabled() bool {
	if hasValue(registry.CURRENT_USER, runKeyPath) {
		return true
	}
	return hasValue(registry.LOCAL_MACHINE, runKeyPath) && approved()
}

func (r runKey) Set(on bool) error {
	machine := hasValue(registry.LOCAL_MACHINE, runKeyPath)
	if machine {
		// The installer's entry starts the tray for every user: never a
		// second one in HKCU (the tray would start twice); switch the
		// machine-wide one on or off for this user.
		if err := deleteValue(registry.CURRENT_USER, runKeyPath); err != nil {
			return err
		}
		k, _, err := registry.CreateKey(registry.CURRENT_USER, approvedKeyPath, registry.SET_VALUE)
		if err != nil {
			return err
		}
		defer k.Close()
		return k.SetBinaryValue(runValue, startupApprovedValue(on))
	}
	if !on {
		return deleteValue(registry.CURRENT_USER, runKeyPath)
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKeyPath, registry.SET_VALUE)
	if err != nil {
		return err
	}
	defer k.Close()
	return k.SetStringValue(runValue, `"`+r.exe+`"`)
}

func deleteValue(root registry.Key, path string) error {
	k, err := registry.OpenKey(root, path, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.DeleteValue(runValue); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return err
	}
	return nil
}
