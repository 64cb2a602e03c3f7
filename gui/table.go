package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// tableLayout lays its objects out in rows of cols cells, each column as
// wide as its widest cell (a chronyc-style table; fyne's grid makes all
// columns equal).
type tableLayout struct{ cols int }

func (t tableLayout) widths(objs []fyne.CanvasObject) (ws []float32, rowH float32) {
	ws = make([]float32, t.cols)
	for i, o := range objs {
		ms := o.MinSize()
		ws[i%t.cols] = max(ws[i%t.cols], ms.Width)
		rowH = max(rowH, ms.Height)
	}
	return ws, rowH
}

func (t tableLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	ws, rowH := t.widths(objs)
	pad := theme.Padding()
	x, y := float32(0), float32(0)
	for i, o := range objs {
		c := i % t.cols
		if c == 0 && i > 0 {
			x = 0
			y += rowH
		}
		o.Move(fyne.NewPos(x, y))
		o.Resize(fyne.NewSize(ws[c], rowH))
		x += ws[c] + pad
	}
}

func (t tableLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	ws, rowH := t.widths(objs)
	var w float32
	for _, v := range ws {
		w += v
	}
	rows := (len(objs) + t.cols - 1) / t.cols
	return fyne.NewSize(w+theme.Padding()*float32(t.cols-1), rowH*float32(rows))
}
