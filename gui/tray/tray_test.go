package tray

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timesync/timesync/gui/model"
	"github.com/timesync/timesync/service/control"
)

type recSurface struct{ calls []string }

func (r *recSurface) SetIcon(k model.Kind, dark bool) {
	if dark {
		r.calls = append(r.calls, "dark icon "+k.String())
		return
	}
	r.calls = append(r.calls, "icon "+k.String())
}
func (r *recSurface) SetTitle(s string)      { r.calls = append(r.calls, "title") }
func (r *recSurface) SetTooltip(s string)    { r.calls = append(r.calls, "tooltip") }
func (r *recSurface) SetStatusLine(s string) { r.calls = append(r.calls, "line "+s) }
func (r *recSurface) SetSyncEnabled(on bool) { r.calls = append(r.calls, "sync") }

func TestPainterDrawsOnlyChanges(t *testing.T) {
	os.Setenv("LANGUAGE", "en")
	r := &recSurface{}
	p := painter{s: r}
	ls := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := &control.Status{State: "synchronized", OffsetSeconds: 0.0004, Reference: "a", LastSync: &ls, Updates: 1,
		Sources: []control.Source{{Address: "a", State: "selected", Stratum: 2}, {Address: "b", State: "candidate"}}}
	p.apply(model.Tray(st, nil))
	if len(r.calls) != 5 {
		t.Fatalf("first draw: got %v, want all 5 parts", r.calls)
	}
	r.calls = nil
	for i := 0; i < 10; i++ {
		same := *st
		p.apply(model.Tray(&same, nil))
	}
	if len(r.calls) != 0 {
		t.Errorf("unchanged status redrew %v", r.calls)
	}
	st2 := *st
	st2.OffsetSeconds = 0.0009
	p.apply(model.Tray(&st2, nil))
	if len(r.calls) != 2 || r.calls[0] != "tooltip" || r.calls[1] != "line Synchronized · +900.0 µs · a (stratum 2)" {
		// title unchanged; tooltip and status line changed
		t.Errorf("offset change drew %v", r.calls)
	}
	r.calls = nil
	p.apply(model.Tray(nil, errors.New("gone")))
	if r.calls[0] != "icon unreachable" {
		t.Errorf("service gone drew %v", r.calls)
	}
}

func TestPainterFollowsThePanelTheme(t *testing.T) {
	r := &recSurface{}
	p := painter{s: r}
	p.setDark(true) // before the first draw: nothing to redraw yet
	if len(r.calls) != 0 {
		t.Fatalf("theme before the first draw drew %v", r.calls)
	}
	p.apply(model.Tray(nil, errors.New("gone")))
	if r.calls[0] != "dark icon unreachable" {
		t.Fatalf("first draw on a dark panel: %v", r.calls)
	}
	r.calls = nil
	p.setDark(true)
	if len(r.calls) != 0 {
		t.Errorf("the same theme again drew %v", r.calls)
	}
	p.setDark(false)
	if len(r.calls) != 1 || r.calls[0] != "icon unreachable" {
		t.Errorf("a light panel drew %v, want the light icon alone", r.calls)
	}
}

func TestSingleInstance(t *testing.T) {
	dir, err := os.MkdirTemp("", "in")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "i.sock")
	in, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go in.Serve(func(r string) { got <- r })
	if _, err := Listen(path); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Listen: got %v, want ErrRunning", err)
	}
	if err := Send(path, "status"); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r != "status" {
		t.Errorf("got request %q, want status", r)
	}
	in.Close()
	// A stale socket file is replaced.
	os.WriteFile(path, nil, 0o600)
	in2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale file: %v", err)
	}
	in2.Close()
}

// TestWindowProcessGetsRequestsAndUpdates: the window process is
// started on the first request, gets the latest update first, then
// requests and updates in order on its standard input, and ends when
// the tray closes its input.
func TestWindowProcessGetsRequestsAndUpdates(t *testing.T) {
	out := filepath.Join(t.TempDir(), "stdin")
	wp := &WindowProcess{Log: slog.Default(), Command: func() *exec.Cmd { return exec.Command("sh", "-c", "cat > "+out) }}
	wp.Update(model.Update{Err: errors.New("gone")}) // before any window: kept
	wp.Open("status")
	pid := wp.Running()
	if pid == 0 {
		t.Fatal("no window process after Open")
	}
	wp.Open("settings")
	if wp.Running() != pid {
		t.Error("a second request started a second process")
	}
	wp.Update(model.Update{Status: &control.Status{State: "synchronized"}})
	wp.Close()
	for i := 0; wp.Running() != 0 && i < 500; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if wp.Running() != 0 {
		t.Fatal("the window process outlived its input")
	}
	b, _ := os.ReadFile(out)
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{`update {"err":"gone"}`, "status", "settings", `update {"status":{"state":"synchronized"`}
	if len(got) != 4 {
		t.Fatalf("got lines %q", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("line %d: got %q, want %q…", i, got[i], want[i])
		}
	}
}
