package gui

// Explorer's StartupApproved values (Task Manager's Startup tab): 12
// bytes, the first 02 for enabled and 03 for disabled, the last eight the
// FILETIME of the change (zero is accepted).

func startupApprovedValue(on bool) []byte {
	b := make([]byte, 12)
	b[0] = 3
	if on {
		b[0] = 2
	}
	return b
}

// startupDisabled reports whether a StartupApproved value switches its
// entry off (an odd first byte).
func startupDisabled(b []byte) bool { return len(b) > 0 && b[0]&1 == 1 }
