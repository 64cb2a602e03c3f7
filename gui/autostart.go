package gui

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/timesync/timesync/assets"
)

// Autostart reads and sets whether the tray starts at login.
type Autostart interface {
	Enabled() bool
	Set(on bool) error
}

// FileAutostart is start-at-login by a file: the XDG autostart entry on
// Linux and the BSDs, a LaunchAgent on macOS.
type FileAutostart struct {
	Path    string
	Content []byte
}

// Enabled implements Autostart.
func (f FileAutostart) Enabled() bool {
	_, err := os.Stat(f.Path)
	return err == nil
}

// Set implements Autostart: writes or removes the file.
func (f FileAutostart) Set(on bool) error {
	if !on {
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(f.Path, f.Content, 0o644)
}

// XDGAutostart returns the autostart entry of the user whose config
// directory is configHome ($XDG_CONFIG_HOME, else ~/.config), starting
// exe.
func XDGAutostart(configHome, exe string) FileAutostart {
	c := assets.AutostartFile()
	if exe != "" {
		c = bytes.Replace(c, []byte("Exec=timesync-gui"), []byte("Exec="+desktopQuote(exe)), 1)
	}
	return FileAutostart{Path: filepath.Join(configHome, "autostart", "timesync-gui.desktop"), Content: c}
}

// XDGSystemAutostart is the XDG switch when packages may also install a
// system-wide entry ($XDG_CONFIG_DIRS/autostart, /etc/xdg/autostart by
// default: the .deb and .rpm do). The user's file of the same name
// overrides it (the XDG autostart spec): switching off writes one with
// Hidden=true, switching on removes that again (or writes the user's own
// entry where there is no system-wide one).
type XDGSystemAutostart struct {
	User       FileAutostart
	SystemDirs []string // the autostart directories of $XDG_CONFIG_DIRS
}

// systemEntry reports whether a system-wide entry of the same name exists.
func (x XDGSystemAutostart) systemEntry() bool {
	name := filepath.Base(x.User.Path)
	for _, d := range x.SystemDirs {
		if _, err := os.Stat(filepath.Join(d, name)); err == nil {
			return true
		}
	}
	return false
}

// Enabled implements Autostart.
func (x XDGSystemAutostart) Enabled() bool {
	b, err := os.ReadFile(x.User.Path)
	if err != nil {
		return x.systemEntry()
	}
	return !hiddenEntry(b)
}

// Set implements Autostart.
func (x XDGSystemAutostart) Set(on bool) error {
	switch {
	case on && x.systemEntry():
		return FileAutostart{Path: x.User.Path}.Set(false) // the system's applies
	case on:
		return x.User.Set(true)
	case x.systemEntry():
		hidden := FileAutostart{Path: x.User.Path, Content: []byte("[Desktop Entry]\nType=Application\nName=timesync\n" +
			"# Overrides the system-wide entry: the user turned start at login off.\nHidden=true\n")}
		return hidden.Set(true)
	}
	return x.User.Set(false)
}

// hiddenEntry reports whether a desktop entry is switched off (Hidden=true,
// or GNOME's X-GNOME-Autostart-enabled=false).
func hiddenEntry(b []byte) bool {
	for _, l := range strings.Split(string(b), "\n") {
		switch strings.ReplaceAll(strings.TrimSpace(l), " ", "") {
		case "Hidden=true", "X-GNOME-Autostart-enabled=false":
			return true
		}
	}
	return false
}

// xdgSystemAutostartDirs returns the autostart directories of
// $XDG_CONFIG_DIRS (default /etc/xdg).
func xdgSystemAutostartDirs(getenv func(string) string) []string {
	dirs := getenv("XDG_CONFIG_DIRS")
	if dirs == "" {
		dirs = "/etc/xdg"
	}
	var out []string
	for _, d := range filepath.SplitList(dirs) {
		if d != "" {
			out = append(out, filepath.Join(d, "autostart"))
		}
	}
	return out
}

// desktopQuote quotes a path for a desktop entry's Exec key when needed.
func desktopQuote(s string) string {
	if !strings.ContainsAny(s, " \t\"'\\$`") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", `$`, `\$`)
	return `"` + r.Replace(s) + `"`
}

// LaunchAgent returns the macOS LaunchAgent of the user at home.
func LaunchAgent(home, exe string) FileAutostart {
	plist := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key><string>org.timesync.gui</string>
	<key>ProgramArguments</key><array><string>` + xmlEscape(exe) + `</string></array>
	<key>RunAtLoad</key><true/>
	<key>ProcessType</key><string>Interactive</string>
</dict>
</plist>
`
	return FileAutostart{Path: filepath.Join(home, "Library", "LaunchAgents", "org.timesync.gui.plist"), Content: []byte(plist)}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// UserAutostart returns this user's start-at-login switch for this OS.
func UserAutostart() Autostart {
	exe, _ := os.Executable()
	switch runtime.GOOS {
	case "windows":
		return runKeyAutostart(exe)
	case "darwin":
		home, _ := os.UserHomeDir()
		return LaunchAgent(home, exe)
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = filepath.Join(os.Getenv("HOME"), ".config")
	}
	return XDGSystemAutostart{User: XDGAutostart(dir, exe), SystemDirs: xdgSystemAutostartDirs(os.Getenv)}
}

// InterfaceNetworks lists the private and link-local networks of this
// machine's interfaces ("192.168.1.0/24", "fd00:1::/64"), for the
// "serve my local network" preset.
func InterfaceNetworks() []string {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			pn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			p, err := netip.ParsePrefix(pn.String())
			if err != nil || !(p.Addr().IsPrivate() || p.Addr().IsLinkLocalUnicast()) {
				continue
			}
			s := p.Masked().String()
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}
