package gui

import (
	"context"
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/timesync/timesync/gui/model"
	"github.com/timesync/timesync/service/control/client"
)

// L is lang.L with the app's translations loaded.
func L(s string, data ...any) string {
	model.LoadTranslations()
	return langL(s, data...)
}

// Deps is what the windows need from outside; tests pass fakes.
type Deps struct {
	// App makes the windows (the GL app in cmd/timesync-gui, fyne's
	// test app in tests).
	App fyne.App
	// Client talks to the service.
	Client *client.Client
	// Tester queries a time server from this process (Settings → Test);
	// nil: NTPTester.
	Tester Tester
	// Elevate runs a change with the OS's elevation (pkexec, the
	// administrator prompt, UAC); nil: Elevator{}.Run.
	Elevate func(Elevation) error
	// Autostart reads and sets "start at login"; nil: the user's own.
	Autostart Autostart
	// LocalNetworks lists this machine's networks for the "serve my
	// local network" preset; nil: from the interfaces.
	LocalNetworks func() []string
	// Now is the wall clock (for "12 s ago"); nil: time.Now.
	Now func() time.Time
	// Location shows times on the plot's axis; nil: time.Local.
	Location *time.Location
	// Synchronous runs API calls on the caller's goroutine (tests);
	// otherwise they run in the background and their results are shown
	// through fyne.Do.
	Synchronous bool
}

// UI is the window process's state: the windows it has open.
type UI struct {
	d        Deps
	status   *StatusWindow
	settings *SettingsWindow
	// Notice is shown at the top of the status window when set before
	// it opens (e.g. why there is no tray icon).
	Notice string
}

// New returns a UI with d's defaults filled in.
func New(d Deps) *UI {
	model.LoadTranslations()
	if d.Tester == nil {
		d.Tester = NTPTester{}
	}
	if d.Elevate == nil {
		d.Elevate = Elevator{}.Run
	}
	if d.Autostart == nil {
		d.Autostart = UserAutostart()
	}
	if d.LocalNetworks == nil {
		d.LocalNetworks = InterfaceNetworks
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Location == nil {
		d.Location = time.Local
	}
	return &UI{d: d}
}

// bg runs work off the UI thread and then done on it (both at once when
// Synchronous).
func (u *UI) bg(work func(), done func()) {
	if u.d.Synchronous {
		work()
		done()
		return
	}
	go func() {
		work()
		fyne.Do(done)
	}()
}

// ctx is the context of one API call.
func (u *UI) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 15*time.Second)
}

// Apply hands an update from the watch to the open windows (on the UI
// thread).
func (u *UI) Apply(up model.Update) {
	if u.status != nil {
		u.status.Update(up.Status, up.Err)
	}
	if u.settings != nil && up.Config != nil {
		u.settings.SetConfig(up.Config)
	}
}

// Windows reports how many windows are open.
func (u *UI) Windows() int {
	n := 0
	if u.status != nil {
		n++
	}
	if u.settings != nil {
		n++
	}
	return n
}

// errorText is a label in the theme's error colour, empty until set;
// it stands next to the field it concerns.
type errorText struct {
	widget.Label
	// onChange lays the window out again (a shown or hidden error
	// changes the heights around it).
	onChange func()
}

func newErrorText() *errorText {
	e := &errorText{}
	e.ExtendBaseWidget(e)
	e.Importance = widget.DangerImportance
	e.Wrapping = fyne.TextWrapWord
	e.Hide()
	return e
}

func (e *errorText) Set(s string) {
	if s == e.Text && e.Visible() == (s != "") {
		return
	}
	e.SetText(s)
	if s == "" {
		e.Hide()
	} else {
		e.Show()
	}
	if e.onChange != nil {
		e.onChange()
	}
}

// relayout lays o out again if it is a container, and the containers in
// it, top down, without refreshing what they hold: Container.Refresh
// refreshes every object in it as well, and each refreshed text is
// measured, shaped and drawn into a new texture again — for the status
// window's content, every text of the window because one label was
// shown. Objects that move or change size are redrawn (fyne marks the
// canvas dirty when a widget or container moves, and a widget lays
// itself out when its size changes).
func relayout(o fyne.CanvasObject) {
	c, ok := o.(*fyne.Container)
	if !ok || !c.Visible() {
		return
	}
	if c.Layout != nil {
		c.Layout.Layout(c.Objects, c.Size())
	}
	for _, child := range c.Objects {
		relayout(child)
	}
}

// swatch is a small filled rectangle for legends.
func swatch(c color.Color) fyne.CanvasObject {
	r := canvas.NewRectangle(c)
	r.SetMinSize(fyne.NewSize(12, 12))
	return r
}

func bold(s string) *widget.Label {
	return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
}

// mono is a value's label. It uses the regular face, not fyne's
// monospace one: every text style fyne uses loads its own copy of the
// emoji and fallback fonts (about 8 MB each), and the window process
// is meant to stay small.
func mono(s string) *widget.Label {
	return widget.NewLabel(s)
}

var _ = theme.Padding
