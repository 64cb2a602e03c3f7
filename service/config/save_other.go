//go:build !windows

package config

import "os"

func renameFile(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// syncDir makes the rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
