//go:build cgo

package main

// testCgo: syscall.AllThreadsSyscall refuses in a cgo binary, so the
// parent cannot drop its capabilities there (release builds and
// "make unit" are CGO_ENABLED=0).
const testCgo = true
