//go:build linux

package main

import (
	"fmt"
	"time"

	"github.com/beevik/ntp"
)

// measurement is a fresh offset measurement against the test server, made
// with beevik/ntp directly (not through timesync), keeping the reply with
// the lowest round-trip delay: its offset error is at most half that delay.
type measurement struct {
	offset time.Duration // server minus guest clock: positive = guest behind
	delay  time.Duration // round-trip delay of the kept reply
	good   int           // replies that passed validation
}

// measureOffset queries server n times and keeps the lowest-delay reply.
// More than half of the queries must succeed.
func measureOffset(server string, n int) (measurement, error) {
	var best measurement
	var lastErr error
	for i := 0; i < n; i++ {
		r, err := ntp.QueryWithOptions(server, ntp.QueryOptions{Timeout: 2 * time.Second})
		if err == nil {
			err = r.Validate()
		}
		if err != nil {
			lastErr = err
			continue
		}
		if best.good == 0 || r.RTT < best.delay {
			best.offset, best.delay = r.ClockOffset, r.RTT
		}
		best.good++
	}
	if best.good*2 <= n {
		return best, fmt.Errorf("ntp query %s: only %d of %d replies valid (last error: %v)", server, best.good, n, lastErr)
	}
	return best, nil
}

// settle brings the guest clock within tolerance of the server with
// shiftClock (not the driver under test), so a check starts from a known
// state whatever ran before it. It reports the remaining offset.
func settle(server string, tolerance time.Duration) (measurement, error) {
	for i := 0; i < 3; i++ {
		m, err := measureOffset(server, 8)
		if err != nil {
			return m, err
		}
		if m.offset.Abs() <= tolerance {
			return m, nil
		}
		if err := shiftClock(m.offset); err != nil {
			return m, err
		}
	}
	m, err := measureOffset(server, 8)
	if err == nil && m.offset.Abs() > tolerance {
		err = fmt.Errorf("cannot settle the guest clock: still %v off the server", m.offset)
	}
	return m, err
}
