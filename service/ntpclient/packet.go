package ntpclient

// packet.go: the client's side of the NTPv4 wire format (RFC 5905 section
// 7.3): the request we send and the reading of the server's answer into
// the ntp.Response the engine judges. Pure functions; no sockets.

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/beevik/ntp"

	"github.com/timesync/timesync/service/engine"
)

// The NTP header, RFC 5905 section 7.3, figure 8 (big-endian). We send
// and read only the 48-byte header; extension fields and a MAC after it
// in an answer are ignored.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|LI | VN  |Mode |    Stratum     |     Poll      |  Precision   |  0
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Root Delay                            |  4
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Root Dispersion                       |  8
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Reference ID                         | 12
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	+                     Reference Timestamp (64)                  + 16
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	+                      Origin Timestamp (64)                    + 24
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	+                      Receive Timestamp (64)                   + 32
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	+                      Transmit Timestamp (64)                  + 40
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Root delay and dispersion are NTP short format (unsigned 16.16 fixed-point
// seconds), timestamps NTP timestamp format (unsigned 32.32 seconds since
// the start of the era).
const headerSize = 48

const (
	version    = 4
	modeClient = 3
	modeServer = 4
)

// newCookie returns a random, non-zero 64-bit value for the transmit
// timestamp of a request. The client's own clock is not put on the wire
// (draft-ietf-ntp-data-minimization): the server echoes the value in its
// origin timestamp, which proves that the answer is to this request
// (RFC 5905 section 8, test 2) to anyone who could not read the request.
//
// The values come from a ChaCha8 generator (cryptographically strong,
// with fast key erasure) keyed once per process from crypto/rand, as
// chronyd draws its cookies from a buffer of getrandom's bytes: a read
// of the system's generator per request cost the idle service a system
// call and an interface lookup at every poll.
func newCookie() (uint64, error) {
	cookies.mu.Lock()
	defer cookies.mu.Unlock()
	if cookies.g == nil {
		var seed [32]byte
		if _, err := rand.Read(seed[:]); err != nil {
			return 0, fmt.Errorf("random origin cookie: %w", err)
		}
		cookies.g = mrand.NewChaCha8(seed)
	}
	for range 4 {
		if c := cookies.g.Uint64(); c != 0 {
			return c, nil
		}
	}
	return 0, fmt.Errorf("random origin cookie: zero four times")
}

// cookies is newCookie's generator.
var cookies struct {
	mu sync.Mutex
	g  *mrand.ChaCha8
}

// putRequest writes a client request carrying cookie as its transmit
// timestamp into b (at least headerSize long) and returns the header.
// Everything else is zero, as RFC 5905 allows a client to send.
func putRequest(b []byte, cookie uint64) []byte {
	b = b[:headerSize]
	clear(b)
	b[0] = version<<3 | modeClient // leap 0 (no warning)
	binary.BigEndian.PutUint64(b[40:], cookie)
	return b
}

// cookieOf returns the origin timestamp of an answer, and whether b is
// long enough to hold one.
func cookieOf(b []byte) (uint64, bool) {
	if len(b) < headerSize {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[24:]), true
}

// parseResponse reads a server's answer whose origin timestamp was
// already matched to our request, sent at t1 and received at t4 (readings
// of the local clock). It fills the same ntp.Response fields as
// github.com/beevik/ntp's NTPv4 client did, with the same conversions, so
// that everything downstream (engine.Validate, the history, ntp.Response's
// own Validate) sees what it saw before. A malformed answer is ErrBadMode.
func parseResponse(b []byte, t1, t4 time.Time) (*ntp.Response, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes", engine.ErrBadMode, len(b))
	}
	if mode := b[0] & 7; mode != modeServer {
		return nil, fmt.Errorf("%w: mode %d", engine.ErrBadMode, mode)
	}
	rx := binary.BigEndian.Uint64(b[32:])
	tx := binary.BigEndian.Uint64(b[40:])
	if tx == 0 {
		return nil, fmt.Errorf("%w: zero transmit timestamp", engine.ErrBadMode)
	}
	if rx > tx {
		return nil, fmt.Errorf("%w: server clock ticked backwards", engine.ErrBadMode)
	}
	t2, t3 := timestampTime(rx), timestampTime(tx)
	r := &ntp.Response{
		ClockOffset:    (t2.Sub(t1) + t3.Sub(t4)) / 2,
		RTT:            max(t4.Sub(t1)-t3.Sub(t2), 0),
		Timestamps:     ntp.ProtocolTimestamps{ClientXmit: t1, ServerRecv: t2, ServerXmit: t3, ClientRecv: t4},
		Precision:      expInterval(int8(b[3])),
		Version:        int(b[0] >> 3 & 7),
		Stratum:        b[1],
		Era:            era(tx),
		Timescale:      ntp.TimescaleUTC,
		ReferenceID:    binary.BigEndian.Uint32(b[12:]),
		ReferenceTime:  timestampTime(binary.BigEndian.Uint64(b[16:])),
		RootDelay:      shortDuration(binary.BigEndian.Uint32(b[4:])),
		RootDispersion: shortDuration(binary.BigEndian.Uint32(b[8:])),
		Leap:           ntp.LeapIndicator(b[0] >> 6),
		Poll:           expInterval(int8(b[2])),
		Time:           t3,
	}
	r.MinError = minError(r.ClockOffset, r.RTT)
	r.RootDistance = (r.RTT+r.RootDelay)/2 + r.RootDispersion
	if r.Stratum == 0 {
		r.KissCode = kissCode(r.ReferenceID)
	}
	if r.Stratum > 1 && r.Stratum < engine.MaxStratum {
		r.Flags |= ntp.FlagSynchronized
	}
	return r, nil
}

// Era boundaries: era 0 began 1900-01-01 UTC, era 1 begins 2036-02-07.
var (
	era0Start = time.Date(1900, time.January, 1, 0, 0, 0, 0, time.UTC)
	era1Start = era0Start.Add(time.Second << 32) // 2036-02-07T06:28:16Z
)

// unix1970 is 1970-01-01 as an NTP timestamp of era 0: a raw timestamp
// below it is taken to be in era 1 (2036–2104), so that the rollover in
// 2036 is read right until 2104.
const unix1970 = 2208988800 << 32

func era(ts uint64) uint8 {
	if ts < unix1970 {
		return 1
	}
	return 0
}

// timestampTime reads an NTP timestamp (32.32 seconds) as a time, the
// fraction rounded half up to the nanosecond.
func timestampTime(ts uint64) time.Time {
	start := era0Start
	if era(ts) == 1 {
		start = era1Start
	}
	sec := ts >> 32
	frac := (ts & 0xffffffff) * 1e9 // fits: (2^32−1)·10^9 < 2^64
	ns := frac>>32 + (frac&0xffffffff+1<<31)>>32
	return start.Add(time.Duration(sec)*time.Second + time.Duration(ns))
}

// shortDuration reads NTP short format (16.16 seconds), the fraction
// rounded half up to the nanosecond.
func shortDuration(v uint32) time.Duration {
	frac := uint64(v&0xffff) * 1e9
	ns := frac>>16 + (frac&0xffff+1<<15)>>16
	return time.Duration(v>>16)*time.Second + time.Duration(ns)
}

// expInterval is 2^e seconds (the poll and precision fields).
func expInterval(e int8) time.Duration {
	switch {
	case e > 0:
		return time.Second << int(e)
	case e < 0:
		return time.Second >> -int(e)
	default:
		return time.Second
	}
}

// minError is how far the offset goes beyond half the round trip: a lower
// bound on how far apart the clocks must be (ntp.Response.MinError).
func minError(offset, rtt time.Duration) time.Duration {
	return max(offset.Abs()-rtt/2, 0)
}

// kissCode is the reference ID as four ASCII letters, or "" if any is
// not printable.
func kissCode(id uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], id)
	for _, c := range b {
		if c < ' ' || c > '~' {
			return ""
		}
	}
	return string(b[:])
}
