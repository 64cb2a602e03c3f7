package config

import (
	"os"
	"time"
)

// renameFile replaces newpath, retrying while Windows refuses for a moment.
func renameFile(oldpath, newpath string) error {
	return renameRetry(os.Rename, time.Sleep, 5, oldpath, newpath)
}

// syncDir does nothing: Windows cannot open a directory for FlushFileBuffers
// through os.Open, and NTFS journals the rename itself.
func syncDir(string) error { return nil }
