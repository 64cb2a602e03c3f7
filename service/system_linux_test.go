package service

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	kservice "github.com/kardianos/service"
)

// renderUnit renders the unit as kardianos/service v1.3.0's systemd Install
// does: the same data keys and its own cmd/cmdEscape functions.
func renderUnit(t *testing.T, o SystemOptions) string {
	t.Helper()
	c := systemConfig("linux", o)
	script, _ := c.Option["SystemdScript"].(string)
	if script == "" {
		t.Fatal("linux config has no SystemdScript")
	}
	data := map[string]any{
		"Description": c.Description, "Path": c.Executable, "Name": c.Name,
		"Dependencies": c.Dependencies, "Arguments": c.Arguments,
		"ChRoot": "", "WorkingDirectory": "", "UserName": "", "ReloadSignal": "", "PIDFile": "",
		"LogDirectory": "/var/log", "OutputFileSupport": "", "LimitNOFILE": "",
		"Restart": "on-failure", "SuccessExitStatus": "", "EnvVars": []string(nil),
	}
	out, err := renderKardianos(script, data, kardianosSystemdFuncs)
	if err != nil {
		t.Fatalf("rendering the unit: %v", err)
	}
	return out
}

// unitFile is a parsed systemd unit: section → key → values in order.
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, text string) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				t.Fatalf("unit line %d %q: want key=value inside a section", n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unitFile) get(section, key string) string {
	return strings.Join(u[section][key], "\n")
}

func TestSystemdUnit(t *testing.T) {
	text := renderUnit(t, testSystemOptions)
	if strings.Contains(text, "{{") || strings.Contains(text, "}}") {
		t.Fatalf("unit has template text left:\n%s", text)
	}
	u := parseUnit(t, text)
	for _, s := range []string{"Unit", "Service", "Install"} {
		if u[s] == nil {
			t.Fatalf("unit has no [%s] section:\n%s", s, text)
		}
	}
	want := []struct{ section, key, value string }{
		{"Unit", "Description", systemDescription},
		{"Unit", "ConditionCapability", "CAP_SYS_TIME"},
		{"Unit", "ConditionFileIsExecutable", "/usr/local/bin/timesync"},
		{"Unit", "Conflicts", "systemd-timesyncd.service chronyd.service chrony.service ntp.service ntpd.service ntpsec.service openntpd.service"},
		{"Unit", "Before", "time-sync.target"},
		{"Unit", "Wants", "time-sync.target"},
		{"Service", "ExecStart", `/usr/local/bin/timesync "service" "run" "--config" "/etc/timesync/timesync.conf"`},
		{"Service", "Restart", "on-failure"},
		{"Service", "CapabilityBoundingSet", "CAP_SYS_TIME CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_KILL CAP_CHOWN"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "StateDirectory", "timesync"},
		{"Service", "RuntimeDirectory", "timesync"},
		{"Service", "ReadWritePaths", "/etc/timesync"},
		{"Service", "ProtectKernelModules", "yes"},
		{"Service", "MemoryDenyWriteExecute", "yes"},
		{"Service", "SystemCallArchitectures", "native"},
		{"Service", "RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX AF_NETLINK"},
		{"Install", "WantedBy", "multi-user.target"},
	}
	for _, w := range want {
		if got := u.get(w.section, w.key); got != w.value {
			t.Errorf("[%s] %s = %q, want %q", w.section, w.key, got, w.value)
		}
	}
	// Settings that would break the service.
	for _, k := range []string{"ProtectClock", "ProtectProc", "PrivateNetwork", "User", "DynamicUser", "AmbientCapabilities"} {
		if v, ok := u["Service"][k]; ok {
			t.Errorf("[Service] %s = %q: must not be set (see systemdUnit's comment)", k, v)
		}
	}
}

func TestSystemdUnitQuotesPaths(t *testing.T) {
	u := parseUnit(t, renderUnit(t, SystemOptions{
		Executable: "/opt/time sync/timesync",
		ConfigPath: "/etc/time sync/a \"b\".conf",
	}))
	tests := []struct{ key, want string }{
		{"ExecStart", `/opt/time\x20sync/timesync "service" "run" "--config" "/etc/time sync/a \"b\".conf"`},
	}
	for _, tt := range tests {
		if got := u.get("Service", tt.key); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
		}
	}
	if got, want := u.get("Unit", "ConditionFileIsExecutable"), `/opt/time\x20sync/timesync`; got != want {
		t.Errorf("ConditionFileIsExecutable = %q, want %q", got, want)
	}
}

// TestSystemdAnalyzeVerify runs "systemd-analyze verify" on the unit where
// the tool is installed; it needs no running systemd.
func TestSystemdAnalyzeVerify(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "timesync")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, SystemName+".service")
	text := renderUnit(t, SystemOptions{Executable: exe, ConfigPath: "/etc/timesync/timesync.conf"})
	if err := os.WriteFile(unit, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, "verify", "--man=no", unit)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	// verify also reports problems of other units it loads (the targets we
	// name); only lines about our file count.
	var ours []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, SystemName+".service") {
			ours = append(ours, l)
		}
	}
	if len(ours) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s\n--- unit:\n%s", unit, err, strings.Join(ours, "\n"), text)
	}
	if err != nil && len(ours) == 0 {
		t.Logf("systemd-analyze verify exited with %v, with nothing about our unit:\n%s", err, out)
	}
}

func TestConflictingUnitsListed(t *testing.T) {
	want := []string{"systemd-timesyncd.service", "chronyd.service", "chrony.service",
		"ntp.service", "ntpd.service", "ntpsec.service", "openntpd.service"}
	if !reflect.DeepEqual(ConflictingUnits, want) {
		t.Errorf("ConflictingUnits = %q, want %q", ConflictingUnits, want)
	}
}

// TestInstallThrowawayRoot installs and uninstalls the service through
// kardianos/service for real, but inside a private mount namespace (a user
// namespace, so no privilege is needed) where /etc/systemd/system is an
// empty tmpfs and "systemctl" is a script that only records its arguments.
// Nothing reaches this machine's systemd or its /etc.
func TestInstallThrowawayRoot(t *testing.T) {
	if os.Getenv("TIMESYNC_TEST_THROWAWAY_ROOT") != "" {
		installInThrowawayRoot(t)
		return
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare not installed")
	}
	if _, err := os.Stat("/etc/systemd/system"); err != nil {
		t.Skip("no /etc/systemd/system to mount over")
	}
	if err := exec.Command(unshare, "-Urm", "true").Run(); err != nil {
		t.Skipf("no user namespaces here (%v)", err)
	}
	bin := t.TempDir()
	log := filepath.Join(bin, "systemctl.log")
	fake := "#!/bin/sh\n" +
		"if [ \"$1\" = --version ]; then echo 'systemd 252 (252)'; exit 0; fi\n" +
		"echo \"$*\" >> " + log + "\n"
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unshare, "-Urm", os.Args[0], "-test.run=^TestInstallThrowawayRoot$", "-test.v")
	cmd.Env = append(os.Environ(),
		"TIMESYNC_TEST_THROWAWAY_ROOT="+ns,
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install in a throwaway root: %v\n%s", err, out)
	}
	calls, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("fake systemctl never ran: %v\n%s", err, out)
	}
	want := "enable timesync.service\ndaemon-reload\ndisable timesync.service\ndaemon-reload\n"
	if string(calls) != want {
		t.Errorf("systemctl calls:\n%s\nwant:\n%s", calls, want)
	}
}

// installInThrowawayRoot is the child of TestInstallThrowawayRoot. It
// refuses to install anything unless it is in a mount namespace of its own
// with a tmpfs on /etc/systemd/system and the fake systemctl first on PATH.
func installInThrowawayRoot(t *testing.T) {
	const dir = "/etc/systemd/system"
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil || ns == os.Getenv("TIMESYNC_TEST_THROWAWAY_ROOT") {
		t.Fatalf("not in a mount namespace of our own (%q, %v)", ns, err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mounting a tmpfs on %s: %v", dir, err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Type != 0x01021994 { // TMPFS_MAGIC
		t.Fatalf("%s is not a tmpfs (type %#x, %v)", dir, st.Type, err)
	}
	// kardianos detects systemd by /run/systemd/system: a tmpfs on /run
	// (this namespace's only) provides it.
	if err := syscall.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mounting a tmpfs on /run: %v", err)
	}
	if err := os.MkdirAll("/run/systemd/system", 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := exec.LookPath("systemctl"); err != nil || !strings.HasPrefix(p, os.TempDir()) {
		t.Fatalf("systemctl is %q (%v), want the test's fake", p, err)
	}
	var systemd kservice.System
	for _, s := range kservice.AvailableSystems() {
		if s.String() == "linux-systemd" {
			systemd = s
		}
	}
	if systemd == nil {
		t.Fatal("kardianos/service has no linux-systemd")
	}
	kservice.ChooseSystem(systemd)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := SystemOptions{Executable: exe, ConfigPath: "/etc/timesync/timesync.conf"}
	c, err := SystemConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := InstallSystemService(c); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "timesync.service")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := renderUnit(t, o); string(got) != want {
		t.Errorf("installed %s:\n%s\nwant:\n%s", path, got, want)
	}
	s, err := NewSystemService(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Uninstall(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("after uninstall, stat %s: %v, want not exist", path, err)
	}
}
