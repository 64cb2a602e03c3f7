//go:build !linux

package ntpclient

// setRaw reports false: elsewhere the client's reads wait on a read
// deadline (raw_linux.go says why Linux does not).
func (s *socket) setRaw() bool { return false }

func (s *socket) writeRaw([]byte) error             { panic("ntpclient: no raw exchanges here") }
func (s *socket) readRaw() (n, oobn int, err error) { panic("ntpclient: no raw exchanges here") }
func (s *socket) expire()                           {}
func (s *socket) unexpire()                         {}
