package model

import "github.com/timesync/timesync/service/control"

// TrayView is everything the tray shows. Two views that are == look the
// same, so the tray redraws only when the view changes.
type TrayView struct {
	Kind          Kind
	Title         string // the item's title (tooltip title)
	Tooltip       string // the tooltip's body
	StatusLine    string // the menu's first, disabled item
	SyncNow       string // menu labels, in the user's language
	StatusItem    string
	SettingsItem  string
	QuitItem      string
	SyncAvailable bool // the service is there to ask
}

// Tray returns the view for a status (or for the error that kept us from
// getting one).
func Tray(st *control.Status, err error) TrayView {
	title, tip := Tooltip(st, err)
	k := Classify(st, err)
	return TrayView{
		Kind:          k,
		Title:         title,
		Tooltip:       tip,
		StatusLine:    StatusLine(st, err),
		SyncNow:       MenuSyncNow(),
		StatusItem:    MenuStatus(),
		SettingsItem:  MenuSettings(),
		QuitItem:      MenuQuit(),
		SyncAvailable: k != Unreachable,
	}
}

// Menu labels.
func MenuSyncNow() string  { return langL("Sync now") }
func MenuStatus() string   { return langL("Status…") }
func MenuSettings() string { return langL("Settings…") }
func MenuQuit() string     { return langL("Quit") }
