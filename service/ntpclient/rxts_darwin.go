package ntpclient

// rxts_darwin.go: kernel receive timestamps (SO_TIMESTAMP, microseconds).

import (
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// oobSize holds one SCM_TIMESTAMP control message.
var oobSize = unix.CmsgSpace(int(unsafe.Sizeof(unix.Timeval{})))

// enableRxTimestamps asks the kernel to timestamp what c receives, and
// reports whether it will.
func enableRxTimestamps(c *net.UDPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMP, 1)
	}); err != nil || serr != nil {
		return false
	}
	return true
}

// rxTimestamp finds the SCM_TIMESTAMP message in oob.
func rxTimestamp(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMP && len(m.Data) >= int(unsafe.Sizeof(unix.Timeval{})) {
			tv := (*unix.Timeval)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(int64(tv.Sec), int64(tv.Usec)*1000).UTC(), true
		}
	}
	return time.Time{}, false
}
