// Package socket is the control API's local transport, in the manner of
// tailscale's safesocket: two exports, Listen for the service and Connect
// for its clients, over a Unix-domain socket on Linux and macOS
// (unix.go) and a named pipe on Windows (pipe_windows.go).
//
// It only moves bytes. Who may do what is decided by the control server
// from the peer's credentials (service/control), never here and never
// from anything the client sends.
package socket

import "errors"

// ErrInUse is returned by Listen when a live service already answers at
// the path.
var ErrInUse = errors.New("another timesync service is already listening there")

// ErrNotRunning wraps Connect's error when nothing listens at the path
// (no socket file or pipe, or a stale socket nobody accepts on).
var ErrNotRunning = errors.New("nothing is listening")
