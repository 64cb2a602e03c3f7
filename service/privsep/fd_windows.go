package privsep

import (
	"errors"
	"io"
	"net"
	"os"
)

// Privilege separation is for Linux and macOS; on Windows the service
// runs in one process (see README.md).

const syscallNoFollow = 0

func writeFrameFD(*net.UnixConn, []byte, *os.File) error {
	return errors.New("privsep: no descriptor passing on Windows")
}

func setNonblock(int) error { return errors.New("privsep: no reply socket on Windows") }

func writeFrameRaw(int, []byte, []int) error {
	return errors.New("privsep: no reply socket on Windows")
}

func readFrameFDs(*net.UnixConn) ([]byte, []*os.File, error) {
	return nil, nil, errors.New("privsep: no descriptor passing on Windows")
}

func fileOwner(*os.File) (uint32, bool) { return 0, false }

func quiet(c *net.UnixConn) io.ReadWriter { return c }
