package serve

// packet.go: the NTP wire format the server reads and writes, as pure
// functions over byte slices (no I/O, no clock).
//
// RFC 5905, figure 8, the packet header (all fields big-endian):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|LI | VN  |Mode |    Stratum     |     Poll      |  Precision   |   0
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Root Delay                            |   4
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Root Dispersion                       |   8
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Reference ID                         |  12
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                     Reference Timestamp (64)                  +  16
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                      Origin Timestamp (64)                    +  24
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                      Receive Timestamp (64)                   +  32
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                      Transmit Timestamp (64)                  +  40
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	.                                                               .
//	.    Extension Fields (RFC 7822), then an optional MAC:           .
//	.    Key Identifier (32) + digest (128 or 160)                   .
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Root Delay and Root Dispersion are NTP short format (unsigned 16.16
// seconds); timestamps are NTP timestamp format (32-bit seconds since the
// era's start, 32-bit fraction). Era 0 began 1900-01-01 00:00:00 UTC;
// era 1 begins 2036-02-07 06:28:16 UTC, where the seconds field wraps.
// Timestamps are written modulo 2^32 seconds (correct in every era) and
// read against a pivot time (TimeFromNTP).

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
)

// Header layout.
const (
	HeaderLen = 48 // bytes of the fixed header

	offRootDelay = 4
	offRootDisp  = 8
	offRefID     = 12
	offRefTime   = 16
	offOrigin    = 24
	offReceive   = 32
	offTransmit  = 40

	// macLens are the MAC sizes after the header or the extension
	// fields: key ID + MD5 (RFC 5905) or + SHA-1 (ntpd's legacy MACs).
	macMD5  = 4 + 16
	macSHA1 = 4 + 20
	// minExtLen is the smallest extension field (RFC 7822, section 3).
	minExtLen = 16
	// MaxRequestLen bounds a request we answer; anything longer is not
	// a client request we understand (NTS requests with cookies and
	// placeholders fit well under it).
	MaxRequestLen = 1024
)

// Modes (RFC 5905, figure 10).
const (
	ModeReserved         = 0
	ModeSymmetricActive  = 1
	ModeSymmetricPassive = 2
	ModeClient           = 3
	ModeServer           = 4
	ModeBroadcast        = 5
	ModeControl          = 6 // ntpq
	ModePrivate          = 7 // ntpdc
)

// Leap indicators (RFC 5905, figure 9).
const (
	LeapNone    = 0
	LeapAdd     = 1 // last minute of the day has 61 s
	LeapDelete  = 2 // last minute of the day has 59 s
	LeapUnsynch = 3 // alarm: clock not synchronized
)

// MaxStratum is the stratum of an unsynchronized server (RFC 5905: 16).
const MaxStratum = 16

// ntpEpochOffset is the number of seconds from 1900-01-01 (NTP's prime
// epoch) to 1970-01-01 (Unix's).
const ntpEpochOffset = 2208988800

// Errors of ParseRequest. Each means "malformed": the packet is not an
// NTP packet we can read.
var (
	ErrShort     = errors.New("shorter than the 48-byte header")
	ErrTooLong   = errors.New("longer than any request we answer")
	ErrVersion   = errors.New("version not 1..4")
	ErrMode      = errors.New("reserved mode 0")
	ErrTrailer   = errors.New("bytes after the header are neither extension fields nor a MAC")
	ErrAlignment = errors.New("length is not a multiple of 4")
)

// Request is what the server reads from a datagram's header.
type Request struct {
	Leap, Version, Mode uint8
	// Poll is the client's poll exponent, copied into the reply.
	Poll int8
	// Transmit is the client's transmit timestamp, raw; the reply's
	// origin timestamp echoes it (the client matches replies by it).
	Transmit uint64
	// Len is the datagram's length (the reply is never longer).
	Len int
}

// ParseRequest reads the header of b and checks that it is a well-formed
// NTP packet: at least the 48-byte header, at most MaxRequestLen bytes, a
// multiple of 4, version 1..4, a mode other than 0, and whatever follows
// the header made of RFC 7822 extension fields and/or one MAC of a known
// size. It does not judge the mode: the caller answers only ModeClient.
func ParseRequest(b []byte) (Request, error) {
	if len(b) < HeaderLen {
		return Request{}, ErrShort
	}
	if len(b) > MaxRequestLen {
		return Request{}, ErrTooLong
	}
	if len(b)%4 != 0 {
		return Request{}, ErrAlignment
	}
	r := Request{
		Leap:     b[0] >> 6,
		Version:  (b[0] >> 3) & 7,
		Mode:     b[0] & 7,
		Poll:     int8(b[2]),
		Transmit: binary.BigEndian.Uint64(b[offTransmit:]),
		Len:      len(b),
	}
	if r.Version < 1 || r.Version > 4 {
		return Request{}, ErrVersion
	}
	if r.Mode == ModeReserved {
		return Request{}, ErrMode
	}
	if !validTrailer(b[HeaderLen:]) {
		return Request{}, ErrTrailer
	}
	return r, nil
}

// validTrailer reports whether t (what follows the header) is empty, a
// MAC, or extension fields optionally followed by a MAC (RFC 7822,
// section 7.5: a 20- or 24-byte remainder is a MAC).
func validTrailer(t []byte) bool {
	for {
		switch len(t) {
		case 0, macMD5, macSHA1:
			return true
		}
		if len(t) < minExtLen {
			return false
		}
		n := int(binary.BigEndian.Uint16(t[2:]))
		if n < minExtLen || n%4 != 0 || n > len(t) {
			return false
		}
		t = t[n:]
	}
}

// Reply is what the server says about itself in an answer.
type Reply struct {
	Leap    uint8
	Stratum uint8
	// Poll is copied from the request (ntpd and chrony do the same);
	// a KoD RATE raises it to the spacing the client must keep.
	Poll      int8
	Precision int8
	// RootDelay and RootDispersion are written in NTP short format,
	// clamped to its range.
	RootDelay      time.Duration
	RootDispersion time.Duration
	RefID          [4]byte
	// RefTime is when our clock was last set or corrected; the zero
	// time writes a zero timestamp.
	RefTime time.Time
	// Receive is when the request arrived (as close to the wire as the
	// OS tells).
	Receive time.Time
}

// AppendReply appends the 48-byte reply to req to dst, without the
// transmit timestamp (SetTransmit writes it, as late as possible). The
// version is the request's; the origin timestamp echoes the request's
// transmit timestamp (RFC 5905, section 9.2).
func AppendReply(dst []byte, req Request, r Reply) []byte {
	var h [HeaderLen]byte
	h[0] = r.Leap<<6 | req.Version<<3 | ModeServer
	h[1] = r.Stratum
	h[2] = byte(r.Poll)
	h[3] = byte(r.Precision)
	binary.BigEndian.PutUint32(h[offRootDelay:], ShortFormat(r.RootDelay))
	binary.BigEndian.PutUint32(h[offRootDisp:], ShortFormat(r.RootDispersion))
	copy(h[offRefID:], r.RefID[:])
	if !r.RefTime.IsZero() {
		binary.BigEndian.PutUint64(h[offRefTime:], Timestamp(r.RefTime))
	}
	binary.BigEndian.PutUint64(h[offOrigin:], req.Transmit)
	binary.BigEndian.PutUint64(h[offReceive:], Timestamp(r.Receive))
	return append(dst, h[:]...)
}

// SetTransmit writes the transmit timestamp t into a reply built by
// AppendReply.
func SetTransmit(reply []byte, t time.Time) {
	binary.BigEndian.PutUint64(reply[offTransmit:], Timestamp(t))
}

// KissRATE is the kiss code of a rate-limited client (RFC 5905, section
// 7.4): reduce your rate.
var KissRATE = [4]byte{'R', 'A', 'T', 'E'}

// KoDPoll is the poll exponent a RATE kiss-o'-death asks for at least:
// ntpd's average headway (2^3 s, "discard average 3").
const KoDPoll = 3

// AppendKoD appends a RATE kiss-o'-death answering req, as ntpd sends
// it: leap 3, stratum 0 (the kiss), reference ID "RATE", poll at least
// KoDPoll, the origin echoing the request so the client can trust it,
// and receive/transmit timestamps (SetTransmit).
func AppendKoD(dst []byte, req Request, precision int8, rx time.Time) []byte {
	return AppendReply(dst, req, Reply{
		Leap:      LeapUnsynch,
		Stratum:   0,
		Poll:      max(req.Poll, KoDPoll),
		Precision: precision,
		RefID:     KissRATE,
		Receive:   rx,
	})
}

// Timestamp returns t in NTP timestamp format: seconds since 1900 modulo
// 2^32 (so it wraps at each era, as the format does) and the fraction of
// a second in units of 2^-32 s, rounded down.
func Timestamp(t time.Time) uint64 {
	sec := uint64(t.Unix() + ntpEpochOffset) // wraps modulo 2^64; only the low 32 bits are kept
	frac := (uint64(t.Nanosecond()) << 32) / 1e9
	return sec<<32 | frac
}

// TimeFromNTP returns the time a timestamp stands for, choosing among
// the eras the one that puts it nearest to pivot (within ±68 years), as
// RFC 5905 section 6 recommends. The zero timestamp means "unknown" and
// returns the zero time.
func TimeFromNTP(ts uint64, pivot time.Time) time.Time {
	if ts == 0 {
		return time.Time{}
	}
	secs := uint32(ts >> 32)
	frac := ts & 0xffffffff
	ns := int64((frac * 1e9) >> 32)
	// Difference in seconds from pivot, as a signed 32-bit count: the
	// nearest era is the one that makes it smallest.
	p := uint32(pivot.Unix() + ntpEpochOffset)
	d := int64(int32(secs - p))
	return time.Unix(pivot.Unix()+d, ns).UTC()
}

// ShortFormat returns d in NTP short format (unsigned 16.16 seconds),
// clamped to 0 .. 65535.99998 s.
func ShortFormat(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	const max = (1<<32 - 1) // 65535 + 65535/65536 s
	v := (uint64(d) << 16) / uint64(time.Second)
	if v > max {
		return max
	}
	return uint32(v)
}

// RefID returns the reference ID a server synchronized to a source at
// addr announces (RFC 5905, section 7.3): an IPv4 address itself; for
// IPv6 the first four octets of the MD5 hash of the address. An invalid
// addr gives zero.
func RefID(addr netip.Addr) [4]byte {
	addr = addr.Unmap()
	switch {
	case addr.Is4():
		return addr.As4()
	case addr.Is6():
		a := addr.As16()
		sum := md5.Sum(a[:])
		return [4]byte(sum[:4])
	}
	return [4]byte{}
}
