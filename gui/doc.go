// Package gui is the tray app's logic and windows: the tray model (what
// the icon, tooltip and menu say for a status), the status window, the
// settings window, the texts in English and Japanese. It talks only to
// the service's control API through an API (the control client in
// production, a fake in tests) and never imports fyne.io/fyne/v2/app, so
// its tests run with fyne's test driver and CGO_ENABLED=0. The GL driver
// lives in cmd/timesync-gui, in the process that shows windows; the
// always-running tray process uses fyne.io/systray alone (gui/tray).
package gui
