package rxts

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	sockopt = unix.SO_TIMESTAMP
	msgType = unix.SCM_TIMESTAMP
)

var payloadLen = int(unsafe.Sizeof(unix.Timeval{}))

func decode(b []byte) time.Time {
	tv := (*unix.Timeval)(unsafe.Pointer(&b[0]))
	return time.Unix(int64(tv.Sec), int64(tv.Usec)*1000)
}
