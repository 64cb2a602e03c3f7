// Package driftfile reads and writes the drift file: the clock's frequency
// and its uncertainty, kept across restarts so the discipline starts with
// the right frequency (only starts: see discipline.Config.Drift).
//
// The format is chrony's, one line "freq_ppm skew_ppm", with chrony's sign:
// freq_ppm is the oscillator's own frequency error, positive when the
// uncorrected clock runs fast (chrony's reference.c writes
// LCL_ReadAbsoluteFrequency, which sys_timex.c hands to the kernel
// negated). A clock that gains 100 ppm has a file saying 100 and needs a
// correction of −100 ppm, which is what discipline.Drift holds. So a
// drift file written by chrony (the path config import keeps) starts
// timesync right, and the other way round.
//
// A file with only the frequency is ntpd's, whose sign is the opposite
// (ntpd writes its correction, drift_comp, which it hands to the kernel
// as it is): it is read as a correction.
//
// Writes are atomic: a temporary file in the same directory, fsync,
// rename over the old file, fsync of the directory; a reader sees the old
// or the new contents, never a mix, even across a crash.
package driftfile

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/timesync/timesync/service/discipline"
)

// DefaultSkewPPM is the skew assumed for a file that gives none (ntpd's).
const DefaultSkewPPM = 1.0

// MaxFrequencyPPM bounds a credible frequency in the file.
const MaxFrequencyPPM = 500

// ErrMalformed means the file's contents are not a drift file.
var ErrMalformed = errors.New("malformed drift file")

// Parse reads a drift file's contents: chrony's two fields (the
// oscillator's error, its skew) or ntpd's one (the correction). It
// returns the correction.
func Parse(data []byte) (discipline.Drift, error) {
	fields := strings.Fields(string(data))
	if len(fields) < 1 || len(fields) > 2 {
		return discipline.Drift{}, fmt.Errorf("%w: want \"freq_ppm [skew_ppm]\"", ErrMalformed)
	}
	freq, err := strconv.ParseFloat(fields[0], 64)
	if err != nil || math.IsNaN(freq) || math.Abs(freq) > MaxFrequencyPPM {
		return discipline.Drift{}, fmt.Errorf("%w: frequency %q is not a number within ±%d ppm", ErrMalformed, fields[0], MaxFrequencyPPM)
	}
	if len(fields) == 1 {
		// ntpd's: the correction itself.
		return discipline.Drift{FrequencyPPM: freq, SkewPPM: DefaultSkewPPM}, nil
	}
	skew, err := strconv.ParseFloat(fields[1], 64)
	if err != nil || !(skew >= 0) || math.IsInf(skew, 0) {
		return discipline.Drift{}, fmt.Errorf("%w: skew %q is not a non-negative number", ErrMalformed, fields[1])
	}
	// chrony's: the oscillator's error, the opposite of the correction.
	return discipline.Drift{FrequencyPPM: -freq + 0, SkewPPM: skew}, nil
}

// Format returns the file's contents for d, in chrony's format and sign
// (the oscillator's error: the correction negated).
func Format(d discipline.Drift) []byte {
	return []byte(fmt.Sprintf("%20.6f %20.6f\n", -d.FrequencyPPM+0, d.SkewPPM))
}

// Read reads the drift file at path. A missing file is reported with an
// error satisfying errors.Is(err, fs.ErrNotExist): the caller starts
// without a remembered frequency.
func Read(path string) (discipline.Drift, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return discipline.Drift{}, fmt.Errorf("read drift file: %w", err)
	}
	d, err := Parse(data)
	if err != nil {
		return discipline.Drift{}, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// File is a drift file at Path; it implements loop.DriftStore.
type File struct {
	Path string
}

// Save writes d atomically.
func (f File) Save(d discipline.Drift) error {
	if math.IsNaN(d.FrequencyPPM) || math.IsInf(d.FrequencyPPM, 0) || math.IsNaN(d.SkewPPM) {
		return fmt.Errorf("save drift file: %w: frequency %v ppm, skew %v ppm", ErrMalformed, d.FrequencyPPM, d.SkewPPM)
	}
	return writeAtomic(f.Path, Format(d))
}

// writeAtomic replaces path by data: temporary file, fsync, rename, fsync
// of the directory.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save drift file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("save drift file: write %s: %w", tmp.Name(), err)
	}
	if err = tmp.Chmod(0o644); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("save drift file: chmod %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("save drift file: fsync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("save drift file: close %s: %w", tmp.Name(), err)
	}
	if err = rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save drift file: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		// Directories cannot be synced on Windows; elsewhere this makes
		// the rename itself durable.
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// rename retries briefly on Windows, where a reader holding the old file
// open makes the rename fail with a permission error.
func rename(from, to string) error {
	err := os.Rename(from, to)
	for i := 0; err != nil && runtime.GOOS == "windows" && errors.Is(err, os.ErrPermission) && i < 5; i++ {
		time.Sleep(50 * time.Millisecond)
		err = os.Rename(from, to)
	}
	return err
}
