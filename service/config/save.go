package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// newFileMode is the mode of a configuration file Save creates: the file
// holds no secret, and unprivileged tools may read it.
const newFileMode = 0o644

// newDirMode is the mode of the directory Save creates when it is missing
// (first install).
const newDirMode = 0o755

// Save validates c and writes c.Format() to path atomically: a temporary
// file in the same directory is written, synced and renamed over path,
// then the directory is synced, so that a crash leaves either the old or
// the new file, never a mix. An existing file keeps its permission bits; a
// symbolic link is followed and its target replaced; a missing directory is
// created. The owner of a replaced file becomes the caller (root for the
// service). On Windows a rename
// refused for a moment (an open handle, a virus scanner) is retried.
func Save(path string, c *Config) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("config: not saving %s: %w", path, err)
	}
	if err := writeAtomic(osFS, path, c.Format()); err != nil {
		return fmt.Errorf("config: save %s: %w", path, err)
	}
	return nil
}

// tempFile is what writeAtomic needs of an *os.File.
type tempFile interface {
	Name() string
	Write([]byte) (int, error)
	Chmod(fs.FileMode) error
	Sync() error
	Close() error
}

// fileSystem is the seam through which tests make a step of the save fail.
type fileSystem struct {
	createTemp func(dir, pattern string) (tempFile, error)
	rename     func(oldpath, newpath string) error
	remove     func(name string) error
	syncDir    func(dir string) error
}

var osFS = fileSystem{
	createTemp: func(dir, pattern string) (tempFile, error) { return os.CreateTemp(dir, pattern) },
	rename:     renameFile,
	remove:     os.Remove,
	syncDir:    syncDir,
}

func writeAtomic(fsys fileSystem, path string, data []byte) (err error) {
	mode := fs.FileMode(newFileMode)
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		mode = st.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, newDirMode); err != nil {
		return err
	}
	f, err := fsys.createTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				f.Close()
			}
			fsys.remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if runtime.GOOS != "windows" { // Windows has only the read-only bit
		if err = f.Chmod(mode); err != nil {
			return fmt.Errorf("chmod %s: %w", tmp, err)
		}
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	closed = true
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = fsys.rename(tmp, path); err != nil {
		return err
	}
	// The new file is in place; a failed directory sync only weakens the
	// durability guarantee, so report it but the data is there.
	if err := fsys.syncDir(dir); err != nil {
		return fmt.Errorf("saved, but syncing directory %s failed: %w", dir, err)
	}
	return nil
}

// renameRetry calls rename until it succeeds, fails with an error other
// than a permission error, or tries is used up, sleeping a little longer
// each time. Windows refuses to replace a file that another process holds
// open without FILE_SHARE_DELETE (indexers, virus scanners) for a moment.
func renameRetry(rename func(string, string) error, sleep func(time.Duration), tries int, oldpath, newpath string) error {
	var err error
	for i := range tries {
		if err = rename(oldpath, newpath); err == nil || !errors.Is(err, fs.ErrPermission) {
			return err
		}
		if i+1 < tries {
			sleep(time.Duration(i+1) * 20 * time.Millisecond)
		}
	}
	return err
}
