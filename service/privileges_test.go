package service

import (
	"slices"
	"testing"
)

func TestMultiSZ(t *testing.T) {
	got := multiSZ([]string{"Ab", "c"})
	want := []uint16{'A', 'b', 0, 'c', 0, 0}
	if !slices.Equal(got, want) {
		t.Errorf("multiSZ = %v, want %v", got, want)
	}
	if got := multiSZ(nil); !slices.Equal(got, []uint16{0}) {
		t.Errorf("multiSZ(nil) = %v", got)
	}
	if !slices.Contains(windowsPrivileges, "SeSystemtimePrivilege") || len(windowsPrivileges) != 2 {
		t.Errorf("windowsPrivileges %v: want the clock's privilege and traverse checking only", windowsPrivileges)
	}
}
