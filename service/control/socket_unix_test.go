//go:build unix

package control

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/timesync/timesync/service/control/socket"
)

func testSocketPath(t *testing.T) string { return filepath.Join(t.TempDir(), "control.sock") }

func TestPeerCredentialsOfThisProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := socket.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *Peer, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		p, err := peerOf(c)
		if err != nil {
			t.Error(err)
		}
		got <- p
	}()
	c, err := socket.Connect(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := <-got
	if p == nil {
		t.Fatal("no peer")
	}
	if p.UID != uid() || p.PID != pid() || p.Admin != (uid() == 0) {
		t.Errorf("peer %+v, want uid %d pid %d", p, uid(), pid())
	}
}

func TestSocketStaleAndInUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "timesync")
	path := filepath.Join(dir, "control.sock")
	ln, err := socket.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if st := mustStat(t, path); st.Mode().Perm() != 0o666 {
		t.Errorf("socket mode %v, want 0666", st.Mode().Perm())
	}
	if st := mustStat(t, dir); st.Mode().Perm() != 0o755 {
		t.Errorf("directory mode %v, want 0755", st.Mode().Perm())
	}
	if _, err := socket.Listen(path); !errors.Is(err, socket.ErrInUse) {
		t.Errorf("second Listen: got %v, want ErrInUse", err)
	}
	// A stale socket (its listener gone without removing it) is replaced.
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	ln.Close()
	mustStat(t, path)
	if _, err := socket.Connect(context.Background(), path); !errors.Is(err, socket.ErrNotRunning) {
		t.Errorf("Connect to a stale socket: got %v, want ErrNotRunning", err)
	}
	ln2, err := socket.Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln2.Close()
	if _, err := socket.Connect(context.Background(), path); !errors.Is(err, socket.ErrNotRunning) {
		t.Errorf("Connect after close: got %v, want ErrNotRunning", err)
	}
	// A regular file is not touched.
	file := filepath.Join(dir, "file")
	writeFile(t, file)
	if _, err := socket.Listen(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen on a regular file: got %v", err)
	}
}
