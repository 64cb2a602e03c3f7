//go:build !linux && !darwin

package ntpclient

// rxts_other.go: no kernel receive timestamps; the answer is timestamped
// when it is read.

import (
	"net"
	"time"
)

const oobSize = 0

func enableRxTimestamps(*net.UDPConn) bool { return false }

func rxTimestamp([]byte) (time.Time, bool) { return time.Time{}, false }
