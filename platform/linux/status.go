//go:build linux

package linux

import (
	"time"

	"golang.org/x/sys/unix"
)

// Status is the kernel's clock state as adjtimex with modes 0 reports it.
type Status struct {
	// FrequencyPPM is the whole frequency correction, tick and
	// ADJ_FREQUENCY combined (positive = clock runs faster).
	FrequencyPPM float64
	// TickMicros is the length of a USER_HZ tick in µs (10000 nominal
	// with USER_HZ 100).
	TickMicros int64
	// FreqPPM is the ADJ_FREQUENCY part alone, in ppm.
	FreqPPM float64
	// UserHZ is the USER_HZ the tick is counted in.
	UserHZ int
	// Bits are the STA_* status bits.
	Bits int32
	// Unsynchronized reports whether STA_UNSYNC is set.
	Unsynchronized bool
	// MaxError and EstError are the kernel's maximum and estimated error.
	MaxError, EstError time.Duration
	// Offset is the phase offset the kernel PLL still has to apply.
	Offset time.Duration
	// State is adjtimex's return value: TIME_OK, TIME_INS, TIME_DEL,
	// TIME_OOP, TIME_WAIT or TIME_ERROR.
	State int
}

// Status reads the kernel's clock state. It changes nothing (modes 0) and
// needs no privilege.
func (d *Driver) Status() (Status, error) {
	var tx unix.Timex
	state, err := d.call(&tx)
	if err != nil {
		return Status{}, err
	}
	d.mu.Lock()
	d.tick = int64(tx.Tick)
	d.mu.Unlock()
	offsetUnit := time.Microsecond
	if tx.Status&unix.STA_NANO != 0 {
		offsetUnit = time.Nanosecond
	}
	return Status{
		FrequencyPPM:   mergeFrequency(int64(tx.Tick), int64(tx.Freq), d.hz),
		TickMicros:     int64(tx.Tick),
		FreqPPM:        float64(tx.Freq) / freqScale,
		UserHZ:         d.hz,
		Bits:           tx.Status,
		Unsynchronized: tx.Status&unix.STA_UNSYNC != 0,
		MaxError:       time.Duration(tx.Maxerror) * time.Microsecond,
		EstError:       time.Duration(tx.Esterror) * time.Microsecond,
		Offset:         time.Duration(tx.Offset) * offsetUnit,
		State:          state,
	}, nil
}

// ReadStatus reads this machine's kernel clock state, read-only.
func ReadStatus() (Status, error) {
	d, err := New()
	if err != nil {
		return Status{}, err
	}
	return d.Status()
}
