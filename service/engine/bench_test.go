package engine

import (
	"testing"
	"time"
)

// The engine runs on every reply the service gets; these keep its cost
// visible (go test -bench . ./service/engine).

func BenchmarkValidate(b *testing.B) {
	r := response(base, 250*time.Millisecond, time.Millisecond, 2*time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(r, ValidateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSelect16(b *testing.B) {
	cands := make([]Candidate, 16)
	for i := range cands {
		cands[i] = Candidate{Offset: time.Duration(i%5) * 100 * time.Microsecond, Distance: 3 * time.Millisecond, Stratum: 2}
	}
	cands[7].Offset = time.Second // one falseticker
	b.ReportAllocs()
	for b.Loop() {
		if sel := Select(cands, 1); !sel.OK {
			b.Fatal(sel.Why)
		}
	}
}

func BenchmarkFilterEstimate(b *testing.B) {
	var f Filter
	for i := range FilterSize {
		f.Add(Sample{Time: base, Offset: time.Duration(i) * time.Microsecond, Delay: time.Duration(2+i%3) * time.Millisecond})
	}
	b.ReportAllocs()
	for b.Loop() {
		f.Estimate(base)
	}
}
