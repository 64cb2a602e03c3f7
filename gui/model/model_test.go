package model

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/timesync/timesync/gui/internal/fakeapi"
	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/control/client"
)

func TestMain(m *testing.M) {
	os.Setenv("LANGUAGE", "en")
	os.Setenv("LC_ALL", "en_US.UTF-8")
	os.Exit(m.Run())
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func synced(off float64) *control.Status {
	ls := t0
	return &control.Status{State: "synchronized", OffsetSeconds: off, Reference: "127.0.0.11:123", Stratum: 3, LastSync: &ls, Updates: 1,
		Sources: []control.Source{{Address: "127.0.0.11:123", Name: "time.example", State: "selected", Stratum: 2},
			{Address: "127.0.0.12:123", State: "candidate", Stratum: 2}}}
}

func TestStatusLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   *control.Status
		err  error
		want string
	}{
		{"synced", synced(0.0004), nil, "Synchronized · +400.0 µs · time.example (stratum 2)"},
		{"step-size", synced(-2.5), nil, "Synchronized · -2.500 s · time.example (stratum 2)"},
		{"unsynced", &control.Status{State: "unsynchronized", ReasonCode: control.ReasonNoReply}, nil, "Not synchronized · No time server answers."},
		{"syncing", &control.Status{State: "syncing", ReasonCode: control.ReasonStarting}, nil, "Synchronizing · Waiting for the first answers from the time servers."},
		{"unreachable", nil, errors.New("x"), "Service not reachable"},
	} {
		if got := StatusLine(tc.st, tc.err); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	deg := synced(0)
	deg.Sources = append(deg.Sources[:1], control.Source{Address: "b", State: "unreachable"}, control.Source{Address: "c", State: "falseticker"})
	for _, tc := range []struct {
		st   *control.Status
		err  error
		want Kind
	}{
		{synced(0), nil, Synchronized},
		{deg, nil, Syncing}, // one usable source of three: degraded
		{&control.Status{State: "syncing"}, nil, Syncing},
		{&control.Status{State: "unsynchronized"}, nil, Unsynchronized},
		{synced(0), errors.New("gone"), Unreachable},
	} {
		if got := Classify(tc.st, tc.err); got != tc.want {
			t.Errorf("Classify(%v, %v): got %v, want %v", tc.st != nil, tc.err, got, tc.want)
		}
	}
}

// TestTrayViewComparable: the same status gives an equal view (so the
// tray does not redraw), a changed offset a different one.
func TestTrayViewComparable(t *testing.T) {
	if Tray(synced(0.0004), nil) != Tray(synced(0.0004), nil) {
		t.Error("equal statuses give different views")
	}
	if Tray(synced(0.0004), nil) == Tray(synced(0.0009), nil) {
		t.Error("a changed offset gives the same view")
	}
}

func TestNotifier(t *testing.T) {
	n := NewNotifier()
	if got := n.Observe(synced(0.001), nil, t0); len(got) != 0 {
		t.Fatalf("first status notified %v", got)
	}
	lost := &control.Status{State: "unsynchronized", ReasonCode: control.ReasonNoReply, Sources: []control.Source{{Address: "127.0.0.11:123", State: "unreachable"}}}
	got := n.Observe(lost, nil, t0.Add(time.Minute))
	if len(got) != 2 || got[0].Kind != "lost" || got[1].Kind != "source" {
		t.Fatalf("loss of sync: got %v, want lost and source", got)
	}
	// Flapping within 10 min: nothing more of those kinds.
	n.Observe(synced(0.001), nil, t0.Add(2*time.Minute))
	if got := n.Observe(lost, nil, t0.Add(3*time.Minute)); len(got) != 0 {
		t.Errorf("flapping notified again: %v", got)
	}
	// A step: the clock corrected by 2 s.
	st := synced(2)
	later := t0.Add(4 * time.Minute)
	st.LastSync = &later
	if got := n.Observe(st, nil, later); len(got) != 1 || got[0].Kind != "step" {
		t.Errorf("step: got %v", got)
	}
	// The service gone: no pop-up (the icon says it).
	if got := n.Observe(nil, errors.New("x"), later); len(got) != 0 {
		t.Errorf("unreachable notified %v", got)
	}
}

// TestFollowReconnects: Follow reports the service going away once and
// picks it up again when it is back, without polling in between.
func TestFollowReconnects(t *testing.T) {
	dir, err := os.MkdirTemp("", "fw")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	api, err := fakeapi.New(dir, *synced(0.0004), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(api.Socket)
	defer c.Close()
	ups := make(chan Update, 100)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		Follow(ctx, c, func(int) time.Duration { return 20 * time.Millisecond }, func(u Update) { ups <- u })
	}()
	next := func() Update {
		select {
		case u := <-ups:
			return u
		case <-time.After(10 * time.Second):
			t.Fatal("no update within 10 s")
		}
		return Update{}
	}
	if u := next(); u.Err != nil || u.Status == nil || u.Status.State != "synchronized" {
		t.Fatalf("first update %+v", u)
	}
	for u := next(); u.Config == nil; u = next() {
	}
	api.Backend().SetStatus(control.Status{State: "unsynchronized", ReasonCode: control.ReasonNoReply})
	if u := next(); u.Status == nil || u.Status.State != "unsynchronized" {
		t.Fatalf("after a change: %+v", u)
	}
	api.Close()
	if u := next(); u.Err == nil {
		t.Fatalf("after the service stopped: %+v, want an error", u)
	}
	// Down: further failed attempts are not reported again.
	time.Sleep(100 * time.Millisecond)
	if len(ups) != 0 {
		t.Errorf("%d more updates while the service stays down", len(ups))
	}
	api2, err := fakeapi.New(dir, *synced(0.0007), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer api2.Close()
	if u := next(); u.Err != nil || u.Status == nil || u.Status.OffsetSeconds != 0.0007 {
		t.Fatalf("after the restart: %+v", u)
	}
	cancel()
	api2.Close()
	wg.Wait()
}

func TestWireUpdate(t *testing.T) {
	for _, u := range []Update{{Status: synced(0.0004)}, {Err: errors.New("the service is gone")}, {Status: synced(1), Config: &control.ConfigInfo{Path: "/etc/timesync/timesync.conf", Version: 3}}} {
		b, err := EncodeUpdate(u)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeUpdate(b)
		if err != nil {
			t.Fatal(err)
		}
		if Tray(got.Status, got.Err) != Tray(u.Status, u.Err) || (got.Config == nil) != (u.Config == nil) {
			t.Errorf("%s: decoded to a different update %+v", b, got)
		}
		if u.Config != nil && got.Config.Version != 3 {
			t.Errorf("config version %d, want 3", got.Config.Version)
		}
	}
}
