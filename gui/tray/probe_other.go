//go:build !linux

package tray

// Probe reports why a tray icon cannot be shown here; on Windows and
// macOS the notification area / menu bar is always there.
func Probe() error { return nil }

// DesktopNotifier returns nil: notifications are shown only on Linux
// for now (Windows toasts and macOS notifications need an app identity).
func DesktopNotifier() func(title, body string) { return nil }
