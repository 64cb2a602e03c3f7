package procstat

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// DistinctResident reports the memory the processes hold together: the
// number of distinct physical pages resident in any of them, in bytes.
// It is what VmRSS means for one process, for a group of processes that
// share pages (one binary's text, its libraries): summed VmRSS counts a
// shared page once per process, and summed PSS gives a page shared with
// processes outside the group only a share. It reads /proc/PID/pagemap,
// whose page frame numbers only root (CAP_SYS_ADMIN) sees; without them
// it fails rather than guess.
func DistinctResident(pids ...int) (int64, error) {
	frames := map[uint64]struct{}{}
	pageSize := int64(os.Getpagesize())
	for _, pid := range pids {
		if err := residentFrames(pid, pageSize, frames); err != nil {
			return 0, fmt.Errorf("pid %d: %w", pid, err)
		}
	}
	return int64(len(frames)) * pageSize, nil
}

// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
const (
	pmPresent = 1 << 63
	pmPFNMask = 1<<55 - 1
)

func residentFrames(pid int, pageSize int64, frames map[uint64]struct{}) error {
	maps, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return err
	}
	defer maps.Close()
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return err
	}
	defer pm.Close()
	sawFrame := false
	sc := bufio.NewScanner(maps)
	var buf []byte
	for sc.Scan() {
		lo, hi, ok := parseMapsRange(sc.Text())
		if !ok {
			return fmt.Errorf("maps line %q", sc.Text())
		}
		n := int64((hi - lo) / uint64(pageSize))
		if cap(buf) < int(n*8) {
			buf = make([]byte, n*8)
		}
		b := buf[:n*8]
		got, err := pm.ReadAt(b, int64(lo/uint64(pageSize))*8)
		if err != nil && !errors.Is(err, io.EOF) {
			// [vsyscall] and its like cannot be read: nothing resident
			// of this process there.
			continue
		}
		for i := 0; i+8 <= got; i += 8 {
			e := binary.LittleEndian.Uint64(b[i:])
			if e&pmPresent == 0 {
				continue
			}
			pfn := e & pmPFNMask
			if pfn == 0 {
				continue
			}
			sawFrame = true
			frames[pfn] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !sawFrame {
		return errors.New("pagemap shows no page frame numbers (needs root)")
	}
	return nil
}

// parseMapsRange reads the address range at the start of a
// /proc/PID/maps line ("7f12a000-7f12b000 r-xp …").
func parseMapsRange(line string) (lo, hi uint64, ok bool) {
	r, _, _ := strings.Cut(line, " ")
	a, b, found := strings.Cut(r, "-")
	if !found {
		return 0, 0, false
	}
	lo, err1 := strconv.ParseUint(a, 16, 64)
	hi, err2 := strconv.ParseUint(b, 16, 64)
	return lo, hi, err1 == nil && err2 == nil && hi >= lo
}
