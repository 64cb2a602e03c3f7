package privsep

// monotonicNS: privilege separation is not used on Windows.
func monotonicNS() (int64, bool) { return 0, false }
