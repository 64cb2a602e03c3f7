package sim

import (
	"testing"
	"time"
)

// BenchmarkScenarioA runs one seed of Scenario A: 100,000 simulated
// seconds through the real loop, engine and discipline.
func BenchmarkScenarioA(b *testing.B) {
	sc := ScenarioA(100 * time.Millisecond)
	for i := 0; i < b.N; i++ {
		if _, err := Run(sc, uint64(i%10)+1); err != nil {
			b.Fatal(err)
		}
	}
}
