package service

// render.go: the service definitions exactly as "timesync service install"
// writes them, rendered on any machine, for packagers: the .deb and .rpm
// ship the systemd unit and the macOS package the launchd plist that
// these functions return (packaging/gen), so a package never carries a
// copy of the text that could drift from the code.

import (
	"errors"
	"html"
	_ "unsafe" // go:linkname

	_ "github.com/kardianos/service"
)

// renderKardianos is kardianos/service's own template engine (template.go,
// the same on every OS), so that the unit and the plist render exactly as
// "service install" renders them, on any OS.
//
//go:linkname renderKardianos github.com/kardianos/service.renderTemplate
func renderKardianos(text string, data map[string]any, funcs map[string]func(string) (string, error)) (string, error)

func checkOptions(o SystemOptions) error {
	if o.Executable == "" || o.ConfigPath == "" {
		return errors.New("rendering the service definition needs the executable's and the configuration's paths")
	}
	return nil
}

// RenderLaunchdPlist returns /Library/LaunchDaemons/org.timesync.timesync.plist
// as kardianos/service v1.3.0's darwin Install writes it for o (the same
// data keys; its html function is text/template's escaper, which is
// html.EscapeString's).
func RenderLaunchdPlist(o SystemOptions) (string, error) {
	if err := checkOptions(o); err != nil {
		return "", err
	}
	c := systemConfig("darwin", o)
	script, _ := c.Option["LaunchdConfig"].(string)
	boolean := func(key string) string {
		if b, _ := c.Option[key].(bool); b {
			return "true"
		}
		return "false"
	}
	data := map[string]any{
		"Name": c.Name, "Path": c.Executable, "Arguments": c.Arguments,
		"ChRoot": "", "UserName": "", "WorkingDirectory": "",
		"KeepAlive": boolean("KeepAlive"), "RunAtLoad": boolean("RunAtLoad"), "SessionCreate": "false",
		"StandardOutPath": "", "StandardErrorPath": "",
		"EnvVars": []string(nil),
	}
	return renderKardianos(script, data, map[string]func(string) (string, error){
		"html": func(s string) (string, error) { return html.EscapeString(s), nil },
	})
}
