//go:build cgo

// Command minimal is the baseline of make bench-gui: the smallest fyne
// apps — a tray menu only (-window=false), or a window with one label
// and a tray menu — idle, as the reference points.
package main

import (
	"flag"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

func main() {
	window := flag.Bool("window", true, "open a window (else the tray alone)")
	tray := flag.Bool("tray", true, "set a tray menu")
	flag.Parse()
	a := app.NewWithID("org.timesync.bench.minimal")
	if d, ok := a.(desktop.App); ok && *tray {
		d.SetSystemTrayMenu(fyne.NewMenu("minimal", fyne.NewMenuItem("Status", func() {})))
	}
	if *window {
		w := a.NewWindow("minimal")
		w.SetContent(widget.NewLabel("minimal fyne window"))
		w.Resize(fyne.NewSize(400, 200))
		w.Show()
	}
	a.Run()
}
