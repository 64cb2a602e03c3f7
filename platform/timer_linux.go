package platform

// timer_linux.go: RealTimers.AfterFunc on a kernel timer. An idle Go
// process pays for every runtime timer twice: the poller's thread wakes
// for it, and so does the runtime's system monitor (sysmon), which sleeps
// until the next runtime timer and then polls every 20 µs until the
// process is idle again; and time.AfterFunc runs each f on a new
// goroutine, whose stack grows (and is copied) again each time. Here the
// timers are kept in a heap of our own behind one timerfd, which the
// runtime's poller waits on like a socket, armed and read with raw system
// calls (which do not wake sysmon either); each f runs on a long-lived
// worker goroutine. With no runtime timer pending, sysmon sleeps for up to
// a minute at a time. If the timerfd cannot be made, time.AfterFunc is
// used.

import (
	"container/heap"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelTimers is the process's timerfd and the timers behind it.
type kernelTimers struct {
	mu      sync.Mutex
	fd      int
	file    *os.File // the fd's File (rc holds it too)
	rc      syscall.RawConn
	heap    timerHeap
	armed   time.Time // what the timerfd is set to (zero: disarmed)
	idle    []chan func()
	started bool
}

// maxIdleWorkers bounds the goroutines kept waiting for the next f.
const maxIdleWorkers = 4

type kernelTimer struct {
	when  time.Time
	seq   uint64
	f     func()
	index int // in the heap; -1 once run or stopped
}

type timerHeap struct {
	t   []*kernelTimer
	seq uint64
}

func (h *timerHeap) Len() int { return len(h.t) }
func (h *timerHeap) Less(i, j int) bool {
	if !h.t[i].when.Equal(h.t[j].when) {
		return h.t[i].when.Before(h.t[j].when)
	}
	return h.t[i].seq < h.t[j].seq
}
func (h *timerHeap) Swap(i, j int) {
	h.t[i], h.t[j] = h.t[j], h.t[i]
	h.t[i].index, h.t[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*kernelTimer)
	t.index = len(h.t)
	h.t = append(h.t, t)
}
func (h *timerHeap) Pop() any {
	t := h.t[len(h.t)-1]
	h.t[len(h.t)-1] = nil
	h.t = h.t[:len(h.t)-1]
	t.index = -1
	return t
}

var (
	ktOnce sync.Once
	kt     *kernelTimers // nil: time.AfterFunc
)

// afterFunc is RealTimers.AfterFunc on Linux.
func afterFunc(d time.Duration, f func()) func() bool {
	ktOnce.Do(func() { kt = newKernelTimers() })
	if kt == nil {
		return time.AfterFunc(d, f).Stop
	}
	return kt.add(time.Now().Add(d), f)
}

func newKernelTimers() *kernelTimers {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil
	}
	return &kernelTimers{fd: fd, file: f, rc: rc}
}

func (k *kernelTimers) add(when time.Time, f func()) func() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.started {
		k.started = true
		go k.run()
	}
	k.heap.seq++
	t := &kernelTimer{when: when, seq: k.heap.seq, f: f}
	heap.Push(&k.heap, t)
	k.armLocked()
	return func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		if t.index < 0 {
			return false
		}
		heap.Remove(&k.heap, t.index)
		k.armLocked()
		return true
	}
}

// armLocked sets the timerfd to the earliest timer, or disarms it.
func (k *kernelTimers) armLocked() {
	var next time.Time
	if k.heap.Len() > 0 {
		next = k.heap.t[0].when
	}
	if next.Equal(k.armed) {
		return
	}
	var its unix.ItimerSpec
	if !next.IsZero() {
		// Relative to now on CLOCK_MONOTONIC, the clock of time.Now's
		// monotonic reading; at least 1 ns (0 would disarm).
		its.Value = unix.NsecToTimespec(max(int64(time.Until(next)), 1))
	}
	// A raw call: timerfd_settime does not block, and a system call
	// made through the runtime's syscall entry would wake sysmon.
	_, _, e := syscall.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(k.fd), 0, uintptr(unsafe.Pointer(&its)), 0, 0, 0)
	if e != 0 {
		// Cannot happen with a valid fd and value, and a timer that is
		// not armed would never fire: better to stop loudly.
		panic("platform: timerfd_settime: " + e.Error())
	}
	k.armed = next
}

// run waits on the timerfd and hands each due f to a worker. It stays in
// one RawRead for good: RawRead forgets the descriptor's readiness once,
// when it begins, so a new RawRead per expiry had to try a read first
// (an EAGAIN each time, a system call for nothing); within one, after an
// expiry is read, it waits at once, and an expiry that came meanwhile is
// an edge the poller has kept for that wait.
func (k *kernelTimers) run() {
	var buf [8]byte
	var failed syscall.Errno
	err := k.rc.Read(func(fd uintptr) bool {
		_, _, e := syscall.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		switch e {
		case 0:
			k.fire()
			return false
		case syscall.EAGAIN: // the first try, or woken for nothing
			return false
		}
		failed = e
		return true
	})
	if err == nil {
		err = failed
	}
	// The fd is never closed; a read error would spin.
	panic("platform: timerfd read: " + err.Error())
}

// fire hands the timers that are due to workers and arms the timerfd for
// the next.
func (k *kernelTimers) fire() {
	k.mu.Lock()
	k.armed = time.Time{} // a relative timer that fired is disarmed
	now := time.Now()
	var due []func()
	for k.heap.Len() > 0 && !k.heap.t[0].when.After(now) {
		due = append(due, heap.Pop(&k.heap).(*kernelTimer).f)
	}
	k.armLocked()
	k.mu.Unlock()
	for _, f := range due {
		k.dispatch(f)
	}
}

// dispatch runs f on an idle worker, or on a new one.
func (k *kernelTimers) dispatch(f func()) {
	k.mu.Lock()
	if n := len(k.idle); n > 0 {
		w := k.idle[n-1]
		k.idle = k.idle[:n-1]
		k.mu.Unlock()
		w <- f
		return
	}
	k.mu.Unlock()
	go k.worker(f)
}

// worker runs f, then waits for the next one while fewer than
// maxIdleWorkers others wait.
func (k *kernelTimers) worker(f func()) {
	w := make(chan func(), 1)
	for {
		f()
		k.mu.Lock()
		if len(k.idle) >= maxIdleWorkers {
			k.mu.Unlock()
			return
		}
		k.idle = append(k.idle, w)
		k.mu.Unlock()
		f = <-w
	}
}
