// Package assets holds timesync's icons, drawn by assets/gen (go
// generate ./assets) from the shapes in assets/draw, and the desktop
// entries. The tray embeds the icons from here; the files beside them
// (desktop file, autostart entry) are installed by packagers.
package assets

import (
	"embed"
	"fmt"
	"runtime"
)

//go:generate go run ./gen -o icons

//go:embed icons/*.png icons/*.ico
var icons embed.FS

//go:embed timesync-gui.desktop
var desktopFile []byte

//go:embed timesync-gui-autostart.desktop
var autostartFile []byte

// AutostartFile returns the XDG autostart entry that starts the tray at
// login (written to ~/.config/autostart when the user chooses so).
func AutostartFile() []byte { return autostartFile }

// DesktopFile returns the freedesktop.org desktop entry of timesync-gui.
func DesktopFile() []byte { return desktopFile }

// TrayIcon returns the tray icon of state ("synchronized", "syncing",
// "unsynchronized", "unreachable") for a light or dark panel in the
// format this OS's tray takes: ICO on Windows, a PNG of px pixels
// elsewhere (px is rounded to the nearest drawn size).
func TrayIcon(state string, dark bool, px int) []byte {
	panel := "light"
	if dark {
		panel = "dark"
	}
	name := fmt.Sprintf("icons/tray-%s-%s-%d.png", state, panel, nearest(px))
	if runtime.GOOS == "windows" {
		name = fmt.Sprintf("icons/tray-%s-%s.ico", state, panel)
	}
	b, err := icons.ReadFile(name)
	if err != nil {
		panic("assets: " + err.Error())
	}
	return b
}

// AppIcon returns the application icon as a PNG of about px pixels.
func AppIcon(px int) []byte {
	best := 256
	for _, s := range []int{32, 48, 64, 128, 256} {
		if s >= px {
			best = s
			break
		}
	}
	b, err := icons.ReadFile(fmt.Sprintf("icons/timesync-%d.png", best))
	if err != nil {
		panic("assets: " + err.Error())
	}
	return b
}

var pngSizes = []int{16, 18, 22, 24, 32, 36, 48, 64}

func nearest(px int) int {
	for _, s := range pngSizes {
		if s >= px {
			return s
		}
	}
	return pngSizes[len(pngSizes)-1]
}
