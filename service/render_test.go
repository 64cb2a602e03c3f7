package service

import "testing"

func TestRenderLaunchdPlist(t *testing.T) {
	o := SystemOptions{Executable: "/Applications/Time Sync & Co/timesync", ConfigPath: "/etc/timesync/<odd>.conf"}
	got, err := RenderLaunchdPlist(o)
	if err != nil {
		t.Fatal(err)
	}
	c := systemConfig("darwin", o)
	want := renderPlist(t, map[string]any{
		"Name": c.Name, "Path": c.Executable, "Arguments": c.Arguments,
		"ChRoot": "", "UserName": "", "WorkingDirectory": "",
		"KeepAlive": "true", "RunAtLoad": "true", "SessionCreate": "false",
		"StandardOutPath": "/usr/local/var/log/x.out.log", "StandardErrorPath": "/usr/local/var/log/x.err.log",
		"EnvVars": []string(nil),
	})
	if got != want {
		t.Errorf("RenderLaunchdPlist:\n%s\nwant:\n%s", got, want)
	}
	if d := plistDict(t, got); d["ProgramArguments"] != "/Applications/Time Sync & Co/timesync|service|run|--config|/etc/timesync/<odd>.conf" {
		t.Errorf("ProgramArguments = %q", d["ProgramArguments"])
	}
	if _, err := RenderLaunchdPlist(SystemOptions{ConfigPath: "/x"}); err == nil {
		t.Error("RenderLaunchdPlist without an executable: no error")
	}
}
