//go:build linux && !race && !msan && !asan

package rawio

import (
	"os/exec"
	"testing"
	"time"
)

// waitReadable waits on the thread for data that comes, and not past its
// deadline for data that does not.
func TestWaitReadable(t *testing.T) {
	a, b := pair(t)
	rc, err := b.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	wait := func(d time.Duration) (ok bool, took time.Duration) {
		start := time.Now()
		if err := rc.Control(func(fd uintptr) { ok = waitReadable(fd, start.Add(d)) }); err != nil {
			t.Fatal(err)
		}
		return ok, time.Since(start)
	}
	if ok, took := wait(30 * time.Millisecond); ok || took < 30*time.Millisecond {
		t.Errorf("nothing to read: %v after %v, want false after 30ms", ok, took)
	}
	// The writer is another process: this thread holds the P it waits on.
	f, err := a.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("sh", "-c", "sleep 0.01; printf x")
	cmd.Stdout = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	if ok, took := wait(10 * time.Second); !ok || took > 5*time.Second {
		t.Errorf("data after 10ms: %v after %v, want true", ok, took)
	}
}
