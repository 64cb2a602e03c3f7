package discipline

import "math"

// point is one measurement in the regression: time t (seconds since the
// discipline's epoch), raw phase y (seconds) and the variance v (s²) of
// its error.
type point struct {
	t, y, v float64
}

// line is a weighted least-squares fit y = a + b·(t − tref) with the
// covariance of (a, b) and the fit's weighted residual sum of squares.
type line struct {
	tref          float64
	a, b          float64
	caa, cab, cbb float64 // covariance, from the modelled variances
	chi2          float64 // Σ (residual²/v) over the points
	n             int
}

// at returns the fitted value at t and its variance.
func (l line) at(t float64) (y, v float64) {
	dt := t - l.tref
	return l.a + l.b*dt, l.caa + 2*dt*l.cab + dt*dt*l.cbb
}

// slopePrior is an independent estimate of the slope (the drift file's
// frequency), taken into the fit as one more equation b = b0 ± sd.
type slopePrior struct {
	b0, sd float64
}

// fitLine fits pts (at least one point; two if there is no prior) by
// weighted least squares, each point weighted by 1/v. tref should be near
// the points (the newest) to keep the sums well conditioned. ok is false
// when the fit is undetermined.
func fitLine(pts []point, tref float64, prior *slopePrior) (l line, ok bool) {
	var s, st, stt, sy, sty float64
	for _, p := range pts {
		w := 1 / p.v
		dt := p.t - tref
		s += w
		st += w * dt
		stt += w * dt * dt
		sy += w * p.y
		sty += w * dt * p.y
	}
	if prior != nil && prior.sd > 0 {
		w := 1 / (prior.sd * prior.sd)
		stt += w
		sty += w * prior.b0
	}
	det := s*stt - st*st
	if !(det > 0) || math.IsInf(det, 0) {
		return line{}, false
	}
	l = line{tref: tref, n: len(pts)}
	l.a = (stt*sy - st*sty) / det
	l.b = (s*sty - st*sy) / det
	l.caa, l.cab, l.cbb = stt/det, -st/det, s/det
	for _, p := range pts {
		r := p.y - (l.a + l.b*(p.t-tref))
		l.chi2 += r * r / p.v
	}
	return l, true
}

// runsOK reports whether the signs of the residuals of pts about l are
// random enough (Wald–Wolfowitz runs test, one-sided at about 2.3 σ): too
// few runs mean the points bend away from a line (the frequency wandered)
// and the oldest ones should go. Zero residuals count as positive.
func runsOK(pts []point, l line) bool {
	n := len(pts)
	if n < 6 {
		return true
	}
	var pos, neg, runs int
	prev := 0
	for _, p := range pts {
		sign := 1
		if p.y-(l.a+l.b*(p.t-l.tref)) < 0 {
			sign = -1
		}
		if sign > 0 {
			pos++
		} else {
			neg++
		}
		if sign != prev {
			runs++
			prev = sign
		}
	}
	if pos == 0 || neg == 0 {
		return false
	}
	fn, fp, fm := float64(n), float64(pos), float64(neg)
	mu := 2*fp*fm/fn + 1
	variance := (mu - 1) * (mu - 2) / (fn - 1)
	if variance <= 0 {
		return true
	}
	return (float64(runs)-mu)/math.Sqrt(variance) > -2.3
}

// bpoint is a measurement with its error bound: the true raw phase at t
// lies within y ± h, less whatever base the path's fixed delay accounts
// for (h is half the round-trip delay).
type bpoint struct {
	t, y, h float64
}

// boundsGap is, for slope b, twice the largest common margin m for which
// a line of slope b passes within every point's y ± (h − m), with the
// offset of that line at tref (the middle of the feasible offsets).
func boundsGap(pts []bpoint, tref, b float64) (gap, a float64) {
	hi, lo := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		z := p.y - b*(p.t-tref)
		// Plain comparisons, not math.Min and math.Max (assembly calls
		// on amd64) nor the builtins (which spend on ordering NaN and
		// ±0): every term here is a finite measurement, and this loop
		// is most of what the idle service computes per sample.
		if u := z + p.h; u < hi {
			hi = u
		}
		if l := z - p.h; l > lo {
			lo = l
		}
	}
	return hi - lo, (hi + lo) / 2
}

// fitBounds finds the line that leaves the largest common margin inside
// every point's error bound: the maximum-likelihood line when the two
// legs' queueing delays are independent and exponential, for then the
// likelihood grows with the common fixed delay the bounds leave room
// for. Its gap is a concave piecewise-linear function of the slope, so a
// golden-section search finds the best slope within [blo, bhi]; where the
// maximum is flat the middle of the flat part is taken.
func fitBounds(pts []bpoint, tref, blo, bhi float64) (a, b, margin float64) {
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
