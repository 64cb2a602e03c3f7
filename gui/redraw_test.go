package gui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"

	"github.com/timesync/timesync/service/control"
)

// refreshes records every canvas.Refresh made through the current app:
// what makes the GL painter draw an object's texture again. (fyne's test
// canvas ignores them.)
type refreshes struct{ objs []fyne.CanvasObject }

type recApp struct {
	fyne.App
	d fyne.Driver
}

func (a *recApp) Driver() fyne.Driver { return a.d }

type recDriver struct {
	fyne.Driver
	log *refreshes
}

func (d *recDriver) CanvasForObject(o fyne.CanvasObject) fyne.Canvas {
	c := d.Driver.CanvasForObject(o)
	if c == nil {
		return nil
	}
	return &recCanvas{Canvas: c, log: d.log}
}

type recCanvas struct {
	fyne.Canvas
	log *refreshes
}

func (c *recCanvas) Refresh(o fyne.CanvasObject) {
	c.log.objs = append(c.log.objs, o)
	c.Canvas.Refresh(o)
}

// recordRefreshes starts recording (until the test ends).
func recordRefreshes(t *testing.T) *refreshes {
	orig := fyne.CurrentApp()
	log := &refreshes{}
	fyne.SetCurrentApp(&recApp{App: orig, d: &recDriver{Driver: orig.Driver(), log: log}})
	t.Cleanup(func() { fyne.SetCurrentApp(orig) })
	return log
}

// tree returns o and everything drawn as part of it.
func tree(o fyne.CanvasObject, into map[fyne.CanvasObject]bool) map[fyne.CanvasObject]bool {
	into[o] = true
	switch v := o.(type) {
	case *fyne.Container:
		for _, c := range v.Objects {
			tree(c, into)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(v).Objects() {
			tree(c, into)
		}
	}
	return into
}

// The status window draws nothing again for a status that changes
// nothing it shows, and only the changed texts for one that does.
func TestStatusWindowRedrawsOnlyWhatChanged(t *testing.T) {
	h := newHarness(t, stSynced, nil)
	h.history()
	s := h.ui.ShowStatus()
	// What a new offset may redraw: the status line and the Offset
	// field; not the other fields, the sources table or the plot. (Walk
	// the window before recording: the walk makes renderers.)
	others := map[fyne.CanvasObject]bool{}
	tree(s.win.Content(), others)
	mine := tree(s.line, map[fyne.CanvasObject]bool{})
	tree(s.fields["Offset"], mine)
	for o := range others {
		if _, isContainer := o.(*fyne.Container); isContainer || mine[o] {
			delete(others, o)
		}
	}
	log := recordRefreshes(t)

	same := stSynced
	for range 3 {
		h.ui.Apply(modelUpdate(&same, nil))
	}
	if len(log.objs) != 0 {
		t.Errorf("an unchanged status refreshed %d objects (first %T)", len(log.objs), log.objs[0])
	}

	next := stSynced
	next.OffsetSeconds = 0.000415
	h.ui.Apply(modelUpdate(&next, nil))
	if len(log.objs) == 0 {
		t.Fatal("a new offset refreshed nothing")
	}
	for _, o := range log.objs {
		if others[o] {
			t.Errorf("a new offset refreshed %T %q, outside the status line and the Offset field", o, describe(o))
		}
	}
	if len(log.objs) > 12 {
		t.Errorf("a new offset refreshed %d objects, want a few (two labels' texts)", len(log.objs))
	}
	t.Logf("a new offset refreshed %d objects", len(log.objs))

	// A source's offset grows a digit: its column of the sources table
	// is laid out again (its cells are resized, so redrawn); the other
	// columns only move.
	col := map[fyne.CanvasObject]bool{}
	for i, o := range s.sources.Objects {
		if i%len(sourceColumns) == 6 { // Offset
			tree(o, col)
		}
	}
	log.objs = nil
	wider := next
	wider.Sources = append([]control.Source(nil), next.Sources...)
	wider.Sources[1].OffsetSeconds = 0.0123
	h.ui.Apply(modelUpdate(&wider, nil))
	if len(log.objs) == 0 {
		t.Fatal("a new source offset refreshed nothing")
	}
	for _, o := range log.objs {
		if !col[o] {
			t.Errorf("a source's new offset refreshed %T %q, outside its column", o, describe(o))
		}
	}
	t.Logf("a wider source offset refreshed %d objects", len(log.objs))
}

func describe(o fyne.CanvasObject) string {
	if t, ok := o.(*canvas.Text); ok {
		return t.Text
	}
	return ""
}
