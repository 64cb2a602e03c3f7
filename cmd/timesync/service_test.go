package main

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	kservice "github.com/kardianos/service"

	"github.com/timesync/timesync/service/conflicts"
)

// fakeSystemService stands in for the OS's service manager in every test
// of this package (set in init): no test registers or starts a real service.
type fakeSystemService struct {
	kservice.Service // nil: any method not below panics
	status           kservice.Status
	statusErr        error
	actionErr        error
	calls            *[]string
}

func (f fakeSystemService) record(c string) error { *f.calls = append(*f.calls, c); return f.actionErr }
func (f fakeSystemService) Start() error          { return f.record("start") }
func (f fakeSystemService) Stop() error           { return f.record("stop") }
func (f fakeSystemService) Restart() error        { return f.record("restart") }
func (f fakeSystemService) Uninstall() error      { return f.record("uninstall") }
func (f fakeSystemService) Install() error        { return f.record("install") }
func (f fakeSystemService) Platform() string      { return "fake-init" }
func (f fakeSystemService) Status() (kservice.Status, error) {
	*f.calls = append(*f.calls, "status")
	return f.status, f.statusErr
}

var (
	fakeService     fakeSystemService
	installedConfig *kservice.Config
	fakeConflicts   []conflicts.Conflict
	fakeEUID        = 0
)

func init() {
	fakeService.calls = new([]string)
	newSystemService = func(*kservice.Config) (kservice.Service, error) { return fakeService, nil }
	installSystemService = func(c *kservice.Config) error {
		installedConfig = c
		return fakeService.record("install")
	}
	detectConflicts = func(context.Context) []conflicts.Conflict { return fakeConflicts }
	geteuid = func() int { return fakeEUID }
	serviceAnswers = func() bool { return fakeAnswers }
}

// fakeAnswers is whether a service answers on the control socket.
var fakeAnswers bool

// When the service manager cannot tell, the socket decides.
func TestServiceStatusAsksTheSocket(t *testing.T) {
	defer func(s fakeSystemService) { fakeService = s }(fakeService)
	defer func() { fakeAnswers = false }()
	fakeService.statusErr = errors.New("exit status 1")
	for _, answers := range []bool{true, false} {
		fakeAnswers = answers
		r := runCLI("service", "status")
		if answers && (r.code != 0 || !strings.Contains(r.stdout, "running (it answers on") || !strings.Contains(r.stdout, "fake-init could not tell: exit status 1")) {
			t.Errorf("answering: exit %d %q %q", r.code, r.stdout, r.stderr)
		}
		if !answers && (r.code != exitFail || !strings.Contains(r.stderr, "fake-init cannot tell whether the timesync service runs (exit status 1), and nothing answers on")) {
			t.Errorf("silent: exit %d %q %q", r.code, r.stdout, r.stderr)
		}
	}
}

func TestServiceCommands(t *testing.T) {
	chrony := []conflicts.Conflict{{Name: "chronyd", PID: 42, Line: "chronyd (pid 42) is running: stop it"}}
	tests := []struct {
		name      string
		args      []string
		euid      int
		svc       fakeSystemService
		conflicts []conflicts.Conflict
		wantCode  int
		wantCalls []string
		wantOut   string // substring of stdout
		wantErr   string // substring of stderr
	}{
		{name: "no command", args: []string{"service"}, wantCode: exitUsage, wantErr: "service needs a command"},
		{name: "unknown", args: []string{"service", "enable"}, wantCode: exitUsage, wantErr: `unknown service command "enable"`},
		{name: "help", args: []string{"service", "help"}, wantOut: "timesync service install"},
		{name: "extra argument", args: []string{"service", "start", "now"}, wantCode: exitUsage, wantErr: "takes no arguments"},
		{name: "unknown flag", args: []string{"service", "stop", "--force"}, wantCode: exitUsage, wantErr: "unknown flag --force"},
		{name: "install", args: []string{"service", "install", "--config", "/etc/ts.conf"}, conflicts: chrony,
			wantCalls: []string{"install"}, wantOut: "note: chronyd (pid 42) is running"},
		{name: "install not root", args: []string{"service", "install"}, euid: 1000,
			wantCode: exitFail, wantErr: "needs root: run it with sudo"},
		{name: "start", args: []string{"service", "start"}, wantCalls: []string{"start"}, wantOut: "started the timesync service"},
		{name: "stop", args: []string{"service", "stop"}, wantCalls: []string{"stop"}, wantOut: "stopped"},
		{name: "restart", args: []string{"service", "restart"}, wantCalls: []string{"restart"}, wantOut: "restarted"},
		{name: "uninstall", args: []string{"service", "uninstall"}, wantCalls: []string{"uninstall"}, wantOut: "uninstalled"},
		{name: "stop not root", args: []string{"service", "stop"}, euid: 1000, wantCode: exitFail, wantErr: "needs root"},
		{name: "start fails", args: []string{"service", "start"}, svc: fakeSystemService{actionErr: errors.New("unit not found")},
			wantCalls: []string{"start"}, wantCode: exitFail, wantErr: "service start: unit not found"},
		{name: "status running", args: []string{"service", "status"}, euid: 1000, svc: fakeSystemService{status: kservice.StatusRunning},
			conflicts: chrony, wantCalls: []string{"status"}, wantOut: "warning: chronyd (pid 42)"},
		{name: "status stopped", args: []string{"service", "status"}, svc: fakeSystemService{status: kservice.StatusStopped},
			wantCalls: []string{"status"}, wantCode: exitFail, wantErr: "installed but stopped; start it with 'timesync service start'"},
		{name: "status not installed", args: []string{"service", "status"}, svc: fakeSystemService{statusErr: kservice.ErrNotInstalled},
			wantCalls: []string{"status"}, wantCode: exitFail, wantErr: "not installed; install it with 'timesync service install'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			fakeService = tt.svc
			fakeService.calls = &calls
			fakeConflicts = tt.conflicts
			fakeEUID = tt.euid
			installedConfig = nil
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if !reflect.DeepEqual(calls, tt.wantCalls) {
				t.Errorf("service manager calls %q, want %q", calls, tt.wantCalls)
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout %q, want it to contain %q", stdout.String(), tt.wantOut)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.wantErr)
			}
			if tt.wantErr != "" && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr %q: want one line", stderr.String())
			}
		})
	}
}

func TestServiceInstallArguments(t *testing.T) {
	var calls []string
	fakeService = fakeSystemService{calls: &calls}
	fakeEUID = 0
	var stdout, stderr bytes.Buffer
	if code := run([]string{"service", "install", "--config", "/srv/time.conf"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if installedConfig == nil {
		t.Fatal("nothing installed")
	}
	want := []string{"service", "run", "--config", "/srv/time.conf"}
	if !reflect.DeepEqual(installedConfig.Arguments, want) {
		t.Errorf("arguments %q, want %q", installedConfig.Arguments, want)
	}
	if installedConfig.Executable == "" {
		t.Error("no executable registered")
	}
}
