//go:build unix && !linux && !darwin && !freebsd

package privsep

// NoExec reports whether dir is on a file system mounted noexec; here it
// cannot tell, and says no.
func NoExec(dir string) bool { return false }
