//go:build windows

package windows

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	xwin "golang.org/x/sys/windows"
)

// x/sys/windows lacks the time adjustment calls and SetSystemTime, so they
// are bound here. The precise calls live in kernelbase.dll and are exported
// through kernel32.dll on some releases only: both are tried.
var (
	modkernel32   = xwin.NewLazySystemDLL("kernel32.dll")
	modkernelbase = xwin.NewLazySystemDLL("kernelbase.dll")
	modadvapi32   = xwin.NewLazySystemDLL("advapi32.dll")

	procGetSystemTimeAdjustment = modkernel32.NewProc("GetSystemTimeAdjustment")
	procSetSystemTimeAdjustment = modkernel32.NewProc("SetSystemTimeAdjustment")
	procSetSystemTime           = modkernel32.NewProc("SetSystemTime")
	procAdjustTokenPrivileges   = modadvapi32.NewProc("AdjustTokenPrivileges")
)

// is64 reports whether a DWORD64 argument fits one uintptr; the precise
// calls are used only then.
const is64 = unsafe.Sizeof(uintptr(0)) == 8

// New returns the driver of this machine's clock. It reads the time
// adjustment (no privilege needed) and changes nothing.
func New() (*Driver, error) {
	ops := Ops{Now: now, SetTime: setTime, EnablePrivilege: enablePrivilege}
	if get, set := preciseProcs(); get != nil {
		ops.GetAdjustment = func() (Adjustment, error) { return getPrecise(get) }
		ops.SetAdjustment = func(adj uint64, disabled bool) error { return setPrecise(set, adj, disabled) }
	} else {
		if err := procGetSystemTimeAdjustment.Find(); err != nil {
			return nil, fmt.Errorf("kernel32 GetSystemTimeAdjustment: %w", err)
		}
		ops.GetAdjustment = getLegacy
		ops.SetAdjustment = setLegacy
	}
	return NewWithOps(ops)
}

func preciseProcs() (get, set *xwin.LazyProc) {
	if !is64 {
		return nil, nil
	}
	for _, dll := range []*xwin.LazyDLL{modkernel32, modkernelbase} {
		g := dll.NewProc("GetSystemTimeAdjustmentPrecise")
		s := dll.NewProc("SetSystemTimeAdjustmentPrecise")
		if g.Find() == nil && s.Find() == nil {
			return g, s
		}
	}
	return nil, nil
}

func getPrecise(proc *xwin.LazyProc) (Adjustment, error) {
	var adj, inc uint64
	var disabled int32
	r1, _, e := proc.Call(uintptr(unsafe.Pointer(&adj)), uintptr(unsafe.Pointer(&inc)), uintptr(unsafe.Pointer(&disabled)))
	if r1 == 0 {
		return Adjustment{Precise: true}, e
	}
	return Adjustment{Adjustment: adj, Increment: inc, Disabled: disabled != 0, Precise: true}, nil
}

func setPrecise(proc *xwin.LazyProc, adj uint64, disabled bool) error {
	r1, _, e := proc.Call(uintptr(adj), boolArg(disabled))
	if r1 == 0 {
		return e
	}
	return nil
}

func getLegacy() (Adjustment, error) {
	var adj, inc uint32
	var disabled int32
	r1, _, e := procGetSystemTimeAdjustment.Call(uintptr(unsafe.Pointer(&adj)), uintptr(unsafe.Pointer(&inc)), uintptr(unsafe.Pointer(&disabled)))
	if r1 == 0 {
		return Adjustment{}, e
	}
	return Adjustment{Adjustment: uint64(adj), Increment: uint64(inc), Disabled: disabled != 0}, nil
}

func setLegacy(adj uint64, disabled bool) error {
	r1, _, e := procSetSystemTimeAdjustment.Call(uintptr(uint32(adj)), boolArg(disabled))
	if r1 == 0 {
		return e
	}
	return nil
}

func boolArg(b bool) uintptr {
	if b {
		return 1
	}
	return 0
}

// now reads the system time with GetSystemTimePreciseAsFileTime (Windows 8
// and later), GetSystemTimeAsFileTime before.
func now() (time.Time, error) {
	var ft xwin.Filetime
	if xwin.LoadGetSystemTimePreciseAsFileTime() == nil {
		xwin.GetSystemTimePreciseAsFileTime(&ft)
	} else {
		xwin.GetSystemTimeAsFileTime(&ft)
	}
	return fileTimeToTime(uint64(ft.HighDateTime)<<32 | uint64(ft.LowDateTime)), nil
}

func setTime(st SystemTime) error {
	ws := xwin.Systemtime{
		Year: st.Year, Month: st.Month, DayOfWeek: st.DayOfWeek, Day: st.Day,
		Hour: st.Hour, Minute: st.Minute, Second: st.Second, Milliseconds: st.Milliseconds,
	}
	r1, _, e := procSetSystemTime.Call(uintptr(unsafe.Pointer(&ws)))
	if r1 == 0 {
		return e
	}
	return nil
}

// enablePrivilege enables SeSystemtimePrivilege in the process token.
// AdjustTokenPrivileges succeeds even when the token does not hold the
// privilege and says so only through GetLastError (ERROR_NOT_ALL_ASSIGNED),
// which x/sys/windows' wrapper drops, hence the direct call.
func enablePrivilege() error {
	var tok xwin.Token
	if err := xwin.OpenProcessToken(xwin.CurrentProcess(), xwin.TOKEN_ADJUST_PRIVILEGES|xwin.TOKEN_QUERY, &tok); err != nil {
		return fmt.Errorf("OpenProcessToken: %w", err)
	}
	defer tok.Close()
	name, err := xwin.UTF16PtrFromString("SeSystemtimePrivilege")
	if err != nil {
		return err
	}
	var luid xwin.LUID
	if err := xwin.LookupPrivilegeValue(nil, name, &luid); err != nil {
		return fmt.Errorf("LookupPrivilegeValue: %w", err)
	}
	tp := xwin.Tokenprivileges{PrivilegeCount: 1}
	tp.Privileges[0] = xwin.LUIDAndAttributes{Luid: luid, Attributes: xwin.SE_PRIVILEGE_ENABLED}
	r1, _, e := procAdjustTokenPrivileges.Call(uintptr(tok), 0, uintptr(unsafe.Pointer(&tp)), 0, 0, 0)
	if r1 == 0 {
		return fmt.Errorf("AdjustTokenPrivileges: %w", e)
	}
	if errors.Is(e, xwin.ERROR_NOT_ALL_ASSIGNED) {
		return fmt.Errorf("AdjustTokenPrivileges: %w", e)
	}
	return nil
}
