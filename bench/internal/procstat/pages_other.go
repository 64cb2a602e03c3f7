//go:build !linux

package procstat

import "errors"

// DistinctResident needs Linux's /proc/PID/pagemap; elsewhere it fails
// rather than guess.
func DistinctResident(pids ...int) (int64, error) {
	return 0, errors.New("distinct resident pages: only on Linux (/proc/PID/pagemap)")
}
