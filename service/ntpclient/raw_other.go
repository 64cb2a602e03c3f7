//go:build !linux

package ntpclient

import "time"

// detach reports false: elsewhere each socket's goroutine reads its
// answers as they come (raw_linux.go says what Linux does instead).
func (s *socket) detach() bool { return false }

func (s *socket) writeFD([]byte) error                { panic("ntpclient: no detached sockets here") }
func (s *socket) receive() ([]byte, time.Time, error) { panic("ntpclient: no detached sockets here") }
func closeFD(int) error                               { panic("ntpclient: no detached sockets here") }
