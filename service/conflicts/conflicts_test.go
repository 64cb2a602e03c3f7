package conflicts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// fakeProc writes a /proc-like tree: pid → comm and NUL-separated cmdline.
func fakeProc(t *testing.T, procs map[string][2]string) string {
	t.Helper()
	root := t.TempDir()
	for pid, pc := range procs {
		dir := filepath.Join(root, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if pc[0] != "" {
			if err := os.WriteFile(filepath.Join(dir, "comm"), []byte(pc[0]+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cmdline := strings.ReplaceAll(pc[1], " ", "\x00") + "\x00"
		if err := os.WriteFile(filepath.Join(dir, "cmdline"), []byte(cmdline), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestDetectFromProc(t *testing.T) {
	root := fakeProc(t, map[string][2]string{
		"1":    {"systemd", "/sbin/init"},
		"77":   {"systemd-timesyn", "/lib/systemd/systemd-timesyncd"},
		"100":  {"chronyd", "/usr/sbin/chronyd -F 1"},
		"101":  {"chronyd", "/tmp/chronyd -d -x -f /tmp/c.conf"}, // -x: never touches the clock
		"102":  {"chronyd", "/tmp/chronyd -dx -f /tmp/c.conf"},   // grouped
		"103":  {"chronyd", "/tmp/chronyd -f /tmp/x -- -x"},      // after --: not an option
		"300":  {"ntpd", "/usr/sbin/ntpd -p /run/ntpd.pid -g -u 105:109"},
		"400":  {"timesync", "timesync service run"},
		"500":  {"ntpd", "ntpd"}, // ourselves (Self), whatever the name
		"600":  {"", ""},         // vanished: no comm
		"self": {"bash", "bash"}, // not a PID
	})
	d := Detector{Processes: ProcFS{Root: root}.Processes, Self: 500, GOOS: "linux"}
	got, err := d.Detect(context.Background())
	if err != nil {
		t.Fatalf("Detect: %v", err)
	}
	var names []string
	for _, c := range got {
		names = append(names, c.Name+":"+strconv.Itoa(c.PID))
		if c.Line == "" {
			t.Errorf("conflict %s has no line", c.Name)
		}
	}
	want := []string{"chronyd:100", "chronyd:103", "ntpd:300", "systemd-timesyncd:77"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("conflicts = %q, want %q", names, want)
	}
	for _, c := range got {
		if c.PID == 77 && !strings.Contains(c.Line, "systemctl disable --now systemd-timesyncd") {
			t.Errorf("line %q: want the command that stops it", c.Line)
		}
		if c.PID == 77 && !strings.Contains(c.Line, "pid 77") {
			t.Errorf("line %q: want the pid", c.Line)
		}
	}
}

func TestDetectServices(t *testing.T) {
	errSCM := errors.New("access denied")
	tests := []struct {
		name    string
		running func(ctx context.Context, name string) (bool, error)
		want    []string
		wantErr bool
	}{
		{"w32time running", func(_ context.Context, n string) (bool, error) { return n == "W32Time", nil }, []string{"w32time"}, false},
		{"w32time stopped", func(context.Context, string) (bool, error) { return false, nil }, nil, false},
		{"scm error", func(context.Context, string) (bool, error) { return false, errSCM }, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Detector{ServiceRunning: tt.running, GOOS: "windows", Self: 1}.Detect(context.Background())
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
			var names []string
			for _, c := range got {
				names = append(names, c.Name)
				if !strings.Contains(c.Line, "sc.exe stop w32time") {
					t.Errorf("line %q: want how to stop it", c.Line)
				}
			}
			if !reflect.DeepEqual(names, tt.want) {
				t.Errorf("conflicts = %q, want %q", names, tt.want)
			}
		})
	}
}

func TestDetectMacTimed(t *testing.T) {
	d := Detector{Processes: func(context.Context) ([]Process, error) {
		return []Process{{PID: 120, Comm: "timed"}, {PID: 1, Comm: "launchd"}}, nil
	}, GOOS: "darwin", Self: 9}
	got, err := d.Detect(context.Background())
	if err != nil || len(got) != 1 || got[0].Name != "timed" || !strings.Contains(got[0].Line, "Date & Time") {
		t.Errorf("Detect = %+v, %v; want timed with the System Settings advice", got, err)
	}
}

func TestDetectKeepsFoundOnError(t *testing.T) {
	d := Detector{Processes: func(context.Context) ([]Process, error) {
		return []Process{{PID: 5, Comm: "chronyd"}}, errors.New("partial read")
	}, Self: 1}
	got, err := d.Detect(context.Background())
	if err == nil || len(got) != 1 {
		t.Errorf("Detect = %+v, %v; want chronyd and the error", got, err)
	}
}

func TestHasFlag(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"chronyd", "-x"}, true},
		{[]string{"chronyd", "-dx"}, true},
		{[]string{"chronyd", "-f", "/x.conf"}, false},
		{[]string{"chronyd", "--", "-x"}, false},
		{[]string{"-x"}, false}, // argv[0] only
		{[]string{"chronyd", "--max"}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := hasFlag(tt.args, 'x'); got != tt.want {
			t.Errorf("hasFlag(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

// TestSystemReadsThisMachine reads the real process table (read-only) and
// checks that it finds this very process.
func TestSystemReadsThisMachine(t *testing.T) {
	d := System()
	if d.Processes == nil {
		t.Skip("no process table reader on this OS")
	}
	procs, err := d.Processes(context.Background())
	if err != nil {
		t.Fatalf("Processes: %v", err)
	}
	for _, p := range procs {
		if p.PID == os.Getpid() {
			return
		}
	}
	t.Errorf("%d processes listed, none is this one (pid %d)", len(procs), os.Getpid())
}
