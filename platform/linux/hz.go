//go:build linux

package linux

import "golang.org/x/sys/unix"

// atClkTck is the auxiliary vector entry carrying USER_HZ (AT_CLKTCK in
// include/uapi/linux/auxvec.h), what sysconf(_SC_CLK_TCK) reads.
const atClkTck = 17

// userHZFromAuxv reports USER_HZ as the kernel passed it to this process,
// or 0 if it cannot be read.
func userHZFromAuxv() int {
	vec, err := unix.Auxv()
	if err != nil {
		return 0
	}
	for _, kv := range vec {
		if kv[0] == atClkTck && kv[1] > 0 && kv[1] < 1<<20 {
			return int(kv[1])
		}
	}
	return 0
}

// guessHZ infers USER_HZ from the tick the kernel reports, as chrony does
// when sysconf cannot tell: the tick is within 10% of 10^6/USER_HZ, and
// USER_HZ is 100 or a power of two. It returns 0 if nothing fits.
func guessHZ(tick int64) int {
	if tick >= 9000 && tick <= 11000 {
		return 100
	}
	for shift := 4; shift < 16; shift++ {
		hz := 1 << shift
		nominal := 1e6 / float64(hz)
		lo := int64(0.5 + nominal*2/3)
		hi := int64(0.5 + nominal*4/3)
		if lo < tick && tick <= hi {
			return hz
		}
	}
	return 0
}
