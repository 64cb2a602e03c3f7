package gui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"github.com/timesync/timesync/assets"
	"github.com/timesync/timesync/gui/model"
	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/control/client"
)

// StatusWindow shows the service's state, its sources like chronyc
// sources, and a plot of offset and frequency over time.
type StatusWindow struct {
	u   *UI
	win fyne.Window

	icon      *canvas.Image
	iconKind  model.Kind
	line      *widget.Label
	notice    *widget.Label
	reason    *widget.Label
	advice    *widget.Label
	warnings  *widget.Label
	result    *widget.Label // the outcome of Sync now / Set the clock now
	denied    *DeniedBox
	syncNow   *widget.Button
	setClock  *widget.Button
	fields    map[string]*widget.Label
	sources   *fyne.Container
	plot      *Plot
	rangeSel  *widget.RadioGroup
	histRange time.Duration

	last    *control.Status
	lastErr error
	// histUpdates and histAt: the Updates count and time of the last
	// history load (the plot is reloaded when the clock was updated, at
	// most every 30 s).
	histUpdates int
	histAt      time.Time
	// updates counts the calls of Update (a status held back for the
	// history is not shown once a newer one was).
	updates int
	// relayoutNeeded: something was shown, hidden or resized since the
	// last layout.
	relayoutNeeded bool
}

// Ranges of the plot's range selector.
var plotRanges = []struct {
	label string
	d     time.Duration
}{{"1 h", time.Hour}, {"24 h", 24 * time.Hour}, {"7 d", 7 * 24 * time.Hour}}

// ShowStatus opens the status window, or raises it if open.
func (u *UI) ShowStatus() *StatusWindow {
	if u.status != nil {
		u.status.win.Show()
		u.status.win.RequestFocus()
		return u.status
	}
	s := u.newStatusWindow()
	u.status = s
	s.win.SetOnClosed(func() { u.status = nil })
	s.win.Show()
	s.Reload()
	return s
}

func (u *UI) newStatusWindow() *StatusWindow {
	s := &StatusWindow{u: u, fields: map[string]*widget.Label{}, histRange: time.Hour}
	s.win = u.d.App.NewWindow(L("timesync — Status"))
	s.icon = canvas.NewImageFromResource(fyne.NewStaticResource("unreachable.png", assets.TrayIcon("unreachable", false, 48)))
	s.icon.SetMinSize(fyne.NewSize(40, 40))
	s.icon.FillMode = canvas.ImageFillContain
	s.iconKind = model.Unreachable
	s.line = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.line.Wrapping = fyne.TextWrapWord
	s.notice = widget.NewLabel(u.Notice)
	s.notice.Wrapping = fyne.TextWrapWord
	s.notice.Importance = widget.WarningImportance
	if u.Notice == "" {
		s.notice.Hide()
	}
	s.reason = widget.NewLabel("")
	s.reason.Wrapping = fyne.TextWrapWord
	s.advice = widget.NewLabel("")
	s.advice.Wrapping = fyne.TextWrapWord
	s.advice.Importance = widget.LowImportance
	s.warnings = widget.NewLabel("")
	s.warnings.Wrapping = fyne.TextWrapWord
	s.warnings.Importance = widget.WarningImportance
	s.result = widget.NewLabel("")
	s.result.Wrapping = fyne.TextWrapWord
	s.result.Hide()
	s.denied = newDeniedBox(u)
	s.denied.onChange = func() { relayout(s.win.Content()) }
	s.syncNow = widget.NewButton(model.MenuSyncNow(), func() { s.sync(false) })
	s.setClock = widget.NewButton(L("Set the clock now"), func() { s.sync(true) })
	s.setClock.Importance = widget.DangerImportance

	var forms []fyne.CanvasObject
	for _, ks := range [][]string{{"Offset", "Frequency", "Jitter", "Root distance"}, {"Reference", "Stratum", "Last sync", "Next poll"}} {
		f := container.New(layout.NewFormLayout())
		for _, k := range ks {
			v := mono("–")
			v.Truncation = fyne.TextTruncateEllipsis
			s.fields[k] = v
			f.Add(widget.NewLabel(L(k)))
			f.Add(v)
		}
		forms = append(forms, f)
	}
	grid := container.NewGridWithColumns(2, forms...)

	s.sources = container.New(tableLayout{len(sourceColumns)})
	s.plot = NewPlot(u.d.Location)
	var labels []string
	for _, r := range plotRanges {
		labels = append(labels, r.label)
	}
	s.rangeSel = widget.NewRadioGroup(labels, func(v string) {
		for _, r := range plotRanges {
			if r.label == v && r.d != s.histRange {
				s.histRange = r.d
				s.loadHistory()
			}
		}
	})
	s.rangeSel.Horizontal = true
	s.rangeSel.Required = true
	s.rangeSel.SetSelected("1 h")

	head := container.NewBorder(nil, nil, s.icon, container.NewHBox(s.setClock, s.syncNow), s.line)
	top := container.NewVBox(s.notice, head, s.reason, s.advice, s.warnings, s.result, s.denied.Box, widget.NewSeparator(), grid, widget.NewSeparator(),
		bold(L("Sources")), s.sources, widget.NewSeparator(),
		container.NewHBox(bold(L("Offset and frequency")), s.rangeSel))
	s.win.SetContent(container.NewBorder(top, nil, nil, nil, s.plot))
	s.win.Resize(fyne.NewSize(860, 720))
	s.Update(nil, fmt.Errorf("not asked yet"))
	return s
}

// sourceColumns are the sources table's columns, as chronyc sources.
var sourceColumns = []string{"", "Name", "Stratum", "Poll", "Reach", "Last sample", "Offset", "Delay", "Jitter"}

// Reload asks the service for the status and the history now.
func (s *StatusWindow) Reload() {
	var st *control.Status
	var err error
	s.u.bg(func() {
		ctx, cancel := s.u.ctx()
		defer cancel()
		st, err = s.u.d.Client.Status(ctx)
	}, func() { s.Update(st, err) })
	s.loadHistory()
}

func (s *StatusWindow) loadHistory() {
	updates := 0
	if s.last != nil {
		updates = s.last.Updates
	}
	s.loadHistoryThen(updates, nil)
}

// loadHistoryThen reloads the plot's history (as of the service's
// updates count), running before first when it arrives: what before
// changes is drawn in the same frame as the plot.
func (s *StatusWindow) loadHistoryThen(updates int, before func()) {
	s.histAt, s.histUpdates = s.u.d.Now(), updates
	var h *control.History
	var err error
	r := s.histRange
	s.u.bg(func() {
		ctx, cancel := s.u.ctx()
		defer cancel()
		h, err = s.u.d.Client.History(ctx, client.HistoryQuery{Range: r, Points: 600})
	}, func() {
		if before != nil {
			before()
		}
		if err != nil {
			s.plot.SetHistory(nil, r, s.u.d.Now())
			return
		}
		s.plot.SetHistory(h, r, s.u.d.Now())
	})
}

// Update shows st, or that the service cannot be reached (err). When
// the clock was updated and the plot's last reload is 30 s old, the
// history is reloaded first and the status shown with it, so that the
// window draws one frame for both (a frame redraws the whole window);
// if the history takes more than a second, the status goes first.
func (s *StatusWindow) Update(st *control.Status, err error) {
	s.updates++
	if err == nil && st != nil && st.Updates != s.histUpdates && s.u.d.Now().Sub(s.histAt) >= 30*time.Second {
		seq, done := s.updates, false
		show := func() {
			if !done && seq == s.updates {
				s.show(st, nil)
			}
			done = true
		}
		if !s.u.d.Synchronous {
			time.AfterFunc(time.Second, func() { fyne.Do(show) })
		}
		s.loadHistoryThen(st.Updates, show)
		return
	}
	s.show(st, err)
}

// show puts st (or err) in the window, touching only what changed.
func (s *StatusWindow) show(st *control.Status, err error) {
	if err != nil {
		st = nil
	}
	s.last, s.lastErr = st, err
	k := model.Classify(st, err)
	if k != s.iconKind {
		s.iconKind = k
		s.icon.Resource = fyne.NewStaticResource(k.String()+".png", assets.TrayIcon(k.String(), false, 48))
		s.icon.Refresh()
	}
	if line := model.StatusLine(st, err); line != s.line.Text {
		h := s.line.MinSize().Height
		s.line.SetText(line)
		if s.line.MinSize().Height != h {
			s.relayoutNeeded = true // it wraps differently
		}
	}
	setOrHide := func(l *widget.Label, t string) {
		if l.Text != t {
			l.SetText(t)
		}
		if (t != "") != l.Visible() {
			s.relayoutNeeded = true
			if t == "" {
				l.Hide()
			} else {
				l.Show()
			}
		}
	}
	switch {
	case k == model.Unreachable:
		setOrHide(s.reason, L("The timesync service does not answer. Is it running?"))
		setOrHide(s.advice, model.Advice(nil))
	case k == model.Synchronized:
		setOrHide(s.reason, "")
		setOrHide(s.advice, "")
	default:
		r := model.ReasonText(st)
		if strings.Contains(s.line.Text, r) {
			r = "" // the status line says it already
		}
		setOrHide(s.reason, r)
		setOrHide(s.advice, model.Advice(st))
	}
	warn := ""
	if st != nil {
		for i, w := range st.Warnings {
			if i > 0 {
				warn += "\n"
			}
			warn += "⚠ " + w
		}
		if st.DryRun {
			if warn != "" {
				warn += "\n"
			}
			warn += L("The service runs with --dry-run: it measures but never changes the clock.")
		}
	}
	setOrHide(s.warnings, warn)
	if k == model.Unreachable {
		s.syncNow.Disable()
	} else {
		s.syncNow.Enable()
	}
	if st != nil && st.PendingStepSeconds != nil {
		if t := L("Set the clock now ({{.Offset}})", map[string]any{"Offset": model.FormatOffset(*st.PendingStepSeconds)}); t != s.setClock.Text {
			s.setClock.SetText(t)
			s.relayoutNeeded = true
		}
		if !s.setClock.Visible() {
			s.setClock.Show()
			s.relayoutNeeded = true
		}
	} else if s.setClock.Visible() {
		s.setClock.Hide()
		s.relayoutNeeded = true
	}
	s.setFields(st)
	s.setSources(st)
	// Labels shown or hidden change the heights above the plot: lay the
	// whole window out again — only then, and without refreshing what it
	// holds, so that an update redraws just the texts that changed.
	if c := s.win.Content(); c != nil && s.relayoutNeeded {
		s.relayoutNeeded = false
		relayout(c)
	}
}

func (s *StatusWindow) setFields(st *control.Status) {
	set := func(k, v string) {
		if l := s.fields[k]; l.Text != v {
			l.SetText(v)
		}
	}
	if st == nil {
		for k := range s.fields {
			set(k, "–")
		}
		return
	}
	if st.LastSync == nil && st.Updates == 0 {
		set("Offset", "–")
	} else {
		set("Offset", model.FormatOffset(st.OffsetSeconds)+" ± "+model.FormatDuration(st.OffsetErrorSeconds))
	}
	set("Frequency", model.FormatPPM(st.FrequencyPPM))
	jit := "–"
	for _, src := range st.Sources {
		if src.Address == st.Reference {
			jit = model.FormatDuration(src.JitterSeconds)
		}
	}
	set("Jitter", jit)
	set("Root distance", model.FormatDuration(st.RootDistanceSeconds))
	ref := model.Reference(st)
	if ref == "" {
		ref = "–"
	} else if ref != st.Reference {
		ref += " (" + st.Reference + ")"
	}
	set("Reference", ref)
	set("Stratum", fmt.Sprint(st.Stratum))
	// Times of day, not "12 s ago": they stay true without a ticker
	// redrawing the window every second.
	now := s.u.d.Now()
	if st.LastSync != nil {
		set("Last sync", clockTime(*st.LastSync, now, s.u.d.Location))
	} else {
		set("Last sync", L("never"))
	}
	if n, ok := model.NextPoll(st); ok {
		set("Next poll", clockTime(now.Add(time.Duration(n*float64(time.Second))), now, s.u.d.Location))
	} else {
		set("Next poll", "–")
	}
}

func (s *StatusWindow) setSources(st *control.Status) {
	var srcs []control.Source
	if st != nil {
		srcs = append(srcs, st.Sources...)
	}
	sort.SliceStable(srcs, func(i, j int) bool { return stateRank(srcs[i].State) < stateRank(srcs[j].State) })
	cells := make([]string, 0, (len(srcs)+1)*len(sourceColumns))
	for _, c := range sourceColumns {
		if c == "" {
			cells = append(cells, "")
		} else {
			cells = append(cells, L(c))
		}
	}
	for _, src := range srcs {
		name := src.Address
		if src.Name != "" {
			name = src.Name + " (" + src.Address + ")"
		}
		last, off, delay, jit := "–", "–", "–", "–"
		if src.LastSampleSeconds != nil {
			last = model.FormatAge(*src.LastSampleSeconds)
			off = model.FormatOffset(src.OffsetSeconds)
			delay = model.FormatDuration(src.DelaySeconds)
			jit = model.FormatDuration(src.JitterSeconds)
		}
		poll := "–"
		if src.PollSeconds > 0 {
			poll = model.FormatAge(src.PollSeconds)
		}
		cells = append(cells, model.Tally(src.State), name, fmt.Sprint(src.Stratum), poll, fmt.Sprintf("%03o", src.Reach), last, off, delay, jit)
	}
	widths := false
	// Reuse the labels: only texts that changed are redrawn, and the
	// table is laid out again only when its rows change in number.
	if len(s.sources.Objects) != len(cells) {
		objs := make([]fyne.CanvasObject, len(cells))
		for i := range cells {
			if i < len(sourceColumns) {
				objs[i] = bold("")
			} else {
				objs[i] = mono("")
			}
		}
		s.sources.Objects = objs
		s.relayoutNeeded = true
	}
	for i, c := range cells {
		l := s.sources.Objects[i].(*widget.Label)
		if l.Text != c {
			if len([]rune(l.Text)) != len([]rune(c)) {
				widths = true
			}
			l.SetText(c)
		}
	}
	if widths && !s.relayoutNeeded {
		// Column widths change, the table's height does not: lay out
		// the table alone (a Refresh would also redraw every cell).
		relayout(s.sources)
	}
}

// clockTime writes t as a time of day, with the date when it is not
// today.
func clockTime(t, now time.Time, loc *time.Location) string {
	t, now = t.In(loc), now.In(loc)
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}

func stateRank(st string) int {
	for i, s := range []string{"selected", "candidate", "falseticker", "kod", "invalid", "unreachable"} {
		if s == st {
			return i
		}
	}
	return 9
}

// sync asks for a burst (Sync now) or confirms the held step (Set the
// clock now).
func (s *StatusWindow) sync(confirm bool) {
	var res *control.SyncResult
	var err error
	s.u.bg(func() {
		ctx, cancel := s.u.ctx()
		defer cancel()
		res, err = s.u.d.Client.Sync(ctx, confirm)
	}, func() {
		s.result.Show()
		switch {
		case client.IsAccessDenied(err):
			args := []string{"sync"}
			if confirm {
				args = append(args, "--confirm")
			}
			s.result.Hide()
			s.denied.Show(err, Elevation{Args: args, Socket: s.u.d.Client.Path()})
		case err != nil:
			s.denied.Hide()
			s.result.SetText(err.Error())
		case confirm && res.Confirmed:
			s.denied.Hide()
			s.result.SetText(L("The clock will be set at the next measurement."))
		default:
			s.denied.Hide()
			s.result.SetText(L("Measuring now…"))
		}
	})
}
