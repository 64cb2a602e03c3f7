package service

// system.go: how timesync registers itself with the operating system's
// service manager (systemd, launchd, the Windows service control manager)
// through github.com/kardianos/service. Nothing here runs the service; it
// only describes it. The per-OS texts (our own systemd unit and launchd
// plist) are templates in kardianos's small template engine, which is not
// text/template: {{Key}}, {{Key | fn}}, {{if Key}}…{{else}}…{{end}},
// {{range Key}}{{.}}{{end}} over string and []string values only.

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	kservice "github.com/kardianos/service"

	"github.com/timesync/timesync/service/config"
)

// System service names.
const (
	// SystemName is the service's name for systemd (timesync.service) and
	// the Windows service control manager (also its Event Log source).
	SystemName = "timesync"
	// LaunchdLabel is the service's name on macOS: the launchd label and
	// /Library/LaunchDaemons/org.timesync.timesync.plist.
	LaunchdLabel = "org.timesync.timesync"

	systemDisplayName = "timesync"
	systemDescription = "timesync NTP service: keeps the system clock synchronized"
)

// ConflictingUnits are the systemd units of other time services; the unit
// conflicts with each, so starting timesync stops them and vice versa.
var ConflictingUnits = []string{
	"systemd-timesyncd.service",
	"chronyd.service", "chrony.service", // Red Hat and Debian names
	"ntp.service", "ntpd.service", "ntpsec.service",
	"openntpd.service",
}

// SystemOptions says what to register.
type SystemOptions struct {
	// Executable is the absolute path of the timesync binary the service
	// manager starts; "" means this executable.
	Executable string
	// ConfigPath is passed as "service run --config ConfigPath"; ""
	// means config.DefaultPath().
	ConfigPath string
}

// SystemConfig returns the kardianos/service description of the timesync
// service for this OS.
func SystemConfig(o SystemOptions) (*kservice.Config, error) {
	if o.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding this executable: %w", err)
		}
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		o.Executable = exe
	}
	if o.ConfigPath == "" {
		o.ConfigPath = config.DefaultPath()
	}
	return systemConfig(runtime.GOOS, o), nil
}

// systemConfig is SystemConfig for goos with every field already known, so
// that the registration of each OS can be checked on any OS.
func systemConfig(goos string, o SystemOptions) *kservice.Config {
	c := &kservice.Config{
		Name:        SystemName,
		DisplayName: systemDisplayName,
		Description: systemDescription,
		Executable:  o.Executable,
		Arguments:   []string{"service", "run", "--config", o.ConfigPath},
		Option:      kservice.KeyValue{},
	}
	switch goos {
	case "linux":
		// Unit-file lines for the [Unit] section (kardianos's convention
		// for systemd dependencies), rendered by systemdUnit's range.
		c.Dependencies = []string{
			"Wants=time-sync.target",
			"Before=time-sync.target",
			"After=network.target nss-lookup.target",
			"Conflicts=" + strings.Join(ConflictingUnits, " "),
		}
		c.Option["SystemdScript"] = systemdUnit
		// Only for the other Linux init systems kardianos supports
		// (sysv, openrc, upstart), whose scripts read it.
		c.Option["Restart"] = "on-failure"
	case "darwin":
		c.Name = LaunchdLabel
		c.Option["LaunchdConfig"] = launchdPlist
		c.Option["KeepAlive"] = true
		c.Option["RunAtLoad"] = true
	case "windows":
		// Start after the TCP/IP stack; delayed so that boot is not
		// slowed (w32time starts the same way).
		c.Dependencies = []string{"Tcpip"}
		c.Option["StartType"] = "automatic"
		c.Option["DelayedAutoStart"] = true
		// Restart 5 s after every failure (the SCM repeats the last
		// action); the failure count resets after a day without one.
		// afterInstall also makes a non-zero exit count as a failure.
		c.Option["OnFailure"] = "restart"
		c.Option["OnFailureDelayDuration"] = "5s"
		c.Option["OnFailureResetPeriod"] = 24 * 60 * 60
	}
	return c
}

// NewSystemService returns the kardianos service for c; prg is what runs
// when the service manager starts it (nil for install, status and the
// like, which never run it).
func NewSystemService(prg kservice.Interface, c *kservice.Config) (kservice.Service, error) {
	if prg == nil {
		prg = noProgram{}
	}
	s, err := kservice.New(prg, c)
	if err != nil {
		return nil, fmt.Errorf("service manager: %w", err)
	}
	return s, nil
}

// InstallSystemService registers the service described by c with the OS
// and sets what kardianos cannot (afterInstall, per OS).
func InstallSystemService(c *kservice.Config) error {
	s, err := NewSystemService(nil, c)
	if err != nil {
		return err
	}
	if err := s.Install(); err != nil {
		return fmt.Errorf("installing the %s service: %w", c.Name, err)
	}
	if err := afterInstall(c); err != nil {
		return fmt.Errorf("installing the %s service: %w", c.Name, err)
	}
	return nil
}

type noProgram struct{}

func (noProgram) Start(kservice.Service) error { return nil }
func (noProgram) Stop(kservice.Service) error  { return nil }

// systemdUnit is timesync.service, hardened as chrony's upstream
// examples/chronyd.service is. Decisions:
//   - The service starts as root and splits itself (service/privsep): a
//     parent that keeps only the clock, and the engine, which reads the
//     network, run as the "timesync" user with no capabilities at all. The
//     bounding set is what the parent keeps: CAP_SYS_TIME (the clock),
//     CAP_NET_BIND_SERVICE (binding port 123 for the engine: serving can be
//     turned on through the control API without reinstalling the unit),
//     CAP_SETUID and CAP_SETGID (starting the engine under its user, again
//     if it dies) and CAP_KILL (stopping it: it runs as another user), and
//     for its set-up only CAP_CHOWN (the confirmation token's group).
//   - No ProtectClock (it would forbid the very thing the service is for)
//     and no ProtectProc=invisible: conflict detection reads /proc/PID/comm
//     of other services' processes, which run under their own users.
//   - ProtectSystem=strict makes the whole file system read-only except the
//     state (/var/lib/timesync: drift file), runtime (/run/timesync: the
//     control socket, mode 0755 so every local user can reach it) and
//     configuration (/etc/timesync, saved by the control API) directories.
//   - AF_NETLINK is allowed besides AF_INET, AF_INET6 and AF_UNIX because Go's
//     net.Interfaces (listening on every address) uses it; chrony allows it too.
//   - ConditionCapability skips the unit where CAP_SYS_TIME is absent
//     (containers), as chrony's does.
const systemdUnit = `# timesync.service: shipped by the timesync package or written by "timesync service install".
# Do not edit it; add a drop-in with "systemctl edit timesync".
[Unit]
Description={{Description}}
ConditionFileIsExecutable={{Path | cmdEscape}}
ConditionCapability=CAP_SYS_TIME
{{range Dependencies}}{{.}}
{{end}}
[Service]
Type=simple
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
Restart=on-failure
RestartSec=5
TimeoutStopSec=10

StateDirectory=timesync
RuntimeDirectory=timesync
RuntimeDirectoryMode=0755
ConfigurationDirectory=timesync
ReadWritePaths=/etc/timesync
UMask=0022

CapabilityBoundingSet=CAP_SYS_TIME CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_KILL CAP_CHOWN
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectHostname=yes
ProcSubset=pid
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
RemoveIPC=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
SystemCallArchitectures=native
SystemCallFilter=~@cpu-emulation @debug @module @mount @obsolete @raw-io @reboot @swap

[Install]
WantedBy=multi-user.target
`

// launchdPlist is /Library/LaunchDaemons/org.timesync.timesync.plist: a
// daemon started at boot (RunAtLoad) and restarted whenever it exits
// (KeepAlive), logging to /var/log/timesync.log. Values come from
// kardianos's data (Name, Path, Arguments, KeepAlive, RunAtLoad) and are
// XML-escaped with its html function.
const launchdPlist = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{{Name | html}}</string>
	<key>ProgramArguments</key>
	<array>
		<string>{{Path | html}}</string>
{{range Arguments}}		<string>{{. | html}}</string>
{{end}}	</array>
	<key>RunAtLoad</key>
	<{{RunAtLoad}}/>
	<key>KeepAlive</key>
	<{{KeepAlive}}/>
	<key>ThrottleInterval</key>
	<integer>5</integer>
	<key>StandardOutPath</key>
	<string>/var/log/timesync.log</string>
	<key>StandardErrorPath</key>
	<string>/var/log/timesync.log</string>
</dict>
</plist>
`
