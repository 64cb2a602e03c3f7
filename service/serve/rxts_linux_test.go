package serve

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/timesync/timesync/internal/rxts"
)

// On Linux the sockets ask for kernel receive timestamps, and the
// receive time the server uses is the kernel's: taken before the reader
// got the datagram, here held back by a slow observer of the previous
// one.
func TestKernelReceiveTimestamps(t *testing.T) {
	rxs := make(chan time.Time, 2)
	var n atomic.Int32 // datagrams observed in this attempt
	s := New(Options{Readers: 1, Observe: func(_ netip.AddrPort, rx time.Time, _ Verdict) {
		k := n.Add(1)
		rxs <- rx
		if k == 1 {
			time.Sleep(100 * time.Millisecond) // the second datagram waits in the socket
		}
	}})
	defer s.Close()
	if err := s.Listen([]string{"127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	kernel := s.sockets["127.0.0.1:0"].kernelRx
	s.mu.Unlock()
	if !kernel {
		t.Fatalf("SO_TIMESTAMPNS not enabled on a Linux UDP socket")
	}
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(s.Addrs()["127.0.0.1:0"]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Linux switches software timestamps on for the whole stack lazily
	// (a deferred static key): until then a datagram is stamped when it
	// is read. So the pair is tried a few times; with the timestamps
	// ignored no attempt can pass.
	var late, read time.Duration
	for attempt := 0; attempt < 5; attempt++ {
		n.Store(0)
		c.Write(request(4, ModeClient, 1))
		first := <-rxs
		sent := time.Now()
		c.Write(request(4, ModeClient, 2))
		second := <-rxs
		late, read = second.Sub(sent), time.Since(sent)
		// The second datagram was read ≥ 100 ms after it arrived; its
		// receive time must be when it arrived.
		if !second.Before(first) && late < 50*time.Millisecond {
			return
		}
	}
	t.Errorf("receive time %v after sending, read %v after: want the kernel's arrival time, not the read's", late, read)
}

// The control-message parser never reads outside what it is given and
// always ends, whatever the bytes (they come from the kernel, but a
// parser with pointer casts earns a fuzz target).
func FuzzParseRxTimestamp(f *testing.F) {
	good := make([]byte, rxts.OOBSize)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&good[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))))
	f.Add(good)
	f.Add(good[:unix.CmsgLen(0)])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Copy into 8-byte aligned memory, as the reader's buffers are.
		buf := make([]uint64, (len(b)+7)/8)
		oob := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), len(buf)*8)[:len(b)]
		copy(oob, b)
		rxts.Parse(oob)
	})
}

func TestParseRxTimestamp(t *testing.T) {
	oob := make([]byte, rxts.OOBSize)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))))
	*(*unix.Timespec)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = unix.Timespec{Sec: 2_000_000_000, Nsec: 123}
	if got, ok := rxts.Parse(oob); !ok || !got.Equal(time.Unix(2_000_000_000, 123)) {
		t.Errorf("got %v %v, want 2033-05-18T03:33:20.000000123Z", got, ok)
	}
	h.Type = unix.SCM_CREDENTIALS
	if _, ok := rxts.Parse(oob); ok {
		t.Errorf("another control message read as a timestamp")
	}
}
