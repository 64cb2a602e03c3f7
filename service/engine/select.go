package engine

import (
	"fmt"
	"sort"
	"time"
)

// State is what the engine thinks of a source. The strings are part of the
// JSON contract (DESIGN.md).
type State string

// Source states.
const (
	StateSelected    State = "selected"    // contributes to the combined time
	StateCandidate   State = "candidate"   // valid, but not (or not yet) used
	StateFalseticker State = "falseticker" // outside the majority's intersection
	StateUnreachable State = "unreachable" // no valid reply
	StateKoD         State = "kod"         // sent a kiss-o'-death
	StateInvalid     State = "invalid"     // replied, but the reply failed validation
)

// Candidate is a source offered to selection: its offset estimate and its
// correctness interval [Offset−Distance, Offset+Distance].
type Candidate struct {
	Offset   time.Duration
	Distance time.Duration // root distance λ (including jitter), > 0
	Stratum  uint8
	Prefer   bool
}

// Selection is the outcome of Select for a set of candidates.
type Selection struct {
	// States and Reasons are per candidate, in the order given.
	States  []State
	Reasons []string
	// OK reports whether a trustworthy time was found.
	OK bool
	// Why says in words why not, when !OK.
	Why string
	// Offset is the combined offset of the selected candidates, weighted
	// by 1/λ (RFC 5905 section 11.2.3); Distance is the combined λ.
	Offset   time.Duration
	Distance time.Duration
	// Best is the index of the system peer: the selected candidate with
	// the lowest root distance (a prefer source wins when selected).
	Best int
}

// Select runs intersection over the candidates' correctness intervals,
// with chrony's rule: it finds the smallest number of falsetickers f < n/2
// for which n−f intervals share a common region, so intervals that
// overlap form a majority whatever their midpoints (RFC 5905 section
// 11.2.1 also demands that no more than f midpoints lie outside the
// region, which turns two sources at 0 ± 10 ms and 15 ± 10 ms into "no
// majority"). Candidates whose interval misses that region are
// falsetickers and the rest are combined; RFC 5905's reference code
// instead drops candidates whose midpoint lies outside it, which discards
// truechimers whose error bars merely reach the region.
// Fewer than minSources truechimers (minimum 1) means no trustworthy time.
//
// Offset and Distance of the Selection are the RFC's 1/λ-weighted
// average, kept for callers that have nothing better; the service and
// timesync --once combine the selected sources with Combine.
func Select(cands []Candidate, minSources int) Selection {
	n := len(cands)
	sel := Selection{States: make([]State, n), Reasons: make([]string, n), Best: -1}
	if minSources < 1 {
		minSources = 1
	}
	for i := range sel.States {
		sel.States[i] = StateCandidate
	}
	if n == 0 {
		sel.Why = "no usable time sources"
		return sel
	}
	low, high, ok := intersect(cands)
	if !ok {
		sel.Why = fmt.Sprintf("no majority: the %d sources disagree", n)
		for i := range sel.Reasons {
			sel.Reasons[i] = "no majority of sources agrees"
		}
		return sel
	}
	var truechimers []int
	for i, c := range cands {
		if c.Offset+c.Distance < low || c.Offset-c.Distance > high {
			sel.States[i] = StateFalseticker
			sel.Reasons[i] = fmt.Sprintf("offset %+.6f s ± %.6f s lies outside the majority's interval [%+.6f, %+.6f] s",
				c.Offset.Seconds(), c.Distance.Seconds(), low.Seconds(), high.Seconds())
			continue
		}
		truechimers = append(truechimers, i)
	}
	if len(truechimers) < minSources {
		sel.Why = fmt.Sprintf("only %d source(s) agree, minsources is %d", len(truechimers), minSources)
		for _, i := range truechimers {
			sel.Reasons[i] = fmt.Sprintf("fewer than minsources %d sources agree", minSources)
		}
		return sel
	}
	var wsum, osum, dsum float64
	for _, i := range truechimers {
		c := cands[i]
		w := 1 / c.Distance.Seconds()
		wsum += w
		osum += w * c.Offset.Seconds()
		dsum += w * c.Distance.Seconds()
		sel.States[i] = StateSelected
		if sel.Best < 0 || better(c, cands[sel.Best]) {
			sel.Best = i
		}
	}
	sel.OK = true
	sel.Offset = time.Duration(osum / wsum * 1e9)
	sel.Distance = time.Duration(dsum / wsum * 1e9)
	return sel
}

// better reports whether a should be system peer rather than b.
func better(a, b Candidate) bool {
	if a.Prefer != b.Prefer {
		return a.Prefer
	}
	if a.Stratum != b.Stratum {
		return a.Stratum < b.Stratum
	}
	return a.Distance < b.Distance
}

// intersect returns the region shared by the largest number of intervals
// (at least n−f for the smallest f < n/2 possible): chrony's majority of
// overlapping intervals. Touching intervals overlap.
func intersect(cands []Candidate) (low, high time.Duration, ok bool) {
	type edge struct {
		v    time.Duration
		kind int // -1 lower end, +1 upper end
	}
	n := len(cands)
	edges := make([]edge, 0, 2*n)
	for _, c := range cands {
		edges = append(edges, edge{c.Offset - c.Distance, -1}, edge{c.Offset + c.Distance, +1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].v != edges[j].v {
			return edges[i].v < edges[j].v
		}
		return edges[i].kind < edges[j].kind
	})
	for f := 0; 2*f < n; f++ {
		low, high = 0, 0
		lowOK, highOK := false, false
		chime := 0
		for _, e := range edges {
			chime -= e.kind
			if chime >= n-f {
				low, lowOK = e.v, true
				break
			}
		}
		chime = 0
		for i := len(edges) - 1; i >= 0; i-- {
			e := edges[i]
			chime += e.kind
			if chime >= n-f {
				high, highOK = e.v, true
				break
			}
		}
		if lowOK && highOK && low <= high {
			return low, high, true
		}
	}
	return 0, 0, false
}
