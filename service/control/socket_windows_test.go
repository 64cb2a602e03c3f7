package control

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
)

var pipeSeq atomic.Int64

func testSocketPath(*testing.T) string {
	return fmt.Sprintf(`\\.\pipe\timesync-test-%d-%d`, os.Getpid(), pipeSeq.Add(1))
}
