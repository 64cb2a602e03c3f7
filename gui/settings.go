package gui

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"github.com/timesync/timesync/gui/model"
	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/control/client"
)

// SettingsWindow edits the servers, the restrict rules and the advanced
// settings through the control API.
type SettingsWindow struct {
	u    *UI
	win  fyne.Window
	tabs *container.AppTabs
	info *control.ConfigInfo

	denied *DeniedBox

	// Servers tab.
	entries    []srvEntry
	list       *widget.List
	selected   int
	kind       *widget.Select
	address    *widget.Entry
	iburst     *widget.Check
	prefer     *widget.Check
	minpoll    *widget.Select
	maxpoll    *widget.Select
	maxsources *widget.Entry
	add        *widget.Button
	save       *widget.Button
	remove     *widget.Button
	up, down   *widget.Button
	test       *widget.Button
	testResult *widget.Label
	errs       map[string]*errorText // field → its error text
	srvErr     *errorText

	// Restrict tab.
	rules      []control.Rule
	ruleList   *widget.List
	ruleSel    int
	target     *widget.Entry
	flags      map[string]*widget.Check
	ruleAdd    *widget.Button
	ruleRemove *widget.Button
	presetLAN  *widget.Button
	presetNone *widget.Button
	query      *widget.Entry
	queryBtn   *widget.Button
	queryOut   *widget.Label
	ruleErr    *errorText

	// Advanced tab.
	step      *widget.Entry
	panicT    *widget.Entry
	serving   *widget.Check
	listen    *widget.Entry
	autostart *widget.Check
	apply     *widget.Button
	advErr    *errorText
}

type srvEntry struct {
	pool bool
	srv  config.Server
	pl   config.Pool
}

func (e srvEntry) String() string {
	if e.pool {
		return e.pl.String()
	}
	return e.srv.String()
}

// restrictFlags are the flags of a rule, in ntpd's order.
var restrictFlags = []string{"ignore", "kod", "limited", "nomodify", "noquery", "nopeer", "noserve", "notrap"}

// ShowSettings opens the settings window, or raises it if open.
func (u *UI) ShowSettings() *SettingsWindow {
	if u.settings != nil {
		u.settings.win.Show()
		u.settings.win.RequestFocus()
		return u.settings
	}
	s := u.newSettingsWindow()
	u.settings = s
	s.win.SetOnClosed(func() { u.settings = nil })
	s.win.Show()
	s.reload()
	return s
}

func pollOptions() []string {
	var o []string
	for e := config.MinPollLimit; e <= config.MaxPollLimit; e++ {
		o = append(o, fmt.Sprintf("%d (%s)", e, model.FormatAge(float64(int(1)<<e))))
	}
	return o
}

func pollOption(e int) string { return pollOptions()[e-config.MinPollLimit] }

func pollExp(opt string) int {
	n, _ := strconv.Atoi(strings.Fields(opt)[0])
	return n
}

// fieldRow is a label and a field with its error text right under it.
func fieldRow(label string, field fyne.CanvasObject, e *errorText) []fyne.CanvasObject {
	return []fyne.CanvasObject{widget.NewLabel(label), container.NewVBox(field, e)}
}

func (u *UI) newSettingsWindow() *SettingsWindow {
	s := &SettingsWindow{u: u, selected: -1, ruleSel: -1, errs: map[string]*errorText{}, flags: map[string]*widget.Check{}}
	s.win = u.d.App.NewWindow(L("timesync — Settings"))
	s.denied = newDeniedBox(u)
	s.denied.OnDone = s.reload
	for _, f := range []string{"address", "minpoll", "maxpoll", "maxsources", "target", "step", "panic", "listen"} {
		s.errs[f] = newErrorText()
	}
	s.srvErr, s.ruleErr, s.advErr = newErrorText(), newErrorText(), newErrorText()
	s.tabs = container.NewAppTabs(
		container.NewTabItem(L("Servers"), s.serversTab()),
		container.NewTabItem(L("Restrict"), s.restrictTab()),
		container.NewTabItem(L("Advanced"), s.advancedTab()),
	)
	s.win.SetContent(container.NewBorder(s.denied.Box, nil, nil, nil, s.tabs))
	for _, e := range append([]*errorText{s.srvErr, s.ruleErr, s.advErr}, mapValues(s.errs)...) {
		e.onChange = s.relayout
	}
	s.denied.onChange = s.relayout
	s.win.Resize(fyne.NewSize(780, 660))
	return s
}

func (s *SettingsWindow) serversTab() fyne.CanvasObject {
	s.list = widget.NewList(func() int { return len(s.entries) },
		func() fyne.CanvasObject { return mono("server 255.255.255.255 iburst prefer minpoll 10 maxpoll 10") },
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(s.entries[i].String()) })
	s.list.OnSelected = func(i widget.ListItemID) { s.selected = i; s.fillForm(s.entries[i]) }
	s.list.OnUnselected = func(widget.ListItemID) { s.selected = -1 }
	s.kind = widget.NewSelect([]string{"server", "pool"}, func(k string) {
		if k == "pool" {
			s.prefer.Disable()
			s.minpoll.Disable()
			s.maxpoll.Disable()
			s.maxsources.Enable()
		} else {
			s.prefer.Enable()
			s.minpoll.Enable()
			s.maxpoll.Enable()
			s.maxsources.Disable()
		}
	})
	s.address = widget.NewEntry()
	s.address.SetPlaceHolder(L("host name or IP address, optionally :port"))
	s.iburst = widget.NewCheck("iburst", nil)
	s.iburst.SetChecked(true)
	s.prefer = widget.NewCheck("prefer", nil)
	s.minpoll = widget.NewSelect(pollOptions(), nil)
	s.minpoll.SetSelected(pollOption(config.DefaultMinPoll))
	s.maxpoll = widget.NewSelect(pollOptions(), nil)
	s.maxpoll.SetSelected(pollOption(config.DefaultMaxPoll))
	s.maxsources = widget.NewEntry()
	s.maxsources.SetPlaceHolder(fmt.Sprint(config.DefaultMaxSources))
	s.kind.SetSelected("server")
	s.add = widget.NewButton(L("Add"), s.addServer)
	s.add.Importance = widget.HighImportance
	s.save = widget.NewButton(L("Save changes"), s.saveServer)
	s.remove = widget.NewButton(L("Remove"), s.removeServer)
	s.up = widget.NewButton(L("Move up"), func() { s.move(-1) })
	s.down = widget.NewButton(L("Move down"), func() { s.move(1) })
	s.test = widget.NewButton(L("Test"), s.testServer)
	s.testResult = widget.NewLabel("")
	s.testResult.Wrapping = fyne.TextWrapWord
	s.testResult.Hide()
	form := container.New(layout.NewFormLayout(),
		append(append(append(append(append(
			fieldRow(L("Type"), s.kind, newErrorText()),
			fieldRow(L("Address"), s.address, s.errs["address"])...),
			fieldRow(L("Options"), container.NewHBox(s.iburst, s.prefer), newErrorText())...),
			fieldRow(L("Min poll (2^n s)"), s.minpoll, s.errs["minpoll"])...),
			fieldRow(L("Max poll (2^n s)"), s.maxpoll, s.errs["maxpoll"])...),
			fieldRow(L("Max sources (pool)"), s.maxsources, s.errs["maxsources"])...)...)
	buttons := container.NewHBox(s.add, s.save, s.remove, s.up, s.down, layout.NewSpacer(), s.test)
	bottom := container.NewVBox(widget.NewSeparator(), form, buttons, s.srvErr, s.testResult)
	return container.NewBorder(bold(L("Time servers, in order")), bottom, nil, nil, s.list)
}

func (s *SettingsWindow) fillForm(e srvEntry) {
	s.clearErrors()
	if e.pool {
		s.kind.SetSelected("pool")
		s.address.SetText(hostPortText(e.pl.Name, e.pl.Port))
		s.iburst.SetChecked(e.pl.IBurst)
		s.maxsources.SetText("")
		if e.pl.MaxSources != 0 {
			s.maxsources.SetText(fmt.Sprint(e.pl.MaxSources))
		}
		return
	}
	s.kind.SetSelected("server")
	s.address.SetText(hostPortText(e.srv.Address, e.srv.Port))
	s.iburst.SetChecked(e.srv.IBurst)
	s.prefer.SetChecked(e.srv.Prefer)
	lo, hi := e.srv.Polls()
	s.minpoll.SetSelected(pollOption(lo))
	s.maxpoll.SetSelected(pollOption(hi))
}

func hostPortText(host string, port int) string {
	if port == 0 || port == config.DefaultPort {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// formEntry reads the form; a malformed port is reported next to the
// address field and ok is false.
func (s *SettingsWindow) formEntry() (e srvEntry, ok bool) {
	host, port := strings.TrimSpace(s.address.Text), 0
	if h, p, err := net.SplitHostPort(host); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			s.errs["address"].Set(L("{{.Port}} is not a port number (1–65535)", map[string]any{"Port": p}))
			return e, false
		}
		host, port = h, n
	}
	if s.kind.Selected == "pool" {
		e.pool = true
		e.pl = config.Pool{Name: host, Port: port, IBurst: s.iburst.Checked}
		if t := strings.TrimSpace(s.maxsources.Text); t != "" {
			n, err := strconv.Atoi(t)
			if err != nil {
				s.errs["maxsources"].Set(L("not a number"))
				return e, false
			}
			e.pl.MaxSources = n
		}
		return e, true
	}
	e.srv = config.Server{Address: host, Port: port, IBurst: s.iburst.Checked, Prefer: s.prefer.Checked,
		MinPoll: pollExp(s.minpoll.Selected), MaxPoll: pollExp(s.maxpoll.Selected)}
	return e, true
}

// cliArgs are the timesync CLI's words for adding e.
func (e srvEntry) cliArgs() []string {
	args := strings.Fields(e.String())
	if e.pool {
		return append([]string{"servers", "add", "pool"}, args[1:]...)
	}
	return append([]string{"servers", "add"}, args[1:]...)
}

func (s *SettingsWindow) clearErrors() {
	for _, e := range s.errs {
		e.Set("")
	}
	s.srvErr.Set("")
	s.ruleErr.Set("")
	s.advErr.Set("")
}

// write makes one change: call, then on success reload the
// configuration; a 403 shows the explanation and the elevation route, a
// validation error lands next to its field (else in general).
func (s *SettingsWindow) write(el Elevation, general *errorText, call func(ctx context.Context) error) {
	s.clearErrors()
	var err error
	s.u.bg(func() {
		ctx, cancel := s.u.ctx()
		defer cancel()
		err = call(ctx)
	}, func() {
		switch {
		case err == nil:
			s.denied.Hide()
			s.reload()
		case client.IsAccessDenied(err):
			s.denied.Show(err, el)
		default:
			s.denied.Hide()
			msg := err.Error()
			if client.IsBadRequest(err) || client.IsConflict(err) || client.IsNotFound(err) {
				if e, ok := s.errs[errorField(err)]; ok && fieldVisible(s, errorField(err)) {
					e.Set(msg)
					return
				}
			}
			general.Set(msg)
		}
	})
}

// fieldVisible reports whether field is on the tab being shown.
func fieldVisible(s *SettingsWindow, field string) bool {
	i := s.tabs.SelectedIndex()
	switch field {
	case "address", "minpoll", "maxpoll", "maxsources":
		return i == 0
	case "target":
		return i == 1
	}
	return i == 2
}

func (s *SettingsWindow) addServer() {
	s.clearErrors()
	e, ok := s.formEntry()
	if !ok {
		return
	}
	el := Elevation{Args: e.cliArgs(), Socket: s.u.d.Client.Path()}
	s.write(el, s.srvErr, func(ctx context.Context) error {
		var err error
		if e.pool {
			_, err = s.u.d.Client.AddPool(ctx, e.pl)
		} else {
			_, err = s.u.d.Client.AddServer(ctx, e.srv)
		}
		return err
	})
}

func (e srvEntry) removeArg() string {
	if e.pool {
		return e.pl.Name
	}
	return hostPortText(e.srv.Address, e.srv.Port)
}

func (s *SettingsWindow) removeServer() {
	s.clearErrors()
	if s.selected < 0 || s.selected >= len(s.entries) {
		s.srvErr.Set(L("Select a server in the list first."))
		return
	}
	e := s.entries[s.selected]
	args := []string{"servers", "remove", e.removeArg()}
	if e.pool {
		args = []string{"servers", "remove", "pool", e.removeArg()}
	}
	s.write(Elevation{Args: args, Socket: s.u.d.Client.Path()}, s.srvErr, func(ctx context.Context) error {
		var err error
		if e.pool {
			_, err = s.u.d.Client.RemovePool(ctx, e.pl.Name)
		} else {
			_, err = s.u.d.Client.RemoveServer(ctx, e.removeArg())
		}
		if err == nil {
			s.selected = -1
		}
		return err
	})
}

// putConfig replaces the configuration with edit applied to a copy.
func (s *SettingsWindow) putConfig(general *errorText, edit func(c *config.Config) bool) {
	s.clearErrors()
	if s.info == nil || s.info.Config == nil {
		general.Set(L("The configuration has not been read yet."))
		return
	}
	c := s.info.Config.Clone()
	if !edit(c) {
		return
	}
	s.write(Elevation{Config: c, Socket: s.u.d.Client.Path()}, general, func(ctx context.Context) error {
		_, err := s.u.d.Client.SetConfig(ctx, c)
		return err
	})
}

func (s *SettingsWindow) saveServer() {
	if s.selected < 0 || s.selected >= len(s.entries) {
		s.clearErrors()
		s.srvErr.Set(L("Select a server in the list first."))
		return
	}
	old := s.entries[s.selected]
	s.clearErrors()
	e, ok := s.formEntry()
	if !ok {
		return
	}
	s.putConfig(s.srvErr, func(c *config.Config) bool {
		if old.pool {
			c.Pools = deleteAt(c.Pools, indexOfPool(c.Pools, old.pl))
		} else {
			i := indexOfServer(c.Servers, old.srv)
			if !e.pool && i >= 0 {
				c.Servers[i] = e.srv
				return true
			}
			c.Servers = deleteAt(c.Servers, i)
		}
		if e.pool {
			c.Pools = append(c.Pools, e.pl)
		} else {
			c.Servers = append(c.Servers, e.srv)
		}
		return true
	})
}

func (s *SettingsWindow) move(by int) {
	if s.selected < 0 || s.selected >= len(s.entries) {
		s.clearErrors()
		s.srvErr.Set(L("Select a server in the list first."))
		return
	}
	e := s.entries[s.selected]
	target := s.selected + by
	s.putConfig(s.srvErr, func(c *config.Config) bool {
		if e.pool {
			i := indexOfPool(c.Pools, e.pl)
			j := i + by
			if i < 0 || j < 0 || j >= len(c.Pools) {
				return false
			}
			c.Pools[i], c.Pools[j] = c.Pools[j], c.Pools[i]
		} else {
			i := indexOfServer(c.Servers, e.srv)
			j := i + by
			if i < 0 || j < 0 || j >= len(c.Servers) {
				return false
			}
			c.Servers[i], c.Servers[j] = c.Servers[j], c.Servers[i]
		}
		s.selected = target
		return true
	})
}

func indexOfServer(ss []config.Server, s config.Server) int {
	for i, x := range ss {
		if x.HostPort() == s.HostPort() {
			return i
		}
	}
	return -1
}

func indexOfPool(ps []config.Pool, p config.Pool) int {
	for i, x := range ps {
		if x.HostPort() == p.HostPort() {
			return i
		}
	}
	return -1
}

func deleteAt[T any](s []T, i int) []T {
	if i < 0 {
		return s
	}
	return append(s[:i:i], s[i+1:]...)
}

func (s *SettingsWindow) testServer() {
	s.clearErrors()
	e, ok := s.formEntry()
	if !ok {
		return
	}
	hp := ""
	if e.pool {
		hp = e.pl.HostPort()
	} else {
		hp = e.srv.HostPort()
	}
	if strings.TrimSpace(s.address.Text) == "" {
		s.errs["address"].Set(L("Enter an address to test."))
		return
	}
	var res TestResult
	var err error
	s.testResult.SetText(L("Asking {{.Server}}…", map[string]any{"Server": hp}))
	s.testResult.Show()
	s.relayout()
	s.u.bg(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
		defer cancel()
		res, err = s.u.d.Tester.Test(ctx, hp)
	}, func() {
		if err != nil {
			defer s.relayout()
			s.testResult.Importance = widget.DangerImportance
			s.testResult.SetText(L("{{.Server}}: {{.Err}}", map[string]any{"Server": hp, "Err": err.Error()}))
			return
		}
		defer s.relayout()
		s.testResult.Importance = widget.SuccessImportance
		s.testResult.SetText(L("{{.Server}} answers: offset {{.Offset}}, delay {{.Delay}}, stratum {{.Stratum}}",
			map[string]any{"Server": hp, "Offset": model.FormatOffset(res.OffsetSeconds), "Delay": model.FormatDuration(res.DelaySeconds), "Stratum": res.Stratum}))
	})
}

func (s *SettingsWindow) restrictTab() fyne.CanvasObject {
	s.ruleList = widget.NewList(func() int { return len(s.rules) },
		func() fyne.CanvasObject {
			return mono("restrict ffff:ffff:ffff:ffff::/64 ignore kod limited nomodify noquery nopeer noserve notrap")
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(s.rules[i].Text) })
	s.ruleList.OnSelected = func(i widget.ListItemID) {
		s.ruleSel = i
		r := s.rules[i]
		s.target.SetText(ruleTarget(r.Restrict))
		for _, f := range restrictFlags {
			s.flags[f].SetChecked(flagOf(r.Restrict, f))
		}
	}
	s.ruleList.OnUnselected = func(widget.ListItemID) { s.ruleSel = -1 }
	s.target = widget.NewEntry()
	s.target.SetPlaceHolder(L("default, an address, or address/bits"))
	var checks []fyne.CanvasObject
	for _, f := range restrictFlags {
		c := widget.NewCheck(f, nil)
		s.flags[f] = c
		checks = append(checks, c)
	}
	s.ruleAdd = widget.NewButton(L("Add or replace rule"), s.setRule)
	s.ruleAdd.Importance = widget.HighImportance
	s.ruleRemove = widget.NewButton(L("Remove rule"), s.removeRule)
	s.presetLAN = widget.NewButton(L("Preset: serve my local network"), s.presetLocal)
	s.presetNone = widget.NewButton(L("Preset: serve nobody"), s.presetNobody)
	s.query = widget.NewEntry()
	s.query.SetPlaceHolder("192.168.1.20")
	s.queryOut = widget.NewLabel("")
	s.queryOut.Wrapping = fyne.TextWrapWord
	s.queryBtn = widget.NewButton(L("Check"), s.whatApplies)
	form := container.New(layout.NewFormLayout(), append(
		fieldRow(L("Rule for"), s.target, s.errs["target"]),
		widget.NewLabel(L("Flags")), container.NewGridWithColumns(4, checks...))...)
	bottom := container.NewVBox(widget.NewSeparator(), form,
		container.NewHBox(s.ruleAdd, s.ruleRemove, layout.NewSpacer(), s.presetLAN, s.presetNone), s.ruleErr,
		widget.NewSeparator(),
		container.NewBorder(nil, nil, widget.NewLabel(L("What applies to address")), s.queryBtn, s.query), s.queryOut)
	return container.NewBorder(bold(L("Access rules for clients of this computer's time service (most specific first)")), bottom, nil, nil, s.ruleList)
}

func ruleTarget(r config.Restrict) string {
	if r.Default {
		return "default"
	}
	if r.Addr.IsSingleIP() {
		return r.Addr.Addr().String()
	}
	return r.Addr.String()
}

func flagOf(r config.Restrict, f string) bool {
	switch f {
	case "ignore":
		return r.Ignore
	case "kod":
		return r.KoD
	case "limited":
		return r.Limited
	case "nomodify":
		return r.NoModify
	case "noquery":
		return r.NoQuery
	case "nopeer":
		return r.NoPeer
	case "noserve":
		return r.NoServe
	case "notrap":
		return r.NoTrap
	}
	return false
}

func (s *SettingsWindow) setRule() {
	s.clearErrors()
	args := []string{strings.TrimSpace(s.target.Text)}
	for _, f := range restrictFlags {
		if s.flags[f].Checked {
			args = append(args, f)
		}
	}
	r, err := config.ParseRestrict(args...)
	if err != nil {
		s.errs["target"].Set(err.Error())
		return
	}
	s.write(Elevation{Args: append([]string{"restrict", "add"}, args...), Socket: s.u.d.Client.Path()}, s.ruleErr, func(ctx context.Context) error {
		_, err := s.u.d.Client.SetRestrict(ctx, r)
		return err
	})
}

func (s *SettingsWindow) removeRule() {
	s.clearErrors()
	t := strings.TrimSpace(s.target.Text)
	if s.ruleSel >= 0 && s.ruleSel < len(s.rules) {
		t = ruleTarget(s.rules[s.ruleSel].Restrict)
	}
	if t == "" {
		s.ruleErr.Set(L("Select a rule in the list first."))
		return
	}
	s.write(Elevation{Args: []string{"restrict", "remove", t}, Socket: s.u.d.Client.Path()}, s.ruleErr, func(ctx context.Context) error {
		_, err := s.u.d.Client.RemoveRestrict(ctx, t)
		if err == nil {
			s.ruleSel = -1
		}
		return err
	})
}

// presetLocal serves time to this machine's local networks and nobody
// else: default refuses service, each local network is served
// (rate-limited, no queries or changes).
func (s *SettingsWindow) presetLocal() {
	nets := s.u.d.LocalNetworks()
	s.putConfig(s.ruleErr, func(c *config.Config) bool {
		c.Restrict = []config.Restrict{{Default: true, KoD: true, Limited: true, NoModify: true, NoQuery: true, NoPeer: true, NoServe: true, NoTrap: true}}
		for _, n := range append([]string{"127.0.0.1", "::1"}, nets...) {
			r, err := config.ParseRestrict(n, "kod", "limited", "nomodify", "noquery", "nopeer", "notrap")
			if err == nil {
				c.Restrict = append(c.Restrict, r)
			}
		}
		return true
	})
}

// presetNobody ignores every client.
func (s *SettingsWindow) presetNobody() {
	s.putConfig(s.ruleErr, func(c *config.Config) bool {
		c.Restrict = []config.Restrict{{Default: true, Ignore: true}}
		return true
	})
}

// whatApplies shows which rule applies to an address and why.
func (s *SettingsWindow) whatApplies() {
	s.queryOut.SetText(WhatApplies(s.info, strings.TrimSpace(s.query.Text)))
	s.relayout()
}

// WhatApplies explains which rule of info's configuration applies to
// the address text, most specific first.
func WhatApplies(info *control.ConfigInfo, text string) string {
	addr, err := netip.ParseAddr(text)
	if err != nil {
		return L("{{.Text}} is not an IP address.", map[string]any{"Text": text})
	}
	if info == nil || info.Config == nil {
		return L("The configuration has not been read yet.")
	}
	c := info.Config
	addr = addr.Unmap()
	var matching []config.Restrict
	for _, r := range c.Restrict {
		if !r.Default && r.Addr.IsValid() && r.Addr.Contains(addr) {
			matching = append(matching, r)
		}
	}
	sort.SliceStable(matching, func(i, j int) bool { return matching[i].Addr.Bits() > matching[j].Addr.Bits() })
	applied := c.RestrictFor(addr)
	var why string
	switch len(matching) {
	case 0:
		why = L("No address rule contains {{.Addr}}, so the default rule applies.", map[string]any{"Addr": addr})
	case 1:
		why = L("Only the rule for {{.Prefix}} contains {{.Addr}}.", map[string]any{"Prefix": matching[0].Addr, "Addr": addr})
	default:
		var others []string
		for _, m := range matching[1:] {
			others = append(others, m.Addr.String())
		}
		why = L("The rule for {{.Prefix}} is the most specific of those that contain {{.Addr}} (also: {{.Others}}).",
			map[string]any{"Prefix": matching[0].Addr, "Addr": addr, "Others": strings.Join(others, ", ")})
	}
	var effect string
	switch {
	case applied.Ignore:
		effect = L("Its packets are ignored.")
	case applied.NoServe:
		effect = L("It is not served time.")
	case applied.Limited:
		effect = L("It is served time, rate-limited.")
	default:
		effect = L("It is served time.")
	}
	serving := ""
	if len(c.Listen) == 0 {
		serving = " " + L("(Serving is off: see Advanced.)")
	}
	return fmt.Sprintf("%s: %s\n%s %s%s", addr, applied.String(), why, effect, serving)
}

func (s *SettingsWindow) advancedTab() fyne.CanvasObject {
	s.step = widget.NewEntry()
	s.panicT = widget.NewEntry()
	s.listen = widget.NewEntry()
	s.listen.SetPlaceHolder("0.0.0.0:123")
	s.serving = widget.NewCheck(L("Serve time to other computers"), func(on bool) {
		if on {
			s.listen.Enable()
		} else {
			s.listen.Disable()
		}
	})
	s.autostart = widget.NewCheck(L("Start the tray icon at login"), func(on bool) {
		if on == s.u.d.Autostart.Enabled() {
			return
		}
		if err := s.u.d.Autostart.Set(on); err != nil {
			s.advErr.Set(err.Error())
		}
	})
	s.autostart.SetChecked(s.u.d.Autostart.Enabled())
	s.apply = widget.NewButton(L("Apply"), s.applyAdvanced)
	s.apply.Importance = widget.HighImportance
	form := container.New(layout.NewFormLayout(), append(append(append(
		fieldRow(L("Step threshold (s)"), s.step, s.errs["step"]),
		fieldRow(L("Panic threshold (s)"), s.panicT, s.errs["panic"])...),
		fieldRow(L("Time service"), s.serving, newErrorText())...),
		fieldRow(L("Listen address"), s.listen, s.errs["listen"])...)...)
	note := widget.NewLabel(L("Offsets above the step threshold are corrected by stepping the clock, smaller ones by slewing. An offset above the panic threshold waits for you to confirm (0 turns the check off)."))
	note.Wrapping = fyne.TextWrapWord
	note.Importance = widget.LowImportance
	return container.NewVBox(form, note, container.NewHBox(s.apply), s.advErr, widget.NewSeparator(), s.autostart)
}

func (s *SettingsWindow) applyAdvanced() {
	s.clearErrors()
	num := func(e *widget.Entry, field string) (time.Duration, bool) {
		v, err := strconv.ParseFloat(strings.TrimSpace(e.Text), 64)
		if err != nil {
			s.errs[field].Set(L("{{.Text}} is not a number of seconds", map[string]any{"Text": e.Text}))
			return 0, false
		}
		return time.Duration(v * float64(time.Second)), true
	}
	step, ok1 := num(s.step, "step")
	pan, ok2 := num(s.panicT, "panic")
	if !ok1 || !ok2 {
		return
	}
	s.putConfig(s.advErr, func(c *config.Config) bool {
		c.Tinker.Step, c.Tinker.Panic = step, pan
		c.Listen = nil
		if s.serving.Checked {
			l := strings.TrimSpace(s.listen.Text)
			if l == "" {
				l = "0.0.0.0:123"
			}
			c.Listen = []string{l}
		}
		return true
	})
}

// relayout lays the window out again after something was shown or
// hidden.
func (s *SettingsWindow) relayout() {
	if c := s.win.Content(); c != nil {
		c.Refresh()
	}
}

func mapValues[K comparable, V any](m map[K]V) []V {
	var vs []V
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}

// reload reads the configuration anew.
func (s *SettingsWindow) reload() {
	var info *control.ConfigInfo
	var err error
	s.u.bg(func() {
		ctx, cancel := s.u.ctx()
		defer cancel()
		info, err = s.u.d.Client.Config(ctx)
	}, func() {
		if err != nil {
			s.srvErr.Set(err.Error())
			return
		}
		s.SetConfig(info)
	})
}

// SetConfig shows info (from GET /v1/config or the watch).
func (s *SettingsWindow) SetConfig(info *control.ConfigInfo) {
	if info == nil || info.Config == nil {
		return
	}
	first := s.info == nil
	s.info = info
	c := info.Config
	s.entries = s.entries[:0]
	for _, sv := range c.Servers {
		s.entries = append(s.entries, srvEntry{srv: sv})
	}
	for _, p := range c.Pools {
		s.entries = append(s.entries, srvEntry{pool: true, pl: p})
	}
	s.list.Refresh()
	if s.selected >= len(s.entries) {
		s.selected = -1
	}
	if s.selected >= 0 {
		s.list.Select(s.selected)
	} else {
		s.list.UnselectAll()
	}
	s.rules = control.RestrictView(c).Rules
	s.ruleList.Refresh()
	if first || !s.dirtyAdvanced() {
		s.step.SetText(strconv.FormatFloat(c.Tinker.Step.Seconds(), 'f', -1, 64))
		s.panicT.SetText(strconv.FormatFloat(c.Tinker.Panic.Seconds(), 'f', -1, 64))
		s.serving.SetChecked(len(c.Listen) > 0)
		s.listen.SetText(strings.Join(c.Listen, " "))
		if len(c.Listen) == 0 {
			s.listen.Disable()
		}
	}
}

// dirtyAdvanced reports whether the Advanced tab holds unapplied edits.
func (s *SettingsWindow) dirtyAdvanced() bool {
	if s.info == nil {
		return false
	}
	return s.errs["step"].Visible() || s.errs["panic"].Visible() || s.errs["listen"].Visible()
}
