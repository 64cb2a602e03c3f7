package socket

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// pipeSDDL is the named pipe's security descriptor:
//   - D:P — a protected DACL (nothing inherited);
//   - (D;;GA;;;NU) — network logons are denied: the API is local only;
//   - (A;;GA;;;SY), (A;;GA;;;BA) — LocalSystem (the service) and
//     Administrators have full access;
//   - (A;;0x120183;;;AU) — authenticated users may read and write the
//     pipe (FILE_READ_DATA|FILE_WRITE_DATA|FILE_READ_ATTRIBUTES|
//     FILE_WRITE_ATTRIBUTES|READ_CONTROL|SYNCHRONIZE), so the tray app can
//     read the status, but not FILE_CREATE_PIPE_INSTANCE: nobody else can
//     serve instances of this pipe.
//
// What a connection may change is decided per request from the client's
// token (service/control), not by this descriptor.
const pipeSDDL = "D:P(D;;GA;;;NU)(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x120183;;;AU)"

// Listen creates the named pipe at path (e.g. \\.\pipe\timesync). The
// first instance is created with FILE_FLAG_FIRST_PIPE_INSTANCE, so Listen
// fails with ErrInUse while another service holds the name; a pipe
// disappears with its last handle, so there is never a stale one.
func Listen(path string) (net.Listener, error) {
	ln, err := winio.ListenPipe(path, &winio.PipeConfig{SecurityDescriptor: pipeSDDL})
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_PIPE_BUSY) {
			return nil, fmt.Errorf("control pipe %s: %w", path, ErrInUse)
		}
		return nil, fmt.Errorf("control pipe %s: %w", path, err)
	}
	return ln, nil
}

// Connect opens the named pipe at path, allowing the service to identify
// (not impersonate) the caller's token. When no service holds the pipe
// the error wraps ErrNotRunning.
func Connect(ctx context.Context, path string) (net.Conn, error) {
	c, err := winio.DialPipeAccessImpLevel(ctx, path, windows.GENERIC_READ|windows.GENERIC_WRITE, winio.PipeImpLevelIdentification)
	if err != nil {
		if errors.Is(err, windows.ERROR_FILE_NOT_FOUND) || errors.Is(err, windows.ERROR_PATH_NOT_FOUND) {
			return nil, fmt.Errorf("%w at %s: %w", ErrNotRunning, path, err)
		}
		return nil, err
	}
	return c, nil
}
