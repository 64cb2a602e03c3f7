package darwin

import (
	"math"
	"sort"
	"syscall"
	"testing"
	"time"
)

// fakeMac simulates the macOS kernel calls the driver makes, with a perfect
// oscillator: the monotonic clock is true time, and the system clock is
// true time plus an offset that adjtime slews (at xnu's 4000 ppm, 40000
// ppm above 1 s, the rate chosen once per call) and settimeofday sets. It
// also provides the driver's timers, fired as the test advances time.
type fakeMac struct {
	t          *testing.T
	privileged bool

	mono    time.Time // true time = monotonic clock
	offset  float64   // system clock − true time, s
	pending float64   // adjtime correction not yet applied, s (signed)
	rate    float64   // slew rate of the pending correction, fractional

	adjtimes []time.Duration // every adjtime delta
	settimes int
	timers   []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func newFakeMac(t *testing.T) *fakeMac {
	return &fakeMac{t: t, privileged: true, mono: time.Unix(1700000000, 0)}
}

func (m *fakeMac) ops() Ops {
	return Ops{Adjtime: m.adjtime, Gettimeofday: m.gettimeofday, Settimeofday: m.settimeofday, Timers: m}
}

func (m *fakeMac) driver() *Driver {
	d, err := NewWithOps(m.ops())
	if err != nil {
		m.t.Fatal(err)
	}
	return d
}

func (m *fakeMac) adjtime(delta time.Duration) (time.Duration, error) {
	if !m.privileged {
		return 0, syscall.EPERM
	}
	if delta%time.Microsecond != 0 {
		m.t.Errorf("adjtime(%v): not a whole number of µs (the timeval would truncate it)", delta)
	}
	m.adjtimes = append(m.adjtimes, delta)
	old := m.pending
	m.pending = delta.Seconds()
	m.rate = KernelSlewPPM * 1e-6
	if delta > time.Second || delta < -time.Second {
		m.rate = KernelBigSlewPPM * 1e-6
	}
	return time.Duration(math.Round(old * 1e9)), nil
}

func (m *fakeMac) gettimeofday() (time.Time, error) {
	return m.mono.Add(time.Duration(math.Round(m.offset * 1e9))).Truncate(time.Microsecond), nil
}

func (m *fakeMac) settimeofday(t time.Time) error {
	if !m.privileged {
		return syscall.EPERM
	}
	if t.Nanosecond()%1000 != 0 {
		m.t.Errorf("settimeofday(%v): not a whole number of µs", t)
	}
	m.settimes++
	m.offset = t.Sub(m.mono).Seconds()
	m.pending = 0 // xnu cancels the adjustment in progress
	return nil
}

// Now and AfterFunc make fakeMac the driver's platform.Timers.
func (m *fakeMac) Now() time.Time { return m.mono }

func (m *fakeMac) AfterFunc(d time.Duration, f func()) func() bool {
	ft := &fakeTimer{at: m.mono.Add(d), f: f}
	m.timers = append(m.timers, ft)
	return func() bool {
		was := !ft.stopped
		ft.stopped = true
		return was
	}
}

// pendingTimers counts the timers not yet fired or stopped.
func (m *fakeMac) pendingTimers() int {
	n := 0
	for _, ft := range m.timers {
		if !ft.stopped {
			n++
		}
	}
	return n
}

// slew lets the kernel apply the pending correction for dt.
func (m *fakeMac) slew(dt time.Duration) {
	if m.pending == 0 {
		return
	}
	step := math.Min(math.Abs(m.pending), m.rate*dt.Seconds())
	step = math.Copysign(step, m.pending)
	m.offset += step
	m.pending -= step
}

// advance moves true time forward by d, firing the timers due on the way,
// and calls check (if not nil) every sample of true time.
func (m *fakeMac) advance(d, sample time.Duration, check func()) {
	end := m.mono.Add(d)
	for {
		sort.SliceStable(m.timers, func(i, j int) bool { return m.timers[i].at.Before(m.timers[j].at) })
		var next *fakeTimer
		for _, ft := range m.timers {
			if !ft.stopped {
				next = ft
				break
			}
		}
		until := end
		if next != nil && !next.at.After(end) {
			until = next.at
		}
		for m.mono.Before(until) {
			dt := until.Sub(m.mono)
			if sample > 0 && dt > sample {
				dt = sample
			}
			m.slew(dt)
			m.mono = m.mono.Add(dt)
			if check != nil {
				check()
			}
		}
		if next == nil || next.at.After(end) {
			return
		}
		next.stopped = true
		next.f()
	}
}
