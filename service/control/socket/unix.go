//go:build !windows

package socket

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Permissions of the socket and of the directory Listen creates for it.
//
// The socket is 0666 on purpose: every local user may read the status
// (the tray app runs unprivileged), and what a connection may change is
// decided per connection from its peer credentials (SO_PEERCRED,
// LOCAL_PEERCRED) by the control server, not by the file mode. The
// directory is 0755, owned by the service: nobody else can create,
// remove or replace the socket in it.
const (
	socketMode = 0o666
	dirMode    = 0o755
)

// Listen listens on the Unix socket at path. A missing directory is
// created (0755). An existing socket is dialed first: if a service
// answers, Listen fails with ErrInUse; if nobody does (a service that
// died without cleaning up), the stale socket is removed. Anything other
// than a socket at path is left alone and is an error. Closing the
// listener removes the socket.
func Listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return nil, fmt.Errorf("control socket: %w", err)
		}
		// MkdirAll's mode is filtered by the umask; the mode above is
		// the one meant.
		if err := os.Chmod(dir, dirMode); err != nil {
			return nil, fmt.Errorf("control socket: %w", err)
		}
	}
	if st, err := os.Lstat(path); err == nil {
		if st.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("control socket: %s exists and is not a socket; not touching it", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: %w", path, ErrInUse)
		}
		// Only a refused connection proves nobody listens: a timeout or
		// a full backlog (EAGAIN) may be a busy service, whose socket
		// must not be taken from it.
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("control socket %s: cannot tell whether a service is listening (%v); remove it by hand if none is", path, err)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("control socket: removing stale %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, socketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// Connect dials the Unix socket at path. When nothing listens there the
// error wraps ErrNotRunning.
func Connect(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w at %s: %w", ErrNotRunning, path, err)
		}
		return nil, err
	}
	return c, nil
}
