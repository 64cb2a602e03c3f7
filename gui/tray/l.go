package tray

import "github.com/timesync/timesync/gui/model"

// L is lang.L with the translations loaded.
var L = model.L
