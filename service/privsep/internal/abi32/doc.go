// Package abi32 makes a system call through x86's 32-bit interface
// (int 0x80), for the test that the engine's seccomp filter does not let
// that ABI past its deny list. Syscall exists on linux/amd64 only.
package abi32
