// Package tray is the always-running tray process: a fyne.io/systray
// icon and menu (no fyne app, no GL loop: it costs nothing while idle)
// that follows the service through the control API's watch stream and
// starts the window process (the same binary with --window) on demand.
// What it shows comes from gui/model; this package only wires it to the
// tray, to notifications and to the window process.
package tray

import (
	"context"
	"log/slog"
	"runtime"
	"sync"

	"fyne.io/systray"

	"github.com/timesync/timesync/assets"
	"github.com/timesync/timesync/gui/model"
	"github.com/timesync/timesync/service/control/client"
)

// Options configures Run.
type Options struct {
	Client *client.Client
	// Open asks the window process to show "status" or "settings".
	Open func(which string)
	// Dark picks the icons for a dark panel, whatever FollowTheme says.
	Dark bool
	// FollowTheme, when set (and Dark is not), tells the tray whether the
	// panel is dark, at start and on every change (FollowColorScheme);
	// it reports false when it cannot tell.
	FollowTheme func(ctx context.Context, dark func(bool)) bool
	// Notify shows a desktop notification (nil: none).
	Notify func(title, body string)
	// OnReady is called once the item is set up (tests, --status).
	OnReady func()
	// OnQuit is called when the tray is quitting (end the window process).
	OnQuit func()
	// OnUpdate is called with every update of the watch (to hand on to
	// the window process).
	OnUpdate func(model.Update)
	Log      *slog.Logger
}

// Tray is the running tray.
type Tray struct {
	opt      Options
	paint    painter
	status   *systray.MenuItem
	syncNow  *systray.MenuItem
	statusW  *systray.MenuItem
	settings *systray.MenuItem
	quit     *systray.MenuItem
	notifier *model.Notifier
	cancel   context.CancelFunc
}

// Run shows the tray and blocks until Quit is chosen (or Stop).
func Run(opt Options) {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	t := &Tray{opt: opt, notifier: model.NewNotifier()}
	t.paint.s = sysSurface{t: t}
	t.paint.dark = opt.Dark
	systray.Run(t.ready, t.exit)
}

// Stop quits the tray.
func Stop() { systray.Quit() }

func (t *Tray) ready() {
	model.LoadTranslations()
	v := model.Tray(nil, errNotYet)
	t.status = systray.AddMenuItem(v.StatusLine, "")
	t.status.Disable()
	systray.AddSeparator()
	t.syncNow = systray.AddMenuItem(v.SyncNow, "")
	t.statusW = systray.AddMenuItem(v.StatusItem, "")
	t.settings = systray.AddMenuItem(v.SettingsItem, "")
	systray.AddSeparator()
	t.quit = systray.AddMenuItem(v.QuitItem, "")
	t.apply(v)
	systray.SetOnTapped(func() { t.opt.Open("status") })

	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	go t.clicks(ctx)
	if t.opt.FollowTheme != nil && !t.opt.Dark {
		go func() {
			if !t.opt.FollowTheme(ctx, t.paint.setDark) {
				t.opt.Log.Debug("panel theme unknown; icons for a light panel")
			}
		}()
	}
	go model.Follow(ctx, t.opt.Client, nil, func(up model.Update) {
		t.apply(model.Tray(up.Status, up.Err))
		if t.opt.OnUpdate != nil {
			t.opt.OnUpdate(up)
		}
		if t.opt.Notify != nil {
			for _, n := range t.notifier.Observe(up.Status, up.Err, model.WallNow()) {
				t.opt.Notify(n.Title, n.Body)
			}
		}
	})
	if t.opt.OnReady != nil {
		t.opt.OnReady()
	}
}

type notYet struct{}

func (notYet) Error() string { return "not asked yet" }

var errNotYet error = notYet{}

func (t *Tray) clicks(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.syncNow.ClickedCh:
			go func() {
				c, cancel := context.WithTimeout(ctx, client.DefaultTimeout)
				defer cancel()
				if _, err := t.opt.Client.Sync(c, false); err != nil {
					t.opt.Log.Info("sync now", "err", err)
					if client.IsAccessDenied(err) {
						// The status window explains and offers elevation.
						t.opt.Open("status")
					}
				}
			}()
		case <-t.statusW.ClickedCh:
			t.opt.Open("status")
		case <-t.settings.ClickedCh:
			t.opt.Open("settings")
		case <-t.quit.ClickedCh:
			systray.Quit()
			return
		}
	}
}

func (t *Tray) exit() {
	if t.cancel != nil {
		t.cancel()
	}
	if t.opt.OnQuit != nil {
		t.opt.OnQuit()
	}
}

// surface is what the tray draws on: systray, or a recorder in tests.
type surface interface {
	SetIcon(kind model.Kind, dark bool)
	SetTitle(string)
	SetTooltip(string)
	SetStatusLine(string)
	SetSyncEnabled(bool)
}

// painter shows TrayViews on a surface, touching only what changed and
// nothing at all when the view is the one shown (the tray host is not
// asked to redraw).
type painter struct {
	mu    sync.Mutex
	s     surface
	last  model.TrayView
	drawn bool
	dark  bool // the icons for a dark panel
}

// setDark switches between the icons for a light and a dark panel,
// redrawing the icon only when that changes.
func (p *painter) setDark(dark bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if dark == p.dark {
		return
	}
	p.dark = dark
	if p.drawn {
		p.s.SetIcon(p.last.Kind, dark)
	}
}

func (p *painter) apply(v model.TrayView) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old, drawn := p.last, p.drawn
	if drawn && v == old {
		return
	}
	if !drawn || v.Kind != old.Kind {
		p.s.SetIcon(v.Kind, p.dark)
	}
	if !drawn || v.Title != old.Title {
		p.s.SetTitle(v.Title)
	}
	if !drawn || v.Title != old.Title || v.Tooltip != old.Tooltip {
		p.s.SetTooltip(v.Title + "\n" + v.Tooltip)
	}
	if !drawn || v.StatusLine != old.StatusLine {
		p.s.SetStatusLine(v.StatusLine)
	}
	if !drawn || v.SyncAvailable != old.SyncAvailable {
		p.s.SetSyncEnabled(v.SyncAvailable)
	}
	p.last, p.drawn = v, true
}

// sysSurface is the real tray.
type sysSurface struct {
	t *Tray
}

func (s sysSurface) SetIcon(k model.Kind, dark bool) {
	icon := assets.TrayIcon(k.String(), dark, 64)
	if runtime.GOOS == "darwin" {
		systray.SetTemplateIcon(icon, icon)
	} else {
		systray.SetIcon(icon)
	}
}
func (s sysSurface) SetTitle(v string)      { systray.SetTitle(v) }
func (s sysSurface) SetTooltip(v string)    { systray.SetTooltip(v) }
func (s sysSurface) SetStatusLine(v string) { s.t.status.SetTitle(v) }
func (s sysSurface) SetSyncEnabled(on bool) {
	if on {
		s.t.syncNow.Enable()
	} else {
		s.t.syncNow.Disable()
	}
}

func (t *Tray) apply(v model.TrayView) { t.paint.apply(v) }
