package gui

import (
	"image"
	"image/color"
	"image/draw"
	"math"
)

// paint draws the plot's primitives into an image of w×h pixels (the
// raster's size on screen; the ops are in canvas units). The image is
// premultiplied RGBA, what the GL painter uploads as it is (any other
// type it converts into a new image first), and the renderer's own,
// drawn over again for the next paint of the same size: a repaint of
// the plot allocates nothing.
func (r *plotRenderer) paint(w, h int) image.Image {
	img := r.img
	if img == nil || img.Rect.Dx() != w || img.Rect.Dy() != h {
		img = image.NewRGBA(image.Rect(0, 0, w, h))
		r.img = img
	} else {
		clear(img.Pix)
	}
	if r.size.Width <= 0 || r.size.Height <= 0 {
		return img
	}
	sx := float64(w) / float64(r.size.Width)
	sy := float64(h) / float64(r.size.Height)
	for _, op := range r.ops {
		x1, y1 := float64(op.x1)*sx, float64(op.y1)*sy
		x2, y2 := float64(op.x2)*sx, float64(op.y2)*sy
		switch op.kind {
		case 'r':
			draw.Draw(img, image.Rect(int(x1), int(y1), int(math.Ceil(x2)), int(math.Ceil(y2))), image.NewUniform(op.c), image.Point{}, draw.Over)
		case 'o':
			lw := math.Max(1, float64(op.w)*sx)
			line(img, x1, y1, x2, y1, lw, op.c)
			line(img, x2, y1, x2, y2, lw, op.c)
			line(img, x2, y2, x1, y2, lw, op.c)
			line(img, x1, y2, x1, y1, lw, op.c)
		case 'l':
			line(img, x1, y1, x2, y2, math.Max(1, float64(op.w)*sx), op.c)
		case 'c':
			disc(img, x1, y1, float64(op.w)*sx, op.c)
		}
	}
	return img
}

// blend paints c over the pixel at (x, y) with coverage a (0..1), in
// premultiplied alpha: out = src·a + dst·(1 − src alpha·a).
func blend(img *image.RGBA, x, y int, c color.Color, a float64) {
	if !(image.Point{x, y}.In(img.Rect)) || a <= 0 {
		return
	}
	cr, cg, cb, ca := c.RGBA() // premultiplied, 0..0xffff
	k := 1 - float64(ca)/0xffff*a
	i := img.PixOffset(x, y)
	p := img.Pix[i : i+4 : i+4]
	mix := func(src uint32, dst uint8) uint8 {
		return uint8(math.Round(float64(src)/0xffff*a*255 + float64(dst)*k))
	}
	p[0], p[1], p[2], p[3] = mix(cr, p[0]), mix(cg, p[1]), mix(cb, p[2]), mix(ca, p[3])
}

// line draws an anti-aliased segment of width lw (distance-based
// coverage over the segment's bounding box).
func line(img *image.RGBA, x1, y1, x2, y2, lw float64, c color.Color) {
	half := lw / 2
	minX, maxX := int(math.Floor(math.Min(x1, x2)-half-1)), int(math.Ceil(math.Max(x1, x2)+half+1))
	minY, maxY := int(math.Floor(math.Min(y1, y2)-half-1)), int(math.Ceil(math.Max(y1, y2)+half+1))
	b := img.Rect
	minX, minY = max(minX, b.Min.X), max(minY, b.Min.Y)
	maxX, maxY = min(maxX, b.Max.X-1), min(maxY, b.Max.Y-1)
	dx, dy := x2-x1, y2-y1
	l2 := dx*dx + dy*dy
	for y := minY; y <= maxY; y++ {
		for x := minX; x <= maxX; x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			t := 0.0
			if l2 > 0 {
				t = math.Max(0, math.Min(1, ((px-x1)*dx+(py-y1)*dy)/l2))
			}
			d := math.Hypot(px-x1-t*dx, py-y1-t*dy)
			blend(img, x, y, c, math.Min(1, half+0.5-d))
		}
	}
}

func disc(img *image.RGBA, cx, cy, rad float64, c color.Color) {
	for y := int(cy - rad - 1); y <= int(cy+rad+1); y++ {
		for x := int(cx - rad - 1); x <= int(cx+rad+1); x++ {
			d := math.Hypot(float64(x)+0.5-cx, float64(y)+0.5-cy)
			blend(img, x, y, c, math.Min(1, rad+0.5-d))
		}
	}
}
