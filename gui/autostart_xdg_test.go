package gui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The user's switch against a system-wide entry (as the packages install
// in /etc/xdg/autostart): off writes a Hidden=true override, on removes
// it; with no system-wide entry the user's own file is the switch.
func TestXDGSystemAutostart(t *testing.T) {
	dir := t.TempDir()
	user := XDGAutostart(filepath.Join(dir, "home", ".config"), "/usr/bin/timesync-gui")
	sys := filepath.Join(dir, "etc", "xdg", "autostart")
	x := XDGSystemAutostart{User: user, SystemDirs: xdgSystemAutostartDirs(func(string) string {
		return filepath.Join(dir, "nowhere") + ":" + filepath.Join(dir, "etc", "xdg")
	})}
	if x.SystemDirs[1] != sys {
		t.Fatalf("system dirs %v", x.SystemDirs)
	}

	// No system-wide entry: the user's file.
	if x.Enabled() {
		t.Fatal("enabled with no entry anywhere")
	}
	if err := x.Set(true); err != nil || !x.Enabled() {
		t.Fatalf("Set(true) = %v, enabled %v", err, x.Enabled())
	}
	if b, _ := os.ReadFile(user.Path); !strings.Contains(string(b), "Exec=/usr/bin/timesync-gui") {
		t.Errorf("user entry %q", b)
	}
	if err := x.Set(false); err != nil || x.Enabled() {
		t.Fatalf("Set(false) = %v, enabled %v", err, x.Enabled())
	}
	if _, err := os.Stat(user.Path); !os.IsNotExist(err) {
		t.Error("switching off left the user's entry")
	}

	// A system-wide entry: on by default; off hides it for this user only.
	os.MkdirAll(sys, 0o755)
	os.WriteFile(filepath.Join(sys, "timesync-gui.desktop"), []byte("[Desktop Entry]\nType=Application\nExec=timesync-gui\n"), 0o644)
	if !x.Enabled() {
		t.Fatal("the system-wide entry does not count")
	}
	if err := x.Set(false); err != nil || x.Enabled() {
		t.Fatalf("Set(false) over the system entry = %v, enabled %v", err, x.Enabled())
	}
	if b, _ := os.ReadFile(user.Path); !strings.Contains(string(b), "Hidden=true") {
		t.Errorf("override %q lacks Hidden=true", b)
	}
	if _, err := os.Stat(filepath.Join(sys, "timesync-gui.desktop")); err != nil {
		t.Error("the system-wide entry was touched")
	}
	if err := x.Set(true); err != nil || !x.Enabled() {
		t.Fatalf("Set(true) over the system entry = %v, enabled %v", err, x.Enabled())
	}
	if _, err := os.Stat(user.Path); !os.IsNotExist(err) {
		t.Error("switching on kept a user entry beside the system-wide one (it would start twice)")
	}
	// GNOME's own switch counts as off.
	os.WriteFile(user.Path, []byte("[Desktop Entry]\nX-GNOME-Autostart-enabled=false\n"), 0o644)
	if x.Enabled() {
		t.Error("X-GNOME-Autostart-enabled=false counted as on")
	}
}

func TestStartupApprovedValue(t *testing.T) {
	on, off := startupApprovedValue(true), startupApprovedValue(false)
	if len(on) != 12 || on[0] != 2 || off[0] != 3 {
		t.Errorf("values %x %x", on, off)
	}
	if startupDisabled(on) || !startupDisabled(off) || startupDisabled(nil) {
		t.Error("startupDisabled misreads the values")
	}
}
