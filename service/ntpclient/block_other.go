//go:build !linux

package ntpclient

import "time"

// setBlocking reports false: elsewhere the client's reads keep their read
// deadline (block_linux.go says why Linux does not).
func (s *socket) setBlocking(time.Duration) bool { return false }

func (s *socket) readBlocking() (n, oobn int, err error) { panic("ntpclient: no blocking reads here") }

func (s *socket) wake() {}
