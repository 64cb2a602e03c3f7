// Command timesync-gui is timesync's tray app. It runs as two processes
// of this one binary: the tray (fyne.io/systray only — no GL loop, so it
// costs nothing while idle), and, on demand, the window process
// (--window, a fyne app) that shows the status and settings windows and
// exits when the last one closes. All logic is in gui/.
//
//	timesync-gui [--status] [--settings] [--socket PATH]
//
// A second launch hands its request to the running tray (which shows
// the status window). Without a session bus or a tray host on Linux the
// status window opens instead, saying why.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"

	"github.com/timesync/timesync/gui/model"
	"github.com/timesync/timesync/gui/tray"
	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/control/client"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("timesync-gui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	status := fs.Bool("status", false, "open the status window at start")
	settings := fs.Bool("settings", false, "open the settings window at start")
	socket := fs.String("socket", "", "the service's control socket (default $TIMESYNC_SOCKET, else the system's)")
	window := fs.String("window", "", "internal: run the window process, showing this window first (status, settings)")
	notice := fs.String("notice", "", "internal: a notice for the top of the status window")
	fed := fs.Bool("fed", false, "internal: the tray hands the service's updates on standard input (no watch of its own)")
	putConfig := fs.String("put-config", "", "internal: send the configuration in this JSON file to the service (run elevated)")
	dark := fs.Bool("dark-panel", false, "use the icons drawn for a dark panel (default: follow the desktop's colour scheme)")
	instance := fs.String("instance", "", "single-instance socket (default $XDG_RUNTIME_DIR/timesync-gui.sock)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fixLocale()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c := client.New(*socket)
	defer c.Close()

	switch {
	case *putConfig != "":
		if err := sendConfig(c, *putConfig); err != nil {
			fmt.Fprintln(stderr, "timesync-gui:", err)
			return 1
		}
		return 0
	case *window != "":
		if err := runWindows(c, *window, *notice, *fed, blockingStdin()); err != nil {
			fmt.Fprintln(stderr, "timesync-gui:", err)
			return 1
		}
		return 0
	}

	first := ""
	switch {
	case *settings:
		first = "settings"
	case *status:
		first = "status"
	}
	ipath := *instance
	if ipath == "" {
		ipath = tray.InstancePath()
	}
	in, err := tray.Listen(ipath)
	if errors.Is(err, tray.ErrRunning) {
		// A second launch shows the running one's status window.
		req := first
		if req == "" {
			req = "status"
		}
		if err := tray.Send(ipath, req); err != nil {
			fmt.Fprintln(stderr, "timesync-gui: the running instance did not answer:", err)
			return 1
		}
		return 0
	}
	if err != nil {
		log.Warn("no single-instance socket; going on", "err", err)
	}

	if err := tray.Probe(); err != nil {
		// No tray here: the status window instead, saying why.
		if in != nil {
			in.Close()
		}
		model.LoadTranslations()
		why := model.L("No tray icon: {{.Why}}. Showing the status window instead; closing it ends timesync-gui.", map[string]any{"Why": err.Error()})
		log.Warn("no tray host", "why", err)
		if first == "" {
			first = "status"
		}
		if err := runWindows(c, first, why, false, strings.NewReader("")); err != nil {
			fmt.Fprintln(stderr, "timesync-gui:", err)
			return 1
		}
		return 0
	}

	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	wp := &tray.WindowProcess{Log: log, Command: func() *exec.Cmd {
		a := []string{"--window", "status", "--fed"}
		if *socket != "" {
			a = append(a, "--socket", *socket)
		}
		return exec.Command(exe, a...)
	}}
	if in != nil {
		go in.Serve(wp.Open)
		defer in.Close()
	}
	tray.Run(tray.Options{
		Client:      c,
		Open:        wp.Open,
		Dark:        *dark,
		FollowTheme: tray.FollowColorScheme,
		Notify:      tray.DesktopNotifier(),
		Log:         log,
		OnReady: func() {
			if first != "" {
				wp.Open(first)
			}
		},
		OnQuit:   wp.Close,
		OnUpdate: wp.Update,
	})
	return 0
}

// fixLocale: fyne's lang reads the locale from the environment; the C
// and POSIX locales (no language at all) are English.
func fixLocale() {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := os.Getenv(k)
		if v == "" {
			continue
		}
		if v == "C" || v == "POSIX" || strings.HasPrefix(v, "C.") {
			os.Setenv(k, "en_US.UTF-8")
		}
	}
}

// sendConfig PUTs the configuration in file (the elevated half of a
// change the service refused to the user).
func sendConfig(c *client.Client, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var cfg config.Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	_, err = c.SetConfig(context.Background(), &cfg)
	return err
}
