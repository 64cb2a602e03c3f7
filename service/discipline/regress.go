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
