package gui

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/timesync/timesync/service/control"
)

// Plot draws the system's offset (top) and frequency (bottom) over a
// range of time, with each source's raw offsets as markers, from
// /v1/history.
type Plot struct {
	widget.BaseWidget
	h   *control.History
	rng time.Duration
	to  time.Time
	loc *time.Location
	gen int // counts SetHistory calls (the renderer redraws when it changed)
}

// NewPlot returns an empty plot that writes times in loc.
func NewPlot(loc *time.Location) *Plot {
	p := &Plot{loc: loc, rng: time.Hour}
	p.ExtendBaseWidget(p)
	return p
}

// SetHistory shows h (nil: nothing) for the range ending at to.
func (p *Plot) SetHistory(h *control.History, rng time.Duration, to time.Time) {
	p.h, p.rng, p.to = h, rng, to
	if h != nil && !h.To.IsZero() {
		p.to = h.To
	}
	p.gen++
	p.Refresh()
}

// CreateRenderer implements fyne.Widget.
func (p *Plot) CreateRenderer() fyne.WidgetRenderer { return &plotRenderer{p: p} }

// MinSize keeps the plot readable.
func (p *Plot) MinSize() fyne.Size { return fyne.NewSize(500, 260) }

type plotRenderer struct {
	p    *Plot
	objs []fyne.CanvasObject
	size fyne.Size
	// The data (lines, markers, grid) is drawn into one raster image:
	// one texture instead of a canvas object per segment, so a redraw
	// costs little and the window process stays small.
	ops    []drawOp
	raster *canvas.Raster
	img    *image.RGBA // the raster's pixels, reused by the next paint
	built  fyne.Size
	genAt  int // the Plot's gen the last build drew
	// texts are the labels of the last build, reused by the next: a
	// text whose string, colour and place stay the same keeps its
	// texture (most of the axis labels, the titles and the legend when
	// a reload of the history brings a few more points).
	texts []*canvas.Text
}

// drawOp is one primitive of the raster, in canvas units.
type drawOp struct {
	kind           byte // 'l' line, 'c' filled circle, 'r' filled rectangle, 'o' rectangle outline
	x1, y1, x2, y2 float32
	w              float32 // line width or circle radius
	c              color.Color
}

func (r *plotRenderer) Destroy()                     {}
func (r *plotRenderer) MinSize() fyne.Size           { return r.p.MinSize() }
func (r *plotRenderer) Objects() []fyne.CanvasObject { return r.objs }
func (r *plotRenderer) Layout(s fyne.Size) {
	r.size = s
	if s != r.built || r.genAt != r.p.gen {
		r.build()
	}
}
func (r *plotRenderer) Refresh() {
	// build refreshes the raster and the texts that changed; a
	// canvas.Refresh of the whole plot would also throw away the
	// textures of the texts that did not.
	if r.size != r.built || r.genAt != r.p.gen {
		r.build()
	}
}

// sourceColours mark the sources, in the order of their addresses.
var sourceColours = []color.NRGBA{
	{0xd9, 0x5f, 0x02, 0xff}, {0x75, 0x70, 0xb3, 0xff}, {0xe7, 0x29, 0x8a, 0xff},
	{0x66, 0xa6, 0x1e, 0xff}, {0xa6, 0x76, 0x1d, 0xff}, {0x1b, 0x9e, 0x77, 0xff},
}

const (
	plotLeft   = 78 // room for the y labels
	plotBottom = 22 // room for the x labels
	plotGap    = 30 // between the panels
	plotTop    = 22 // the legend
)

func (r *plotRenderer) build() {
	p := r.p
	r.built, r.genAt = r.size, p.gen
	r.objs = r.objs[:0]
	r.ops = r.ops[:0]
	if r.raster == nil {
		r.raster = canvas.NewRaster(r.paint)
	}
	r.raster.Move(fyne.NewPos(0, 0))
	r.raster.Resize(r.size)
	r.objs = append(r.objs, r.raster)
	used := 0
	defer func() {
		clear(r.texts[used:])
		r.texts = r.texts[:used]
		r.raster.Refresh()
	}()
	w, h := r.size.Width, r.size.Height
	if w < plotLeft+50 || h < 120 {
		return
	}
	fg := theme.Color(theme.ColorNameForeground)
	grid := theme.Color(theme.ColorNameSeparator)
	line := theme.Color(theme.ColorNamePrimary)
	freqC := color.NRGBA{0x2a, 0x9d, 0x8f, 0xff}
	// text places s (the next text of this build) with its left edge,
	// right edge or centre at x by align, and its middle at y.
	text := func(s string, x, y float32, align fyne.TextAlign, c color.Color) {
		var t *canvas.Text
		if used < len(r.texts) {
			t = r.texts[used]
		} else {
			t = canvas.NewText("", c)
			t.TextSize = theme.CaptionTextSize()
			r.texts = append(r.texts, t)
		}
		used++
		changed := t.Text != s || t.Color != c || t.TextSize != theme.CaptionTextSize()
		t.Text, t.Color, t.TextSize = s, c, theme.CaptionTextSize()
		ms := t.MinSize()
		switch align {
		case fyne.TextAlignTrailing:
			x -= ms.Width
		case fyne.TextAlignCenter:
			x -= ms.Width / 2
		}
		t.Move(fyne.NewPos(x, y-ms.Height/2))
		if t.Size() != ms {
			t.Resize(ms) // redraws it
		} else if changed {
			t.Refresh()
		}
		r.objs = append(r.objs, t)
	}
	from := p.to.Add(-p.rng)
	if p.to.IsZero() {
		from = time.Time{}
	}
	plotW := w - plotLeft - 10
	offH := (h - plotTop - 2*plotBottom - plotGap) * 0.55
	freqH := h - plotTop - 2*plotBottom - plotGap - offH
	offY := float32(plotTop)
	freqY := offY + offH + plotBottom + plotGap
	xOf := func(t time.Time) float32 {
		return plotLeft + float32(t.Sub(from).Seconds()/p.rng.Seconds())*plotW
	}

	var sys []control.SystemPoint
	var srcNames []string
	if p.h != nil {
		sys = p.h.System
		for k := range p.h.Sources {
			srcNames = append(srcNames, k)
		}
		sort.Strings(srcNames)
	}
	// Offsets: the system's and the sources'.
	var offs, freqs []float64
	for _, pt := range sys {
		offs = append(offs, pt.OffsetSeconds)
		freqs = append(freqs, pt.FrequencyPPM)
	}
	for _, n := range srcNames {
		for _, pt := range p.h.Sources[n] {
			offs = append(offs, pt.OffsetSeconds)
		}
	}
	scale, unit := offsetUnit(offs)

	panel := func(y0, ph float32, vals []float64, mul float64, unit, title string) (func(float64) float32, bool) {
		r.ops = append(r.ops, drawOp{kind: 'r', x1: plotLeft, y1: y0, x2: plotLeft + plotW, y2: y0 + ph, c: theme.Color(theme.ColorNameInputBackground)},
			drawOp{kind: 'o', x1: plotLeft, y1: y0, x2: plotLeft + plotW, y2: y0 + ph, w: 1, c: grid})
		text(title, plotLeft, y0-10, fyne.TextAlignLeading, fg)
		if len(vals) == 0 {
			return nil, false
		}
		lo, hi := vals[0]*mul, vals[0]*mul
		for _, v := range vals {
			lo, hi = math.Min(lo, v*mul), math.Max(hi, v*mul)
		}
		ticks := niceTicks(lo, hi, 4)
		lo, hi = math.Min(lo, ticks[0]), math.Max(hi, ticks[len(ticks)-1])
		yOf := func(v float64) float32 { return y0 + ph - float32((v*mul-lo)/(hi-lo))*ph }
		for _, tk := range ticks {
			y := y0 + ph - float32((tk-lo)/(hi-lo))*ph
			r.ops = append(r.ops, drawOp{kind: 'l', x1: plotLeft, y1: y, x2: plotLeft + plotW, y2: y, w: 1, c: grid})
			text(fmtTick(tk)+" "+unit, plotLeft-4, y, fyne.TextAlignTrailing, fg)
		}
		return yOf, true
	}
	offYOf, okOff := panel(offY, offH, offs, scale, unit, L("Offset ({{.Unit}}; positive: the clock is behind)", map[string]any{"Unit": unit}))
	freqYOf, okFreq := panel(freqY, freqH, freqs, 1, "ppm", L("Frequency (ppm)"))

	// Time axis under both panels.
	for _, tk := range timeTicks(from, p.to, p.loc) {
		x := xOf(tk.t)
		for _, y0 := range []float32{offY, freqY} {
			ph := offH
			if y0 == freqY {
				ph = freqH
			}
			r.ops = append(r.ops, drawOp{kind: 'l', x1: x, y1: y0, x2: x, y2: y0 + ph, w: 1, c: grid})
			text(tk.label, x, y0+ph+plotBottom/2, fyne.TextAlignCenter, fg)
		}
	}
	if !okOff {
		text(L("No measurements in this range yet."), plotLeft+plotW/2, offY+offH/2, fyne.TextAlignCenter, fg)
	}
	if okOff {
		for i, n := range srcNames {
			c := sourceColours[i%len(sourceColours)]
			for _, pt := range p.h.Sources[n] {
				r.ops = append(r.ops, drawOp{kind: 'c', x1: xOf(pt.Time), y1: offYOf(pt.OffsetSeconds), w: 2.5, c: c})
			}
		}
		r.polyline(sys, xOf, func(pt control.SystemPoint) float32 { return offYOf(pt.OffsetSeconds) }, line)
	}
	if okFreq {
		r.polyline(sys, xOf, func(pt control.SystemPoint) float32 { return freqYOf(pt.FrequencyPPM) }, freqC)
	}
	// Legend, right-aligned above the offset panel.
	x := plotLeft + plotW
	items := []struct {
		name string
		c    color.Color
	}{{L("system"), line}}
	for i, n := range srcNames {
		items = append(items, struct {
			name string
			c    color.Color
		}{n, sourceColours[i%len(sourceColours)]})
	}
	for i := len(items) - 1; i >= 0; i-- {
		text(items[i].name, x, offY-10, fyne.TextAlignTrailing, fg)
		x -= r.texts[used-1].Size().Width
		x -= 12
		r.ops = append(r.ops, drawOp{kind: 'c', x1: x + 4, y1: offY - 10, w: 4, c: items[i].c})
		x -= 12
	}
}

func (r *plotRenderer) polyline(pts []control.SystemPoint, xOf func(time.Time) float32, yOf func(control.SystemPoint) float32, c color.Color) {
	for i := 1; i < len(pts); i++ {
		r.ops = append(r.ops, drawOp{kind: 'l', x1: xOf(pts[i-1].Time), y1: yOf(pts[i-1]), x2: xOf(pts[i].Time), y2: yOf(pts[i]), w: 2, c: c})
	}
	if len(pts) == 1 {
		r.ops = append(r.ops, drawOp{kind: 'c', x1: xOf(pts[0].Time), y1: yOf(pts[0]), w: 3, c: c})
	}
}

// offsetUnit picks the unit of an offset axis from the largest value.
func offsetUnit(vals []float64) (scale float64, unit string) {
	m := 0.0
	for _, v := range vals {
		m = math.Max(m, math.Abs(v))
	}
	switch {
	case m < 1e-3:
		return 1e6, "µs"
	case m < 1:
		return 1e3, "ms"
	}
	return 1, "s"
}

// niceTicks returns about n round tick values covering lo..hi.
func niceTicks(lo, hi float64, n int) []float64 {
	if hi-lo < 1e-12 {
		d := math.Max(math.Abs(lo)*0.1, 1e-3)
		lo, hi = lo-d, hi+d
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ts []float64
	for v := math.Floor(lo/step) * step; v <= hi+step*1e-9; v += step {
		ts = append(ts, math.Round(v/step)*step)
	}
	if ts[len(ts)-1] < hi {
		ts = append(ts, ts[len(ts)-1]+step)
	}
	return ts
}

func fmtTick(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e6 {
		return fmt.Sprintf("%.0f", v)
	}
	s := fmt.Sprintf("%.3g", v)
	return s
}

type timeTick struct {
	t     time.Time
	label string
}

// timeTicks returns round times between from and to: every 10 min for
// an hour, every 4 h for a day, every day for a week.
func timeTicks(from, to time.Time, loc *time.Location) []timeTick {
	span := to.Sub(from)
	if span <= 0 || from.IsZero() {
		return nil
	}
	var step time.Duration
	layout := "15:04"
	switch {
	case span <= 2*time.Hour:
		step = 10 * time.Minute
	case span <= 36*time.Hour:
		step = 4 * time.Hour
	default:
		step = 24 * time.Hour
		layout = "Mon 02"
	}
	f := from.In(loc)
	var t time.Time
	if step == 24*time.Hour {
		t = time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
	} else {
		t = f.Truncate(step)
	}
	var ts []timeTick
	for ; !t.After(to); t = t.Add(step) {
		if t.Before(from) {
			continue
		}
		ts = append(ts, timeTick{t, t.In(loc).Format(layout)})
	}
	return ts
}
