//go:build linux

package linux

import (
	"time"

	"golang.org/x/sys/unix"
)

// fakeKernel emulates the parts of Linux's adjtimex and clock_settime the
// driver uses, including their validation (kernel/time/timekeeping.c
// timekeeping_validate_timex, kernel/time/ntp.c __do_adjtimex), so tests see
// exactly what the driver sends and what a kernel would answer, without
// touching this machine's clock.
type fakeKernel struct {
	hz          int
	privileged  bool // CAP_SYS_TIME
	noSetOffset bool // a pre-2.6.39 kernel that rejects ADJ_SETOFFSET

	tick     int64 // µs per USER_HZ tick
	freq     int64 // scaled ppm
	status   int32
	maxerror int64 // µs
	esterror int64 // µs
	offset   int64 // PLL phase offset (µs, or ns with STA_NANO)
	adjust   int64 // pending one-shot slew, µs
	realtime int64 // CLOCK_REALTIME, ns since the epoch

	calls     []unix.Timex // every adjtimex request as sent
	settimes  int
	failModes map[uint32]error // adjtimex fails with this errno for these exact modes
}

func newFakeKernel() *fakeKernel {
	return &fakeKernel{
		hz:         100,
		privileged: true,
		tick:       10000,
		status:     unix.STA_UNSYNC,
		maxerror:   16000000,
		esterror:   16000000,
		realtime:   1700000000 * int64(time.Second),
	}
}

// mutations returns the requests that set something.
func (k *fakeKernel) mutations() []unix.Timex {
	var out []unix.Timex
	for _, c := range k.calls {
		if c.Modes != 0 {
			out = append(out, c)
		}
	}
	return out
}

func (k *fakeKernel) state() int {
	if k.status&unix.STA_UNSYNC != 0 {
		return unix.TIME_ERROR
	}
	return unix.TIME_OK
}

func (k *fakeKernel) fill(tx *unix.Timex) {
	setInt(&tx.Offset, k.offset)
	setInt(&tx.Freq, k.freq)
	setInt(&tx.Maxerror, k.maxerror)
	setInt(&tx.Esterror, k.esterror)
	tx.Status = k.status
	setInt(&tx.Tick, k.tick)
	setInt(&tx.Time.Sec, k.realtime/int64(time.Second))
	if k.status&unix.STA_NANO != 0 {
		setInt(&tx.Time.Usec, k.realtime%int64(time.Second))
	} else {
		setInt(&tx.Time.Usec, k.realtime%int64(time.Second)/1000)
	}
}

const adjAdjtime = 0x8000 // ADJ_ADJTIME: the adjtime() compatibility modes

func (k *fakeKernel) adjtimex(tx *unix.Timex) (int, error) {
	k.calls = append(k.calls, *tx)
	m := tx.Modes
	if err, ok := k.failModes[m]; ok {
		return -1, err
	}
	if m&adjAdjtime != 0 {
		// Singleshot must not be combined with other modes.
		if m&unix.ADJ_OFFSET_SINGLESHOT != unix.ADJ_OFFSET_SINGLESHOT {
			return -1, unix.EINVAL
		}
		readOnly := m&unix.ADJ_OFFSET_SS_READ == unix.ADJ_OFFSET_SS_READ
		if !readOnly && !k.privileged {
			return -1, unix.EPERM
		}
		old := k.adjust
		if !readOnly {
			k.adjust = int64(tx.Offset)
		}
		k.fill(tx)
		setInt(&tx.Offset, old)
		return k.state(), nil
	}
	if m != 0 && !k.privileged {
		return -1, unix.EPERM
	}
	if m&unix.ADJ_TICK != 0 {
		lo, hi := tickBounds(k.hz)
		if int64(tx.Tick) < lo || int64(tx.Tick) > hi {
			return -1, unix.EINVAL
		}
	}
	if m&unix.ADJ_SETOFFSET != 0 {
		if k.noSetOffset {
			return -1, unix.EINVAL
		}
		if tx.Time.Usec < 0 {
			return -1, unix.EINVAL
		}
		if m&unix.ADJ_NANO != 0 && tx.Time.Usec >= 1e9 || m&unix.ADJ_NANO == 0 && tx.Time.Usec >= 1e6 {
			return -1, unix.EINVAL
		}
		delta := int64(tx.Time.Usec)
		if m&unix.ADJ_NANO == 0 {
			delta *= 1000
		}
		k.realtime += int64(tx.Time.Sec)*int64(time.Second) + delta
	}
	if m&unix.ADJ_STATUS != 0 {
		if k.status&unix.STA_PLL != 0 && tx.Status&unix.STA_PLL == 0 {
			k.status = unix.STA_UNSYNC | k.status&staReadOnly
		}
		k.status = k.status&staReadOnly | tx.Status&^staReadOnly
	}
	if m&unix.ADJ_NANO != 0 {
		k.status |= unix.STA_NANO
	}
	if m&unix.ADJ_MICRO != 0 {
		k.status &^= unix.STA_NANO
	}
	if m&unix.ADJ_FREQUENCY != 0 {
		k.freq = max(-kernelMaxFreqPPM*freqScale, min(kernelMaxFreqPPM*freqScale, int64(tx.Freq)))
	}
	if m&unix.ADJ_MAXERROR != 0 {
		k.maxerror = int64(tx.Maxerror)
	}
	if m&unix.ADJ_ESTERROR != 0 {
		k.esterror = int64(tx.Esterror)
	}
	if m&unix.ADJ_OFFSET != 0 && k.status&unix.STA_PLL != 0 {
		k.offset = int64(tx.Offset)
	}
	if m&unix.ADJ_TICK != 0 {
		k.tick = int64(tx.Tick)
	}
	k.fill(tx)
	return k.state(), nil
}

func (k *fakeKernel) gettime(ts *unix.Timespec) error {
	setInt(&ts.Sec, k.realtime/int64(time.Second))
	setInt(&ts.Nsec, k.realtime%int64(time.Second))
	return nil
}

func (k *fakeKernel) settime(ts *unix.Timespec) error {
	if !k.privileged {
		return unix.EPERM
	}
	if ts.Nsec < 0 || ts.Nsec >= 1e9 || ts.Sec < 0 {
		return unix.EINVAL
	}
	k.settimes++
	k.realtime = int64(ts.Sec)*int64(time.Second) + int64(ts.Nsec)
	return nil
}

// driver returns a driver on the fake kernel.
func (k *fakeKernel) driver() (*Driver, error) {
	return New(WithAdjtimex(k.adjtimex), WithClock(k.gettime, k.settime), WithUserHZ(k.hz))
}
