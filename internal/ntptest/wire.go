package ntptest

import (
	"encoding/binary"
	"time"
)

// The NTP packet header, RFC 5905 section 7.3, figure 8. All fields are
// big-endian. Extension fields and the MAC (figure 8's lower part) are not
// produced by this server and are ignored in requests.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|LI | VN  |Mode |    Stratum     |     Poll      |  Precision   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Root Delay                            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Root Dispersion                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Reference ID                         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                     Reference Timestamp (64)                  +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                      Origin Timestamp (64)                    +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                      Receive Timestamp (64)                   +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                      Transmit Timestamp (64)                  +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Root Delay and Root Dispersion are in NTP short format (unsigned 16.16
// fixed-point seconds); the timestamps are in NTP timestamp format
// (unsigned 32.32 fixed-point seconds since the start of the NTP era).

// HeaderSize is the length of the NTP header in bytes.
const HeaderSize = 48

// NTP modes (RFC 5905 section 7.3, "Mode").
const (
	ModeReserved  = 0
	ModeClient    = 3
	ModeServer    = 4
	ModeBroadcast = 5
)

// Header is the decoded 48-byte NTP header. Timestamps are kept raw
// (Timestamp) so that a server can echo the client's transmit timestamp bit
// for bit, as the origin-timestamp check requires.
type Header struct {
	Leap      uint8 // 2 bits: 0 none, 1 insert, 2 delete, 3 alarm (unsynchronized)
	Version   uint8 // 3 bits
	Mode      uint8 // 3 bits
	Stratum   uint8
	Poll      int8 // log2 seconds
	Precision int8 // log2 seconds
	// RootDelay and RootDispersion are NTP short format (16.16 seconds).
	RootDelay      uint32
	RootDispersion uint32
	RefID          uint32
	RefTime        Timestamp
	Origin         Timestamp
	Receive        Timestamp
	Transmit       Timestamp
}

// Marshal encodes h into the 48-byte wire format.
func (h *Header) Marshal() []byte {
	b := make([]byte, HeaderSize)
	b[0] = h.Leap<<6 | (h.Version&7)<<3 | h.Mode&7
	b[1] = h.Stratum
	b[2] = byte(h.Poll)
	b[3] = byte(h.Precision)
	binary.BigEndian.PutUint32(b[4:], h.RootDelay)
	binary.BigEndian.PutUint32(b[8:], h.RootDispersion)
	binary.BigEndian.PutUint32(b[12:], h.RefID)
	binary.BigEndian.PutUint64(b[16:], uint64(h.RefTime))
	binary.BigEndian.PutUint64(b[24:], uint64(h.Origin))
	binary.BigEndian.PutUint64(b[32:], uint64(h.Receive))
	binary.BigEndian.PutUint64(b[40:], uint64(h.Transmit))
	return b
}

// ParseHeader decodes the first 48 bytes of b. It reports false if b is
// shorter than a header; it does not judge the contents.
func ParseHeader(b []byte) (Header, bool) {
	if len(b) < HeaderSize {
		return Header{}, false
	}
	return Header{
		Leap:           b[0] >> 6,
		Version:        (b[0] >> 3) & 7,
		Mode:           b[0] & 7,
		Stratum:        b[1],
		Poll:           int8(b[2]),
		Precision:      int8(b[3]),
		RootDelay:      binary.BigEndian.Uint32(b[4:]),
		RootDispersion: binary.BigEndian.Uint32(b[8:]),
		RefID:          binary.BigEndian.Uint32(b[12:]),
		RefTime:        Timestamp(binary.BigEndian.Uint64(b[16:])),
		Origin:         Timestamp(binary.BigEndian.Uint64(b[24:])),
		Receive:        Timestamp(binary.BigEndian.Uint64(b[32:])),
		Transmit:       Timestamp(binary.BigEndian.Uint64(b[40:])),
	}, true
}

// Timestamp is an NTP timestamp: seconds (upper 32 bits) and fraction of a
// second (lower 32 bits, units of 2⁻³² s) since the start of an NTP era.
// Era 0 starts 1900-01-01 00:00:00 UTC; era 1 starts 2036-02-07 06:28:16
// UTC, where the 32-bit seconds field wraps to zero. The era number is not
// on the wire: a reader infers it from a pivot time it already knows.
type Timestamp uint64

// Era starts.
var (
	Era0 = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	Era1 = time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC)
)

// unixToNTP is the number of seconds from Era0 to the Unix epoch.
const unixToNTP = 2208988800

// ToTimestamp converts t to an NTP timestamp, rounding to the nearest
// 2⁻³² s. The seconds field is taken modulo 2³², so any instant after
// 2036-02-07 06:28:16 UTC lands in era 1 (or later) with small seconds, as
// on the wire. The arithmetic is on 64-bit Unix seconds and never overflows
// for times between years 1 and 9999.
func ToTimestamp(t time.Time) Timestamp {
	sec := t.Unix() + unixToNTP
	ns := uint64(t.Nanosecond())
	// Rounds to nearest; cannot carry into the seconds: the largest
	// nanosecond value, 999 999 999, gives 0xfffffffc.
	frac := (ns<<32 + 500_000_000) / 1_000_000_000
	return Timestamp(uint64(uint32(sec))<<32 | frac)
}

// Time converts ts back to a time in the era that places it nearest to
// pivot (within ±68 years, RFC 5905 section 6), so a timestamp with a small
// seconds field read near 2036 lands after the rollover rather than in 1900.
// The fraction is truncated to whole nanoseconds after rounding.
func (ts Timestamp) Time(pivot time.Time) time.Time {
	pivotSec := pivot.Unix() + unixToNTP
	diff := int64(int32(uint32(ts>>32) - uint32(pivotSec)))
	sec := pivotSec + diff - unixToNTP
	ns := (uint64(ts&0xffffffff)*1_000_000_000 + 1<<31) >> 32
	return time.Unix(sec, int64(ns)).UTC()
}

// ShortFromDuration converts a non-negative duration to NTP short format
// (16.16 seconds), saturating at the largest value.
func ShortFromDuration(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	v := (uint64(d)<<16 + 500_000_000) / 1_000_000_000
	if v > 0xffffffff {
		return 0xffffffff
	}
	return uint32(v)
}

// ShortToDuration converts NTP short format to a duration.
func ShortToDuration(v uint32) time.Duration {
	return time.Duration((uint64(v)*1_000_000_000 + 1<<15) >> 16)
}

// RefIDFromString packs up to four ASCII characters into a reference ID, as
// used for kiss codes and stratum-1 reference identifiers ("GPS", "DENY"),
// padding with zero bytes.
func RefIDFromString(s string) uint32 {
	var b [4]byte
	copy(b[:], s)
	return binary.BigEndian.Uint32(b[:])
}
