package discipline

import (
	"math"
	"math/rand"
	"slices"
	"testing"
)

// boundPoints are n measurements 16 s apart of a clock 3 ppm off, over a
// path of 100 µs plus exponential queueing on each leg (mean 30 µs).
func boundPoints(n int, seed int64) []bpoint {
	r := rand.New(rand.NewSource(seed))
	pts := make([]bpoint, n)
	for i := range pts {
		d1, d2 := r.ExpFloat64()*30e-6, r.ExpFloat64()*30e-6
		pts[i] = bpoint{t: float64(i) * 16, y: 3e-6*float64(i)*16 + (d1-d2)/2, h: (100e-6 + d1 + d2) / 2}
	}
	return pts
}

// TestFitBoundsAgainstSearch checks the exact fit against a golden-
// section search of the gap (the fit's previous implementation) on 20,000
// random histories of 1 to 80 points: half of them with a 200 µs jump,
// some fitted at a later reference time, some over a range of slopes as
// narrow as a prior makes it (0.1 ppm), where the maximum is often at
// an end of the range. The exact fit never leaves a smaller margin than
// the search (beyond rounding), and finds the same line.
func TestFitBoundsAgainstSearch(t *testing.T) {
	var worstM, worstB, worstA float64
	for seed := int64(0); seed < 20000; seed++ {
		r := rand.New(rand.NewSource(seed))
		n := 1 + r.Intn(80)
		pts := boundPoints(n, seed)
		if seed%2 == 0 {
			for i := n / 2; i < n; i++ {
				pts[i].y += 200e-6
			}
		}
		tref := pts[n-1].t
		if seed%5 == 0 {
			tref += 5
		}
		c, span := r.Float64()*4e-6-2e-6, 1e-3
		if seed%7 == 0 {
			span = 1e-7
		}
		a1, b1, m1 := fitBounds(pts, tref, c-span, c+span)
		a2, b2, m2 := fitBoundsSearch(pts, tref, c-span, c+span)
		worstM, worstB, worstA = max(worstM, m2-m1), max(worstB, math.Abs(b1-b2)), max(worstA, math.Abs(a1-a2))
		if m1 < m2-1e-13 || math.Abs(b1-b2) > 1e-12 || math.Abs(a1-a2) > 1e-9 {
			t.Fatalf("seed %d, %d points: exact a=%.15g b=%.15g margin=%.15g, search a=%.15g b=%.15g margin=%.15g", seed, n, a1, b1, m1, a2, b2, m2)
		}
	}
	t.Logf("worst: margin %.3g s below the search's, slopes %.3g apart, offsets %.3g s apart", worstM, worstB, worstA)
}

// Points at equal times (parallel lines), in time order and reversed
// (sorted by the fit), give the same fit, and the search's.
func TestFitBoundsUnordered(t *testing.T) {
	pts := boundPoints(20, 3)
	// A second point at the time of the sixth, in order (no sort).
	pts = slices.Insert(pts, 6, bpoint{t: pts[5].t, y: pts[5].y + 20e-6, h: pts[5].h - 30e-6})
	a1, b1, m1 := fitBounds(pts, 320, -1e-3, 1e-3)
	rev := make([]bpoint, len(pts))
	for i, p := range pts {
		rev[len(pts)-1-i] = p
	}
	a2, b2, m2 := fitBounds(rev, 320, -1e-3, 1e-3)
	a3, b3, m3 := fitBoundsSearch(pts, 320, -1e-3, 1e-3)
	if a1 != a2 || b1 != b2 || m1 != m2 || m1 < m3-1e-13 || math.Abs(b1-b3) > 1e-12 {
		t.Errorf("in order a=%g b=%g margin=%g, reversed %g %g %g, search %g %g %g", a1, b1, m1, a2, b2, m2, a3, b3, m3)
	}
}

// The exact fit against the search it replaced, on the idle service's
// usual history of 64 points.
func BenchmarkFitBounds(b *testing.B) {
	pts := boundPoints(64, 1)
	for b.Loop() {
		fitBounds(pts, pts[63].t, 3e-6-1e-3, 3e-6+1e-3)
	}
}

func BenchmarkFitBoundsSearch(b *testing.B) {
	pts := boundPoints(64, 1)
	for b.Loop() {
		fitBoundsSearch(pts, pts[63].t, 3e-6-1e-3, 3e-6+1e-3)
	}
}

// fitBoundsSearch is the golden-section search fitBounds once was: the
// gap is concave in the slope, so the search converges on its maximum;
// a flat maximum's ends are then found by bisection and its middle taken.
func fitBoundsSearch(pts []bpoint, tref, blo, bhi float64) (a, b, margin float64) {
	f := func(b float64) float64 { g, _ := boundsGap(pts, tref, b); return g }
	const invPhi = 0.6180339887498949
	lo, hi := blo, bhi
	x1, x2 := hi-invPhi*(hi-lo), lo+invPhi*(hi-lo)
	f1, f2 := f(x1), f(x2)
	for i := 0; i < 200 && hi-lo > 1e-15; i++ {
		if f1 < f2 {
			lo, x1, f1 = x1, x2, f2
			x2 = lo + invPhi*(hi-lo)
			f2 = f(x2)
		} else {
			hi, x2, f2 = x2, x1, f1
			x1 = hi - invPhi*(hi-lo)
			f1 = f(x1)
		}
	}
	best := (lo + hi) / 2
	gmax := f(best)
	// Widen to the ends of a flat maximum and take its middle.
	const tol = 1e-12
	edge := func(inside, outside float64) float64 {
		for i := 0; i < 100 && math.Abs(outside-inside) > 1e-15; i++ {
			mid := (inside + outside) / 2
			if f(mid) >= gmax-tol {
				inside = mid
			} else {
				outside = mid
			}
		}
		return inside
	}
	b = (edge(best, blo) + edge(best, bhi)) / 2
	g, a := boundsGap(pts, tref, b)
	return a, b, g / 2
}
