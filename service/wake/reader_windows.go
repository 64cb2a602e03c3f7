package wake

import (
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// systemSlewPPM: the performance counter is not slewed; the driver's
// frequency adjustment (SetSystemTimeAdjustmentPrecise) can reach several
// percent, so leave a wide margin.
const systemSlewPPM = 100000

var (
	kernel32                   = windows.NewLazySystemDLL("kernel32.dll")
	queryUnbiasedInterruptTime = kernel32.NewProc("QueryUnbiasedInterruptTime")
	errNoUnbiasedInterruptTime = queryUnbiasedInterruptTime.Find()
	start                      = time.Now()
)

// Read returns this machine's clocks: the unbiased interrupt time (stops in
// sleep), Go's monotonic clock (Windows' interrupt time, which goes on
// through sleep; only differences between readings matter, so the two need
// no common origin) and the wall clock.
func Read() Reading {
	now := time.Now()
	boot := now.Sub(start)
	mono := boot
	if errNoUnbiasedInterruptTime == nil {
		var t100ns uint64
		if r, _, _ := queryUnbiasedInterruptTime.Call(uintptr(unsafe.Pointer(&t100ns))); r != 0 {
			mono = time.Duration(t100ns) * 100
		}
	}
	return Reading{Wall: now.Round(0), Mono: mono, Boot: boot}
}
