package tray

import (
	"context"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// personalizeKey holds SystemUsesLightTheme: 0 when the taskbar (where
// the notification area is) is dark, which is Windows' default.
const personalizeKey = `Software\Microsoft\Windows\CurrentVersion\Themes\Personalize`

// FollowColorScheme calls set with whether the taskbar is dark, now and
// whenever the setting changes, until ctx is done. It reports false when
// the setting cannot be read (then the icons for a light panel stay).
func FollowColorScheme(ctx context.Context, set func(dark bool)) bool {
	k, err := registry.OpenKey(registry.CURRENT_USER, personalizeKey, registry.QUERY_VALUE|registry.NOTIFY)
	if err != nil {
		return false
	}
	read := func() (bool, bool) {
		v, _, err := k.GetIntegerValue("SystemUsesLightTheme")
		if err != nil {
			return false, false
		}
		return v == 0, true
	}
	dark, ok := read()
	if !ok {
		k.Close()
		return false
	}
	set(dark)
	ev, err := windows.CreateEvent(nil, 0, 0, nil)
	if err != nil {
		k.Close()
		return true
	}
	go func() {
		<-ctx.Done()
		windows.SetEvent(ev)
	}()
	go func() {
		defer k.Close()
		defer windows.CloseHandle(ev)
		for ctx.Err() == nil {
			if err := windows.RegNotifyChangeKeyValue(windows.Handle(k), false, windows.REG_NOTIFY_CHANGE_LAST_SET, ev, true); err != nil {
				return
			}
			if _, err := windows.WaitForSingleObject(ev, windows.INFINITE); err != nil || ctx.Err() != nil {
				return
			}
			if d, ok := read(); ok && d != dark {
				dark = d
				set(d)
			}
		}
	}()
	return true
}
