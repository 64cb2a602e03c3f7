//go:build !windows

package ntpclient

import "time"

// systemTime reads the clock for our timestamps: the wall clock only
// (UTC strips the monotonic reading), as the server's timestamps are, and
// as kernel receive timestamps are.
func systemTime() time.Time { return time.Now().UTC() }
