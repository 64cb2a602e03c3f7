package tray

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// InstancePath is where the running tray listens for a second launch:
// $XDG_RUNTIME_DIR/timesync-gui.sock, else the temp dir with the user's
// id in the name.
func InstancePath() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "timesync-gui.sock")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("timesync-gui-%d.sock", os.Getuid()))
}

// ErrRunning is returned by Listen when another instance answers.
var ErrRunning = errors.New("timesync-gui is already running")

// Instance is the single-instance listener.
type Instance struct {
	ln   net.Listener
	path string
}

// Listen makes this process the one instance at path: a second launch
// connects there and hands over its request (see Send). A stale socket
// (nobody answering) is replaced.
func Listen(path string) (*Instance, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, ErrRunning
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	os.Chmod(path, 0o600)
	return &Instance{ln: ln, path: path}, nil
}

// Serve calls f with each request ("status", "settings", "show") until
// Close.
func (in *Instance) Serve(f func(req string)) {
	for {
		c, err := in.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			if req := strings.TrimSpace(line); req != "" {
				f(req)
			}
			fmt.Fprintln(c, "ok")
		}()
	}
}

// Close stops listening and removes the socket.
func (in *Instance) Close() {
	in.ln.Close()
	os.Remove(in.path)
}

// Send hands req to the running instance at path.
func Send(path, req string) error {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(c, req); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}
