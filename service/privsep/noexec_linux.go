package privsep

import "golang.org/x/sys/unix"

// NoExec reports whether dir is on a file system mounted noexec (as /run
// often is), where nothing can be executed whatever its mode.
func NoExec(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return int64(st.Flags)&unix.ST_NOEXEC != 0
}
