//go:build unix

package privsep

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReachable(t *testing.T) {
	dir, err := os.MkdirTemp("", "reach-") // in /tmp, which everyone may search
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	exe := filepath.Join(dir, "sub", "timesync")
	os.MkdirAll(filepath.Dir(exe), 0o755)
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.Chmod(dir, 0o700)
	other := User{Name: "other", UID: 54321, GID: 54321}
	if os.Getuid() != 54321 && Reachable(exe, other) {
		t.Errorf("%s reachable through a 0700 directory", exe)
	}
	os.Chmod(dir, 0o711)
	if !Reachable(exe, other) {
		t.Errorf("%s not reachable through 0711 and 0755 directories", exe)
	}
	os.Chmod(exe, 0o700)
	if os.Getuid() != 54321 && Reachable(exe, other) {
		t.Errorf("a 0700 file counted as executable by another user")
	}
	os.Chmod(exe, 0o755)
	cp, err := CopyExecutable(exe, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(cp); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("copy %s: %v %v", cp, st, err)
	}
}
