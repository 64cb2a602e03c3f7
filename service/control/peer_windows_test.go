package control

import (
	"context"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/timesync/timesync/service/control/socket"
)

// On Windows: a client of the pipe is identified from its token, and an
// elevated administrator (or LocalSystem) is an administrator. Not run on
// the development machine (Linux); compiled there by scripts/cross.sh.
func TestPipePeerIsThisProcess(t *testing.T) {
	path := fmt.Sprintf(`\\.\pipe\timesync-test-%d`, os.Getpid())
	ln, err := socket.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan *Peer, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		buf := make([]byte, 1)
		c.Read(buf) // the token is known once the client has written
		p, err := peerOf(c)
		if err != nil {
			t.Error(err)
		}
		got <- p
	}()
	c, err := socket.Connect(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte{1})
	p := <-got
	if p == nil {
		t.Fatal("no peer")
	}
	if p.User == "" || len(p.SIDs) == 0 {
		t.Errorf("peer %+v lacks a user or groups", p)
	}
	if want := windows.GetCurrentProcessToken().IsElevated(); p.Admin != want {
		t.Errorf("peer admin %v, this process elevated %v", p.Admin, want)
	}
	if _, err := socket.Listen(path); err == nil {
		t.Error("a second Listen on a held pipe succeeded")
	}
}
