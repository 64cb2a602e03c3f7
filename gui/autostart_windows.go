package gui

import (
	"errors"

	"golang.org/x/sys/windows/registry"
)

// runKey is start-at-login on Windows: a value under HKCU's Run key.
type runKey struct{ exe string }

const runKeyPath = `Software\Microsoft\Windows\CurrentVersion\Run`

func runKeyAutostart(exe string) Autostart { return runKey{exe} }

func (r runKey) Enabled() bool {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKeyPath, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	_, _, err = k.GetStringValue("timesync")
	return err == nil
}

func (r runKey) Set(on bool) error {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKeyPath, registry.SET_VALUE)
	if err != nil {
		return err
	}
	defer k.Close()
	if !on {
		if err := k.DeleteValue("timesync"); err != nil && !errors.Is(err, registry.ErrNotExist) {
			return err
		}
		return nil
	}
	return k.SetStringValue("timesync", `"`+r.exe+`"`)
}
