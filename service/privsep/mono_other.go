//go:build !linux && !darwin

package privsep

// monotonicNS: elsewhere the parent does not stamp its changes (the
// engine's clock then puts each halfway through its request).
func monotonicNS() (int64, bool) { return 0, false }
