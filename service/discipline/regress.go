package discipline

import (
	"cmp"
	"math"
	"slices"
)

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
// for. Its gap is a concave piecewise-linear function of the slope: the
// lowest of the bounds' upper ends less the highest of their lower ends,
// each end a line in the slope. So the maximum within [blo, bhi] is at
// one of the corners of those two envelopes (or an end of the range),
// and fitBounds finds it exactly, walking the corners in order; where
// the maximum is flat (to within 1e-12) the middle of the flat part is
// taken. (It replaced a golden-section search, whose some 150
// evaluations of the gap were most of what the idle service computed.)
func fitBounds(pts []bpoint, tref, blo, bhi float64) (a, b, margin float64) {
	// The ends as lines in the slope x: upper ends c + s·x, lower ends
	// e + s·x, with s = tref − t; the highest lower end is taken as the
	// lowest of its negation. Each set is put steepest first (the points
	// come oldest first).
	// (Up to 64 points, the default history, on the stack.)
	n := len(pts)
	var lineBuf [128]envLine
	var floatBuf [6 * 64]float64
	lines, floats := lineBuf[:], floatBuf[:]
	if n > 64 {
		lines, floats = make([]envLine, 2*n), make([]float64, 6*n)
	}
	up, down := lines[:n], lines[n:2*n]
	for i, p := range pts {
		s := tref - p.t
		up[i] = envLine{s: s, c: p.y + p.h}
		down[n-1-i] = envLine{s: -s, c: p.h - p.y}
	}
	hiEnv := lowerEnvelope(up, floats[:0:n])
	loEnv := lowerEnvelope(down, floats[n:n:2*n])
	// The corners within the range, in order, with the range's ends.
	xs := floats[2*n : 2*n : 4*n] // the ends and at most 2n − 2 corners
	xs = append(xs, blo)
	i, j := 0, 0
	for i < len(hiEnv.x) || j < len(loEnv.x) {
		var x float64
		if j >= len(loEnv.x) || i < len(hiEnv.x) && hiEnv.x[i] <= loEnv.x[j] {
			x, i = hiEnv.x[i], i+1
		} else {
			x, j = loEnv.x[j], j+1
		}
		if x > blo && x < bhi {
			xs = append(xs, x)
		}
	}
	xs = append(xs, bhi)
	gs := floats[4*n : 4*n+len(xs)]
	gmax, best := math.Inf(-1), 0
	i, j = 0, 0
	for k, x := range xs {
		gs[k] = hiEnv.at(x, &i) + loEnv.at(x, &j)
		if gs[k] > gmax {
			gmax, best = gs[k], k
		}
	}
	// The ends of the part within tol of the maximum: the gap is linear
	// between corners.
	const tol = 1e-12
	floor := gmax - tol
	l, r := best, best
	for l > 0 && gs[l-1] >= floor {
		l--
	}
	for r < len(xs)-1 && gs[r+1] >= floor {
		r++
	}
	left, right := xs[l], xs[r]
	if l > 0 && gs[l] > gs[l-1] {
		left -= (xs[l] - xs[l-1]) * (gs[l] - floor) / (gs[l] - gs[l-1])
	}
	if r < len(xs)-1 && gs[r] > gs[r+1] {
		right += (xs[r+1] - xs[r]) * (gs[r] - floor) / (gs[r] - gs[r+1])
	}
	b = (left + right) / 2
	g, a := boundsGap(pts, tref, b)
	return a, b, g / 2
}

// envLine is the line c + s·x.
type envLine struct{ s, c float64 }

// envelope is the lowest of a set of lines: lines[k] is lowest between
// x[k-1] and x[k] (from −∞ and to +∞ at the ends).
type envelope struct {
	lines []envLine
	x     []float64
}

// at is the envelope at x, for x not below the x of the last call that
// shared *k (a cursor into the corners).
func (e *envelope) at(x float64, k *int) float64 {
	for *k < len(e.x) && e.x[*k] < x {
		*k++
	}
	l := e.lines[*k]
	return l.c + l.s*x
}

// lowerEnvelope is the lowest of ls (at least one line), which it
// reorders and overwrites, with its corners appended to x: towards −∞ the steepest line is lowest, towards +∞ the
// flattest, so the lines are taken from the steepest, each dropping the
// lines it hides.
func lowerEnvelope(ls []envLine, x []float64) envelope {
	if !slices.IsSortedFunc(ls, func(p, q envLine) int { return cmp.Compare(q.s, p.s) }) {
		slices.SortFunc(ls, func(p, q envLine) int { return cmp.Compare(q.s, p.s) })
	}
	// The envelope's lines are kept in ls itself: the k-th line kept is
	// written at k, never ahead of the line being read.
	e := envelope{lines: ls[:0], x: x}
	for _, l := range ls {
		if n := len(e.lines); n > 0 && e.lines[n-1].s == l.s {
			if l.c >= e.lines[n-1].c {
				continue // parallel and not lower
			}
			e.lines, e.x = e.lines[:n-1], e.x[:max(n-2, 0)]
		}
		for len(e.lines) > 0 {
			n := len(e.lines)
			top := e.lines[n-1]
			x := (l.c - top.c) / (top.s - l.s) // where l goes below top
			if n > 1 && x <= e.x[n-2] {
				// l is below top everywhere top was lowest.
				e.lines, e.x = e.lines[:n-1], e.x[:n-2]
				continue
			}
			e.x = append(e.x, x)
			break
		}
		e.lines = append(e.lines, l)
	}
	return e
}
