package ntpclient

import (
	"time"

	"golang.org/x/sys/windows"
)

// systemTime reads the clock for our timestamps. time.Now on Windows
// moves once per timer tick (up to ~16 ms); GetSystemTimePreciseAsFileTime
// interpolates to 100 ns (Windows 8 and later, which Go requires).
func systemTime() time.Time {
	var ft windows.Filetime
	windows.GetSystemTimePreciseAsFileTime(&ft)
	return time.Unix(0, ft.Nanoseconds()).UTC()
}
