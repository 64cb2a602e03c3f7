package privsep

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// polled returns what the descriptors registered in any epoll instance of
// this process (the Go runtime's poller among them) point to ("socket:[N]",
// so that a duplicate of a descriptor counts as it), from
// /proc/self/fdinfo.
func polled(t *testing.T) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	out := map[string]bool{}
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l != "anon_inode:[eventpoll]" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(info), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "tfd:" {
				if _, err := strconv.Atoi(f[1]); err == nil {
					out[target(f[1])] = true
				}
			}
		}
	}
	return out
}

// target is what this process's descriptor fd points to.
func target(fd string) string {
	l, _ := os.Readlink("/proc/self/fd/" + fd)
	return l
}

// TestSplitRepliesNotPolled: the parent's end of the replies' socket is
// never in the runtime's poller (that is the point of ServeSplit: a
// polled socket wakes the parent each time the engine reads a reply),
// while the requests' socket is.
func TestSplitRepliesNotPolled(t *testing.T) {
	f := newSplitFixture(t)
	r := f.remote(t)
	for range 3 {
		if err := r.Driver().SetFrequency(1); err != nil {
			t.Fatal(err)
		}
	}
	rc, err := f.parentConn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var reqFD int
	rc.Control(func(fd uintptr) { reqFD = int(fd) })
	p := polled(t)
	if req := target(strconv.Itoa(reqFD)); !p[req] {
		t.Fatalf("the requests' socket (%s) is not in any epoll set (%v): the check below proves nothing", req, p)
	}
	if rep := target(strconv.Itoa(f.parentRep)); rep == "" || p[rep] {
		t.Errorf("the parent's end of the replies' socket (fd %d, %q) is in the runtime's poller", f.parentRep, rep)
	}
}
