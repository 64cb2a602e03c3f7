package tray

import (
	"errors"
	"fmt"
	"os"

	"github.com/godbus/dbus/v5"
)

// WatcherName is the StatusNotifierItem host's registry on the session
// bus; without it nobody shows tray items.
const WatcherName = "org.kde.StatusNotifierWatcher"

// Probe reports why a tray icon cannot be shown here: no session bus
// (fyne.io/systray would fail, and fyne panics on quit without one), or
// no StatusNotifierWatcher on it (no tray host: GNOME without the
// AppIndicator extension, a bare X session). nil means go ahead.
func Probe() error {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" && os.Getenv("XDG_RUNTIME_DIR") == "" {
		return errors.New(L("there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"))
	}
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return errors.New(L("the D-Bus session bus cannot be reached: {{.Err}}", map[string]any{"Err": err.Error()}))
	}
	defer conn.Close()
	var has bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, WatcherName).Store(&has); err != nil {
		return fmt.Errorf("asking the session bus for %s: %w", WatcherName, err)
	}
	if !has {
		return errors.New(L("no system tray is running (nobody owns {{.Name}} on the session bus; on GNOME, the AppIndicator extension provides one)", map[string]any{"Name": WatcherName}))
	}
	return nil
}

// DesktopNotifier returns a function that shows a notification through
// org.freedesktop.Notifications, or nil when there is no session bus.
func DesktopNotifier() func(title, body string) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return nil
	}
	obj := conn.Object("org.freedesktop.Notifications", "/org/freedesktop/Notifications")
	return func(title, body string) {
		obj.Call("org.freedesktop.Notifications.Notify", 0, "timesync", uint32(0), "timesync", title, body,
			[]string{}, map[string]dbus.Variant{}, int32(-1))
	}
}
