package gui

import "fyne.io/fyne/v2/lang"

var langL = lang.L
