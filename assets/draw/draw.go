// Package draw draws timesync's icons from shapes (signed distances,
// 4×4 supersampled), so that every size is drawn rather than scaled and
// the outputs are reproducible byte for byte. assets/gen writes them;
// the assets package embeds what it wrote.
package draw

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
)

// States, in the order the tray uses them.
var States = []string{"synchronized", "syncing", "unsynchronized", "unreachable"}

// Panels: the icon is drawn for a light panel (dark outlines) and for a
// dark panel (light outlines).
var Panels = []string{"light", "dark"}

// PNGSizes are the sizes drawn as PNG: Linux panels ask for 16–64 px
// (StatusNotifierItem hosts pick the nearest), macOS menu bars 18/36.
var PNGSizes = []int{16, 18, 22, 24, 32, 36, 48, 64}

// ICOSizes are the sizes packed into each Windows .ico (100–250 %
// scaling of the 16 px notification-area icon, and 48/64 for lists).
var ICOSizes = []int{16, 20, 24, 32, 40, 48, 64}

// File is one output file.
type File struct {
	Name string
	Data []byte
}

// All draws every file: tray-STATE-PANEL-SIZE.png, tray-STATE-PANEL.ico,
// and the application icon timesync-SIZE.png (+ timesync.ico).
func All() ([]File, error) {
	var files []File
	for _, st := range States {
		for _, p := range Panels {
			for _, sz := range PNGSizes {
				b, err := encodePNG(Tray(st, p == "dark", sz))
				if err != nil {
					return nil, err
				}
				files = append(files, File{fmt.Sprintf("tray-%s-%s-%d.png", st, p, sz), b})
			}
			ico, err := encodeICO(func(sz int) image.Image { return Tray(st, p == "dark", sz) })
			if err != nil {
				return nil, err
			}
			files = append(files, File{fmt.Sprintf("tray-%s-%s.ico", st, p), ico})
		}
	}
	for _, sz := range []int{32, 48, 64, 128, 256} {
		b, err := encodePNG(App(sz))
		if err != nil {
			return nil, err
		}
		files = append(files, File{fmt.Sprintf("timesync-%d.png", sz), b})
	}
	ico, err := encodeICO(App)
	if err != nil {
		return nil, err
	}
	files = append(files, File{"timesync.ico", ico})
	return files, nil
}

// Colours. The fills are chosen to differ in lightness as well as hue.
var (
	green  = color.NRGBA{0x1f, 0x9d, 0x4a, 0xff}
	amber  = color.NRGBA{0xe8, 0xa3, 0x00, 0xff}
	red    = color.NRGBA{0xd3, 0x2f, 0x2f, 0xff}
	grey   = color.NRGBA{0x8a, 0x8a, 0x8a, 0xff}
	white  = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	ink    = color.NRGBA{0x20, 0x20, 0x20, 0xff}
	paper  = color.NRGBA{0xf2, 0xf2, 0xf2, 0xff}
	blue   = color.NRGBA{0x1e, 0x66, 0xc8, 0xff}
	shadow = color.NRGBA{0x0b, 0x3d, 0x80, 0xff}
)

// layer is one shape: its signed distance (negative inside, in units of
// the icon's width) and its colour.
type layer struct {
	d func(x, y float64) float64
	c color.NRGBA
}

// Tray draws the tray icon of state for a light or dark panel at size
// px.
func Tray(state string, dark bool, size int) image.Image {
	edge := ink // the outline that separates the shape from the panel
	fg := ink   // glyphs drawn in the panel's text colour
	if dark {
		edge, fg = paper, paper
	}
	// A thinner outline at small sizes would vanish; keep it ≥ 1 px.
	ow := math.Max(1.0/float64(size), 0.045)
	var ls []layer
	switch state {
	case "synchronized": // a disc with a check mark
		disc := circle(0.5, 0.5, 0.44)
		ls = []layer{
			{grow(disc, ow), edge},
			{disc, green},
			{stroke(polyline([][2]float64{{0.29, 0.52}, {0.44, 0.67}, {0.72, 0.36}}), 0.065), white},
		}
	case "syncing": // a clock: a thick ring with two hands
		ring := annulus(0.5, 0.5, 0.38, 0.085)
		ls = []layer{
			{grow(ring, ow), edge},
			{ring, amber},
			{stroke(segment(0.5, 0.5, 0.5, 0.27), 0.05), fg},
			{stroke(segment(0.5, 0.5, 0.66, 0.58), 0.05), fg},
		}
	case "unsynchronized": // a triangle with an exclamation mark
		tri := roundTri(0.5, 0.07, 0.06, 0.9, 0.94, 0.9, 0.05)
		ls = []layer{
			{grow(tri, ow), edge},
			{tri, red},
			{stroke(segment(0.5, 0.38, 0.5, 0.62), 0.055), white},
			{circle(0.5, 0.76, 0.06), white},
		}
	case "unreachable": // a hollow square with a cross, both grey
		sq := hollow(box(0.5, 0.5, 0.42, 0.42, 0.1), 0.05)
		x := union(stroke(segment(0.38, 0.38, 0.62, 0.62), 0.05), stroke(segment(0.62, 0.38, 0.38, 0.62), 0.05))
		ls = []layer{
			{grow(sq, ow), edge},
			{grow(x, ow), edge},
			{sq, grey},
			{x, grey},
		}
	default:
		panic("draw: unknown state " + state)
	}
	return render(size, ls)
}

// App draws the application icon: a clock face on a blue disc.
func App(size int) image.Image {
	disc := circle(0.5, 0.5, 0.46)
	return render(size, []layer{
		{disc, shadow},
		{circle(0.5, 0.5, 0.42), blue},
		{circle(0.5, 0.5, 0.33), white},
		{stroke(segment(0.5, 0.5, 0.5, 0.25), 0.035), ink},
		{stroke(segment(0.5, 0.5, 0.68, 0.6), 0.035), ink},
		{circle(0.5, 0.5, 0.04), red},
	})
}

// render paints the layers in order with 4×4 samples a pixel.
func render(size int, ls []layer) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	const ss = 4
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64 // premultiplied sums
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) / float64(size)
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(size)
					var cr, cg, cb, ca float64
					for _, l := range ls {
						if l.d(x, y) > 0 {
							continue
						}
						la := float64(l.c.A) / 255
						cr = float64(l.c.R)/255*la + cr*(1-la)
						cg = float64(l.c.G)/255*la + cg*(1-la)
						cb = float64(l.c.B)/255*la + cb*(1-la)
						ca = la + ca*(1-la)
					}
					r, g, b, a = r+cr, g+cg, b+cb, a+ca
				}
			}
			n := float64(ss * ss)
			r, g, b, a = r/n, g/n, b/n, a/n
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(math.Round(r / a * 255)), G: uint8(math.Round(g / a * 255)),
				B: uint8(math.Round(b / a * 255)), A: uint8(math.Round(a * 255)),
			})
		}
	}
	return img
}

type sdf = func(x, y float64) float64

func circle(cx, cy, r float64) sdf {
	return func(x, y float64) float64 { return math.Hypot(x-cx, y-cy) - r }
}

func annulus(cx, cy, r, half float64) sdf {
	return func(x, y float64) float64 { return math.Abs(math.Hypot(x-cx, y-cy)-r) - half }
}

func union(a, b sdf) sdf { return func(x, y float64) float64 { return math.Min(a(x, y), b(x, y)) } }

func grow(d sdf, by float64) sdf { return func(x, y float64) float64 { return d(x, y) - by } }

func hollow(d sdf, half float64) sdf {
	return func(x, y float64) float64 { return math.Abs(d(x, y)+half) - half }
}

func stroke(d sdf, half float64) sdf { return func(x, y float64) float64 { return d(x, y) - half } }

// segment is the distance to the segment (x0,y0)–(x1,y1).
func segment(x0, y0, x1, y1 float64) sdf {
	return func(x, y float64) float64 {
		dx, dy := x1-x0, y1-y0
		t := ((x-x0)*dx + (y-y0)*dy) / (dx*dx + dy*dy)
		t = math.Max(0, math.Min(1, t))
		return math.Hypot(x-x0-t*dx, y-y0-t*dy)
	}
}

func polyline(pts [][2]float64) sdf {
	return func(x, y float64) float64 {
		d := math.Inf(1)
		for i := 1; i < len(pts); i++ {
			d = math.Min(d, segment(pts[i-1][0], pts[i-1][1], pts[i][0], pts[i][1])(x, y))
		}
		return d
	}
}

// box is a rounded rectangle centred at (cx,cy) with half sizes hw, hh
// and corner radius r.
func box(cx, cy, hw, hh, r float64) sdf {
	return func(x, y float64) float64 {
		qx := math.Abs(x-cx) - hw + r
		qy := math.Abs(y-cy) - hh + r
		return math.Hypot(math.Max(qx, 0), math.Max(qy, 0)) + math.Min(math.Max(qx, qy), 0) - r
	}
}

// roundTri is the triangle a, b, c with its corners rounded by r (the
// triangle shrunk by r, then grown by r).
func roundTri(ax, ay, bx, by, cx, cy, r float64) sdf {
	// Shrink toward the centroid so that the rounded shape keeps the
	// given outer size.
	gx, gy := (ax+bx+cx)/3, (ay+by+cy)/3
	k := 1 - 2.2*r/math.Hypot(ax-gx, ay-gy)
	ax, ay = gx+(ax-gx)*k, gy+(ay-gy)*k
	bx, by = gx+(bx-gx)*k, gy+(by-gy)*k
	cx, cy = gx+(cx-gx)*k, gy+(cy-gy)*k
	edges := []sdf{segment(ax, ay, bx, by), segment(bx, by, cx, cy), segment(cx, cy, ax, ay)}
	return func(x, y float64) float64 {
		d := math.Min(edges[0](x, y), math.Min(edges[1](x, y), edges[2](x, y)))
		if inTri(x, y, ax, ay, bx, by, cx, cy) {
			d = -d
		}
		return d - r
	}
}

func inTri(x, y, ax, ay, bx, by, cx, cy float64) bool {
	s := func(px, py, qx, qy, rx, ry float64) float64 { return (px-rx)*(qy-ry) - (qx-rx)*(py-ry) }
	d1, d2, d3 := s(x, y, ax, ay, bx, by), s(x, y, bx, by, cx, cy), s(x, y, cx, cy, ax, ay)
	neg := d1 < 0 || d2 < 0 || d3 < 0
	pos := d1 > 0 || d2 > 0 || d3 > 0
	return !(neg && pos)
}

func encodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	e := png.Encoder{CompressionLevel: png.BestCompression}
	if err := e.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// encodeICO packs PNG images of ICOSizes into one .ico (PNG entries,
// which Windows reads since Vista).
func encodeICO(draw func(int) image.Image) ([]byte, error) {
	var pngs [][]byte
	for _, sz := range ICOSizes {
		b, err := encodePNG(draw(sz))
		if err != nil {
			return nil, err
		}
		pngs = append(pngs, b)
	}
	var out bytes.Buffer
	le := binary.LittleEndian
	binary.Write(&out, le, [3]uint16{0, 1, uint16(len(pngs))}) // reserved, type icon, count
	off := 6 + 16*len(pngs)
	for i, b := range pngs {
		sz := ICOSizes[i]
		w := byte(sz)
		if sz >= 256 {
			w = 0
		}
		out.Write([]byte{w, w, 0, 0})
		binary.Write(&out, le, [2]uint16{1, 32}) // planes, bits per pixel
		binary.Write(&out, le, [2]uint32{uint32(len(b)), uint32(off)})
		off += len(b)
	}
	for _, b := range pngs {
		out.Write(b)
	}
	return out.Bytes(), nil
}
