package sim

import (
	"math"
	"slices"
)

// Stats summarises a trace of x(t) = clock − true time sampled once per
// simulated second. Offsets are in seconds, frequencies in ppm, times in
// seconds since the start. The JSON names are the command's contract.
//
// RMSFreqError (rms_frequency_error_ppm) is the RMS, over the window, of
// the clock's total frequency error sampled at each whole second: the
// oscillator's error and the whole correction in force, a slew in
// progress included at its rate. It is therefore not the error of the
// frequency estimate alone: a run that slews often (even at the routine
// 500 ppm for a fraction of a second) shows it.
type Stats struct {
	RMSOffset     float64 `json:"rms_offset_seconds"`
	MaxAbsOffset  float64 `json:"max_abs_offset_seconds"`
	P50AbsOffset  float64 `json:"p50_abs_offset_seconds"`
	P95AbsOffset  float64 `json:"p95_abs_offset_seconds"`
	P99AbsOffset  float64 `json:"p99_abs_offset_seconds"`
	MeanOffset    float64 `json:"mean_offset_seconds"`
	RMSFreqError  float64 `json:"rms_frequency_error_ppm"`
	FirstBelow1ms float64 `json:"first_below_1ms_seconds"`
	Converged1ms  float64 `json:"converged_1ms_seconds"`
}

// ConvergenceThreshold is the |x| the convergence figures refer to.
const ConvergenceThreshold = 1e-3

// ComputeStats computes the statistics of a trace: x[k] and freqPPM[k]
// are the offset and the frequency error at second k. The window of the
// offset and frequency figures is k ≥ from (to the end). Percentiles are
// nearest-rank: the p-quantile of n sorted values is the ⌈p·n⌉-th.
// FirstBelow1ms is the first k (whole trace) with |x| < 1 ms;
// Converged1ms is 1 + the last k with |x| ≥ 1 ms (0 if there is none).
// Either is −1 when it does not exist: never below, or still above at the
// end of the trace.
func ComputeStats(x, freqPPM []float64, from int) Stats {
	st := Stats{FirstBelow1ms: -1, Converged1ms: 0}
	for k, v := range x {
		if math.Abs(v) < ConvergenceThreshold {
			if st.FirstBelow1ms < 0 {
				st.FirstBelow1ms = float64(k)
			}
		} else {
			st.Converged1ms = float64(k + 1)
		}
	}
	if n := len(x); n > 0 && math.Abs(x[n-1]) >= ConvergenceThreshold {
		st.Converged1ms = -1
	}
	from = max(from, 0)
	if from >= len(x) {
		return st
	}
	w := x[from:]
	abs := make([]float64, len(w))
	var sum, sum2 float64
	for i, v := range w {
		sum += v
		sum2 += v * v
		abs[i] = math.Abs(v)
	}
	n := float64(len(w))
	st.MeanOffset = sum / n
	st.RMSOffset = math.Sqrt(sum2 / n)
	slices.Sort(abs)
	st.MaxAbsOffset = abs[len(abs)-1]
	st.P50AbsOffset = quantile(abs, 0.50)
	st.P95AbsOffset = quantile(abs, 0.95)
	st.P99AbsOffset = quantile(abs, 0.99)
	if from < len(freqPPM) {
		var f2 float64
		fw := freqPPM[from:min(len(freqPPM), len(x))]
		for _, f := range fw {
			f2 += f * f
		}
		st.RMSFreqError = math.Sqrt(f2 / float64(len(fw)))
	}
	return st
}

// quantile is the nearest-rank p-quantile of sorted values.
func quantile(sorted []float64, p float64) float64 {
	k := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// Summary is the mean of each figure over runs, with its minimum and
// maximum.
type Summary struct {
	Stats       // the means, under the same names as a run's
	Min   Stats `json:"min"`
	Max   Stats `json:"max"`
}

// Summarize averages stats over runs. A convergence figure of −1 (never)
// in any run makes that figure's mean −1.
func Summarize(runs []Stats) Summary {
	var s Summary
	if len(runs) == 0 {
		return s
	}
	fields := func(st *Stats) []*float64 {
		return []*float64{&st.RMSOffset, &st.MaxAbsOffset, &st.P50AbsOffset, &st.P95AbsOffset, &st.P99AbsOffset,
			&st.MeanOffset, &st.RMSFreqError, &st.FirstBelow1ms, &st.Converged1ms}
	}
	mean, lo, hi := fields(&s.Stats), fields(&s.Min), fields(&s.Max)
	never := make([]bool, len(mean))
	for i := range mean {
		*lo[i], *hi[i] = math.Inf(1), math.Inf(-1)
	}
	for r := range runs {
		for i, f := range fields(&runs[r]) {
			*mean[i] += *f
			*lo[i] = math.Min(*lo[i], *f)
			*hi[i] = math.Max(*hi[i], *f)
			if i >= 7 && *f < 0 {
				never[i] = true
			}
		}
	}
	for i := range mean {
		*mean[i] /= float64(len(runs))
		if never[i] {
			*mean[i] = -1
		}
	}
	return s
}
