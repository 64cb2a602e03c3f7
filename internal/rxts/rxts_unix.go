//go:build linux || darwin

package rxts

import (
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Supported reports whether this OS gives receive timestamps.
const Supported = true

// OOBSize holds one timestamp control message: the size of the buffer a
// receive needs for it.
var OOBSize = unix.CmsgSpace(payloadLen)

// Enable asks the kernel to timestamp every datagram c receives, and
// reports whether it will.
func Enable(c *net.UDPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, sockopt, 1)
	}); err != nil || serr != nil {
		return false
	}
	return true
}

// Parse finds the timestamp message in oob (the control data of one
// receive), without allocating: it is on the server's packet path.
func Parse(oob []byte) (time.Time, bool) {
	for len(oob) >= unix.CmsgLen(0) {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.CmsgLen(0) || l > len(oob) {
			return time.Time{}, false
		}
		if h.Level == unix.SOL_SOCKET && int(h.Type) == msgType && l >= unix.CmsgLen(payloadLen) {
			return decode(oob[unix.CmsgLen(0):]), true
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return time.Time{}, false
}
