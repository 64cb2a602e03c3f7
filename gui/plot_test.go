package gui

import (
	"fmt"
	"math"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/timesync/timesync/service/control"
)

// BenchmarkPlotPaint: one paint of the plot's raster, as the GL painter
// asks for after a history reload — an hour of 600 clock updates and
// three sources' samples at the status window's default size.
func BenchmarkPlotPaint(b *testing.B) {
	test.NewTempApp(b)
	to := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := &control.History{From: to.Add(-time.Hour), To: to, Sources: map[string][]control.SamplePoint{}}
	for i := range 600 {
		t := h.From.Add(time.Duration(i) * 6 * time.Second)
		h.System = append(h.System, control.SystemPoint{Time: t, OffsetSeconds: 3e-4 * math.Sin(float64(i)/40), FrequencyPPM: -26 + math.Cos(float64(i)/90), N: 1})
		for s := range 3 {
			if i%4 == s {
				name := fmt.Sprintf("192.0.2.%d", s+1)
				h.Sources[name] = append(h.Sources[name], control.SamplePoint{Time: t, OffsetSeconds: 3e-4*math.Sin(float64(i)/40) + float64(s-1)*2e-4})
			}
		}
	}
	p := NewPlot(time.UTC)
	p.SetHistory(h, time.Hour, to)
	r := test.WidgetRenderer(p).(*plotRenderer)
	size := fyne.NewSize(840, 330)
	p.Resize(size)
	r.Layout(size)
	for b.Loop() {
		r.paint(840, 330)
	}
}
