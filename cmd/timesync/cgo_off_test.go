//go:build !cgo

package main

const testCgo = false
