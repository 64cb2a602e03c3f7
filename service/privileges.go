package service

import "unicode/utf16"

// windowsPrivileges are the only privileges the Windows service's token
// keeps (its RequiredPrivileges): changing the clock, and bypassing
// traverse checking, which every process needs to open files.
var windowsPrivileges = []string{"SeSystemtimePrivilege", "SeChangeNotifyPrivilege"}

// multiSZ encodes ss as a REG_MULTI_SZ-style UTF-16 list: each string
// NUL-terminated, the list ended by one more NUL.
func multiSZ(ss []string) []uint16 {
	var out []uint16
	for _, s := range ss {
		out = append(out, utf16.Encode([]rune(s))...)
		out = append(out, 0)
	}
	return append(out, 0)
}
