//go:build linux && amd64

// Package abi32 makes a system call through x86's 32-bit interface
// (int 0x80), for the test that the engine's seccomp filter does not let
// that ABI past its deny list.
package abi32

// Syscall makes 32-bit system call trap with one argument and returns
// what the kernel returned (a negative errno on failure).
func Syscall(trap, a1 uintptr) uintptr
