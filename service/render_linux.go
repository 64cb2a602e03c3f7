package service

import _ "unsafe" // go:linkname

// kardianosSystemdFuncs is the function map kardianos/service renders
// systemd units with on Linux (cmd, cmdEscape).
//
//go:linkname kardianosSystemdFuncs github.com/kardianos/service.tfs
var kardianosSystemdFuncs map[string]func(string) (string, error)

// RenderSystemdUnit returns timesync.service as kardianos/service v1.3.0's
// systemd Install writes it for o (the same data keys and its own
// cmd/cmdEscape functions). Linux only: those functions exist only in
// kardianos's Linux build.
func RenderSystemdUnit(o SystemOptions) (string, error) {
	if err := checkOptions(o); err != nil {
		return "", err
	}
	c := systemConfig("linux", o)
	script, _ := c.Option["SystemdScript"].(string)
	data := map[string]any{
		"Description": c.Description, "Path": c.Executable, "Name": c.Name,
		"Dependencies": c.Dependencies, "Arguments": c.Arguments,
		"ChRoot": "", "WorkingDirectory": "", "UserName": "", "ReloadSignal": "", "PIDFile": "",
		"LogDirectory": "/var/log", "OutputFileSupport": "", "LimitNOFILE": "",
		"Restart": "on-failure", "SuccessExitStatus": "", "EnvVars": []string(nil),
	}
	return renderKardianos(script, data, kardianosSystemdFuncs)
}
