//go:build unix

package privsep

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Reachable reports whether u (with only its own group) may execute the
// file at path: search permission on every directory above it and execute
// permission on the file, by the mode bits (ACLs are not looked at).
func Reachable(path string, u User) bool {
	path, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	may := func(p string, bit uint32) bool {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return false
		}
		m := uint32(st.Mode)
		switch {
		case st.Uid == u.UID:
			return m&(bit<<6) != 0
		case st.Gid == u.GID:
			return m&(bit<<3) != 0
		}
		return m&bit != 0
	}
	dir := "/"
	for _, part := range strings.Split(filepath.Dir(path), "/") {
		if part == "" {
			continue
		}
		if !may(dir, 1) {
			return false
		}
		dir = filepath.Join(dir, part)
	}
	return may(dir, 1) && may(path, 1)
}

// CopyExecutable copies the executable at path into dir (mode 0755) and
// returns the copy's path; the caller removes it.
func CopyExecutable(path, dir string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp(dir, ".timesync-engine-*")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(dst.Name())
		return "", err
	}
	if err := dst.Chmod(0o755); err != nil {
		dst.Close()
		os.Remove(dst.Name())
		return "", err
	}
	if err := dst.Close(); err != nil {
		os.Remove(dst.Name())
		return "", err
	}
	return dst.Name(), nil
}
