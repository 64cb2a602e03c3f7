package service

import "testing"

// The packaged unit is the one "service install" writes: the same renderer
// with the same data (TestInstallWritesUnit ties renderUnit to the file
// kardianos writes).
func TestRenderSystemdUnitIsInstalledUnit(t *testing.T) {
	o := SystemOptions{Executable: "/usr/bin/timesync", ConfigPath: "/etc/timesync/timesync.conf"}
	got, err := RenderSystemdUnit(o)
	if err != nil {
		t.Fatal(err)
	}
	if want := renderUnit(t, o); got != want {
		t.Errorf("RenderSystemdUnit:\n%s\nwant:\n%s", got, want)
	}
	u := parseUnit(t, got)
	if e := u.get("Service", "ExecStart"); e != `/usr/bin/timesync "service" "run" "--config" "/etc/timesync/timesync.conf"` {
		t.Errorf("ExecStart = %q", e)
	}
	if _, err := RenderSystemdUnit(SystemOptions{Executable: "/usr/bin/timesync"}); err == nil {
		t.Error("RenderSystemdUnit without a config path: no error")
	}
}
