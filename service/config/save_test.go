package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestSaveNewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "timesync.conf")
	c := parseOK(t, office)
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o644 && runtime.GOOS != "windows" {
		t.Errorf("new file mode %v, want 0644", got)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(exported(back), exported(c)) {
		t.Errorf("Load(Save(c)) = %+v, want %+v", exported(back), exported(c))
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "# The office LAN.") {
		t.Errorf("saved file lost its comments:\n%s", data)
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{"timesync.conf"}) {
		t.Errorf("directory holds %v, want only timesync.conf", got)
	}
}

func TestSaveKeepsModeAndFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.conf")
	if err := os.WriteFile(target, []byte("server 192.0.2.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "timesync.conf")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symlinks here:", err)
	}
	c, err := Load(link)
	if err != nil {
		t.Fatal(err)
	}
	c.Servers[0].IBurst = true
	if err := Save(link, c); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symbolic link was replaced: %v %v", fi.Mode(), err)
	}
	st, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o640 && runtime.GOOS != "windows" {
		t.Errorf("mode after save %v, want 0640 kept", got)
	}
	if data, _ := os.ReadFile(target); string(data) != "server 192.0.2.1 iburst\n" {
		t.Errorf("target holds %q", data)
	}
}

func TestSaveCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etc", "timesync", "timesync.conf")
	if err := Save(path, Default()); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil || !reflect.DeepEqual(exported(c), exported(Default())) {
		t.Errorf("Load after Save into a new directory = %+v, %v", c, err)
	}
}

func TestSaveRefusesInvalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "timesync.conf")
	c := &Config{Servers: []Server{{Address: "a.example", MinPoll: 30}}}
	err := Save(path, c)
	if err == nil || !strings.Contains(err.Error(), "minpoll: 30 is out of range") {
		t.Errorf("Save of an invalid config: %v, want the validation error", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file was written: %v", err)
	}
}

// failingFile wraps a real temp file and makes one step fail.
type failingFile struct {
	*os.File
	failWrite, failSync, failClose bool
}

var errInjected = errors.New("injected failure")

func (f *failingFile) Write(b []byte) (int, error) {
	if f.failWrite {
		n, _ := f.File.Write(b[:len(b)/2]) // a partial write, as a full disk does
		return n, errInjected
	}
	return f.File.Write(b)
}

func (f *failingFile) Sync() error {
	if f.failSync {
		return errInjected
	}
	return f.File.Sync()
}

func (f *failingFile) Close() error {
	err := f.File.Close()
	if f.failClose {
		return errInjected
	}
	return err
}

func TestSaveFailureLeavesOldFile(t *testing.T) {
	const old = "# old\nserver 192.0.2.1\n"
	newData := parseOK(t, office).Format()
	tests := []struct {
		name   string
		file   failingFile
		rename func(string, string) error
	}{
		{name: "write", file: failingFile{failWrite: true}},
		{name: "sync", file: failingFile{failSync: true}},
		{name: "close", file: failingFile{failClose: true}},
		{name: "rename", rename: func(string, string) error { return errInjected }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "timesync.conf")
			if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
				t.Fatal(err)
			}
			fsys := osFS
			fsys.createTemp = func(dir, pattern string) (tempFile, error) {
				f, err := os.CreateTemp(dir, pattern)
				if err != nil {
					return nil, err
				}
				ff := tt.file
				ff.File = f
				return &ff, nil
			}
			if tt.rename != nil {
				fsys.rename = tt.rename
			}
			err := writeAtomic(fsys, path, newData)
			if !errors.Is(err, errInjected) {
				t.Fatalf("writeAtomic error %v, want the injected failure", err)
			}
			if data, _ := os.ReadFile(path); string(data) != old {
				t.Errorf("old file changed to %q", data)
			}
			if got := listDir(t, dir); !reflect.DeepEqual(got, []string{"timesync.conf"}) {
				t.Errorf("directory holds %v after a failed save, want the temp file removed", got)
			}
		})
	}
}

func TestSaveDirSyncFailureReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "timesync.conf")
	fsys := osFS
	fsys.syncDir = func(string) error { return errInjected }
	err := writeAtomic(fsys, path, []byte("minsources 2\n"))
	if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "saved, but") {
		t.Errorf("error %v, want the directory sync failure reported", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "minsources 2\n" {
		t.Errorf("file holds %q, want the new content", data)
	}
}

func TestSaveRefusesDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := writeAtomic(osFS, dir, []byte("x")); err == nil {
		t.Error("saving over a directory succeeded")
	}
}

func TestRenameRetry(t *testing.T) {
	permErr := &fs.PathError{Op: "rename", Path: "x", Err: fs.ErrPermission}
	tests := []struct {
		name      string
		fails     []error // results of successive renames; then success
		wantCalls int
		wantErr   error
	}{
		{"first try", nil, 1, nil},
		{"transient permission", []error{permErr, permErr}, 3, nil},
		{"permanent permission", []error{permErr, permErr, permErr, permErr, permErr, permErr}, 5, fs.ErrPermission},
		{"other error not retried", []error{fs.ErrNotExist}, 1, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			var slept []time.Duration
			rename := func(string, string) error {
				calls++
				if calls <= len(tt.fails) {
					return tt.fails[calls-1]
				}
				return nil
			}
			err := renameRetry(rename, func(d time.Duration) { slept = append(slept, d) }, 5, "a", "b")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if calls != tt.wantCalls {
				t.Errorf("rename called %d times, want %d", calls, tt.wantCalls)
			}
			if len(slept) != max(calls-1, 0) {
				t.Errorf("slept %d times for %d calls, want one sleep between tries", len(slept), calls)
			}
		})
	}
}
