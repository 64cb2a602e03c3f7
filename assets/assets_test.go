package assets

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/timesync/timesync/assets/draw"
)

// TestIconsAreGenerated checks that the committed icons are exactly what
// assets/gen draws now: a changed shape needs "go generate ./assets".
func TestIconsAreGenerated(t *testing.T) {
	files, err := draw.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join("icons", f.Name))
		if err != nil {
			t.Errorf("%s: %v (run go generate ./assets)", f.Name, err)
			continue
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("icons/%s differs from what assets/gen draws (run go generate ./assets)", f.Name)
		}
	}
}

func TestTrayIconSizes(t *testing.T) {
	for _, st := range draw.States {
		for _, tc := range []struct{ ask, want int }{{16, 16}, {20, 22}, {22, 22}, {64, 64}, {128, 64}} {
			img, err := png.Decode(bytes.NewReader(TrayIcon(st, false, tc.ask)))
			if err != nil {
				t.Fatalf("%s %d: %v", st, tc.ask, err)
			}
			if got := img.Bounds().Dx(); got != tc.want {
				t.Errorf("TrayIcon(%s, %d): got %d px, want %d", st, tc.ask, got, tc.want)
			}
		}
	}
}

// TestStatesDifferInShape checks that the four states are told apart
// without colour: their alpha masks (the shapes alone) differ pairwise
// in at least a sixth of the pixels at 22 px.
func TestStatesDifferInShape(t *testing.T) {
	masks := map[string][]bool{}
	for _, st := range draw.States {
		img := draw.Tray(st, false, 22)
		var m []bool
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				_, _, _, a := img.At(x, y).RGBA()
				m = append(m, a > 0x8000)
			}
		}
		masks[st] = m
	}
	for i, a := range draw.States {
		for _, b := range draw.States[i+1:] {
			diff := 0
			for k := range masks[a] {
				if masks[a][k] != masks[b][k] {
					diff++
				}
			}
			if diff < len(masks[a])/6 {
				t.Errorf("%s and %s differ in %d of %d pixels of shape; want at least a sixth", a, b, diff, len(masks[a]))
			}
		}
	}
}
