//go:build linux && amd64

package abi32

// Syscall makes 32-bit system call trap with one argument and returns
// what the kernel returned (a negative errno on failure).
func Syscall(trap, a1 uintptr) uintptr
