package gui

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/control/client"
)

// Elevation is a change the service refused (403), to be made again
// with the OS's elevation route: either a timesync CLI command (Args,
// e.g. ["servers", "add", "192.0.2.1", "iburst"]) or a whole
// configuration (Config) that timesync-gui --put-config sends as the
// administrator.
type Elevation struct {
	Args   []string
	Config *config.Config
	Socket string
}

// Elevator runs Elevations. Its zero value finds timesync and
// timesync-gui beside the running executable, else on PATH.
type Elevator struct {
	// GOOS defaults to runtime.GOOS.
	GOOS string
	// Self is timesync-gui's path; Timesync the CLI's.
	Self, Timesync string
}

// Command returns the command line that makes the change elevated:
// pkexec on Linux (polkit asks for an administrator's password),
// osascript's "with administrator privileges" on macOS, PowerShell's
// Start-Process -Verb RunAs (UAC) on Windows. file is where a
// configuration was written (Config only).
func (e Elevator) Command(el Elevation, file string) []string {
	goos := e.GOOS
	if goos == "" {
		goos = runtime.GOOS
	}
	self, ts := e.Self, e.Timesync
	if self == "" {
		self, _ = os.Executable()
	}
	if ts == "" {
		ts = sibling(self, "timesync", goos)
	}
	var cmd []string
	if el.Config != nil {
		cmd = []string{self, "--put-config", file}
	} else {
		cmd = append([]string{ts}, el.Args...)
	}
	if el.Socket != "" {
		cmd = append(cmd, "--socket", el.Socket)
	}
	switch goos {
	case "darwin":
		return []string{"osascript", "-e", fmt.Sprintf("do shell script %q with administrator privileges", shellJoin(cmd))}
	case "windows":
		args := make([]string, len(cmd)-1)
		for i, a := range cmd[1:] {
			args[i] = "'" + strings.ReplaceAll(a, "'", "''") + "'"
		}
		ps := fmt.Sprintf("Start-Process -Verb RunAs -Wait -WindowStyle Hidden -FilePath '%s'", strings.ReplaceAll(cmd[0], "'", "''"))
		if len(args) > 0 {
			ps += " -ArgumentList " + strings.Join(args, ",")
		}
		return []string{"powershell", "-NoProfile", "-NonInteractive", "-Command", ps}
	}
	return append([]string{"pkexec"}, cmd...)
}

// Run makes the change elevated and waits for it.
func (e Elevator) Run(el Elevation) error {
	file := ""
	if el.Config != nil {
		f, err := os.CreateTemp("", "timesync-config-*.json")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		if err := json.NewEncoder(f).Encode(el.Config); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		file = f.Name()
	}
	cmd := e.Command(el, file)
	out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return errors.New(msg)
	}
	return nil
}

// sibling returns the path of name beside self, if it exists there,
// else name (found on PATH).
func sibling(self, name, goos string) string {
	if goos == "windows" {
		name += ".exe"
	}
	if self != "" {
		p := filepath.Join(filepath.Dir(self), name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// DeniedBox explains a refused change (403) and offers to make it as
// the administrator.
type DeniedBox struct {
	Box     *fyne.Container
	Text    *widget.Label
	Detail  *widget.Label
	Button  *widget.Button
	Outcome *widget.Label
	u       *UI
	el      Elevation
	// OnDone is called after a successful elevated change.
	OnDone func()
	// onChange lays the window out again.
	onChange func()
}

func (d *DeniedBox) changed() {
	if d.onChange != nil {
		d.onChange()
	}
}

func newDeniedBox(u *UI) *DeniedBox {
	d := &DeniedBox{u: u}
	d.Text = widget.NewLabel("")
	d.Text.Wrapping = fyne.TextWrapWord
	d.Text.Importance = widget.DangerImportance
	d.Detail = widget.NewLabel("")
	d.Detail.Wrapping = fyne.TextWrapWord
	d.Detail.Importance = widget.LowImportance
	d.Outcome = widget.NewLabel("")
	d.Outcome.Wrapping = fyne.TextWrapWord
	d.Button = widget.NewButton(elevateLabel(), d.elevate)
	d.Button.Importance = widget.HighImportance
	d.Box = container.NewVBox(d.Text, d.Detail, container.NewHBox(d.Button), d.Outcome)
	d.Box.Hide()
	return d
}

func elevateLabel() string {
	switch runtime.GOOS {
	case "windows":
		return L("Change as administrator (UAC)…")
	case "darwin":
		return L("Change as administrator…")
	}
	return L("Change as administrator (pkexec)…")
}

// Show explains err (a 403) and remembers el for the button.
func (d *DeniedBox) Show(err error, el Elevation) {
	d.el = el
	group := "timesync"
	var ce *client.Error
	if errors.As(err, &ce) {
		if i := strings.Index(ce.Message, `group "`); i >= 0 {
			rest := ce.Message[i+7:]
			if j := strings.Index(rest, `"`); j >= 0 {
				group = rest[:j]
			}
		}
	}
	d.Text.SetText(L("You may not change this: only an administrator or a member of the group \"{{.Group}}\" may change the time service's settings.", map[string]any{"Group": group}))
	d.Detail.SetText(L("The service said: {{.Msg}}", map[string]any{"Msg": err.Error()}))
	d.Outcome.SetText("")
	d.Outcome.Hide()
	d.Box.Show()
	d.changed()
}

// Hide hides the box.
func (d *DeniedBox) Hide() {
	if d.Box.Visible() {
		d.Box.Hide()
		d.changed()
	}
}

func (d *DeniedBox) elevate() {
	el := d.el
	var err error
	d.u.bg(func() { err = d.u.d.Elevate(el) }, func() {
		d.Outcome.Show()
		if err != nil {
			d.Outcome.Importance = widget.DangerImportance
			d.Outcome.SetText(L("The change as administrator failed: {{.Err}}", map[string]any{"Err": err.Error()}))
			d.changed()
			return
		}
		d.Outcome.Importance = widget.SuccessImportance
		d.Outcome.SetText(L("Done."))
		d.Box.Hide()
		d.changed()
		if d.OnDone != nil {
			d.OnDone()
		}
	})
}
