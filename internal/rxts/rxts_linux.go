package rxts

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	sockopt = unix.SO_TIMESTAMPNS
	msgType = unix.SCM_TIMESTAMPNS
)

var payloadLen = int(unsafe.Sizeof(unix.Timespec{}))

func decode(b []byte) time.Time {
	ts := (*unix.Timespec)(unsafe.Pointer(&b[0]))
	return time.Unix(int64(ts.Sec), int64(ts.Nsec))
}
