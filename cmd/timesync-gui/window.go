//go:build cgo

package main

import (
	"bufio"
	"context"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/timesync/timesync/assets"
	"github.com/timesync/timesync/gui"
	"github.com/timesync/timesync/gui/model"
	"github.com/timesync/timesync/service/control/client"
)

// runWindows is the window process: a fyne app that shows first, then
// whatever the tray asks for on in ("status", "settings"), and returns
// when its last window closes or in ends. With fed, the service's
// updates come from the tray on in ("update {json}"); else it follows
// the service's watch itself.
func runWindows(c *client.Client, first, notice string, fed bool, in io.Reader) error {
	// The window process is idle most of its life: a lower GC target
	// keeps its heap (fonts, textures' source images) small.
	debug.SetGCPercent(25)
	a := app.NewWithID("org.timesync.gui")
	a.SetIcon(fyne.NewStaticResource("timesync.png", assets.AppIcon(256)))
	u := gui.New(gui.Deps{App: a, Client: c})
	u.Notice = notice
	show := func(which string) {
		switch which {
		case "settings":
			u.ShowSettings()
		default:
			u.ShowStatus()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The servers of one poll answer within milliseconds of each other,
	// each answer a status event: show the newest of such a burst once.
	updates := &model.Coalescer{Delay: 200 * time.Millisecond, Apply: func(up model.Update) {
		fyne.Do(func() { u.Apply(up) })
	}}
	a.Lifecycle().SetOnStarted(func() {
		show(first)
		// Hand the start-up garbage (font parsing, first layout) back to
		// the OS now rather than when the scavenger gets to it.
		time.AfterFunc(5*time.Second, debug.FreeOSMemory)
		if !fed {
			go model.Follow(ctx, c, nil, updates.Put)
		}
		go func() {
			sc := bufio.NewScanner(in)
			sc.Buffer(make([]byte, 64<<10), 8<<20) // an update carries the whole status and configuration
			for sc.Scan() {
				req := strings.TrimSpace(sc.Text())
				if rest, ok := strings.CutPrefix(req, "update "); ok {
					if up, err := model.DecodeUpdate([]byte(rest)); err == nil {
						updates.Put(up)
					}
					continue
				}
				if req == "" {
					continue
				}
				fyne.Do(func() { show(req) })
			}
			// The tray is gone (or there is none and in was empty):
			// keep the windows open only without a tray.
			if notice == "" {
				fyne.Do(a.Quit)
			}
		}()
	})
	a.Run()
	return nil
}
