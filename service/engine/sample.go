// Package engine turns NTP responses into a judgement of the time: it
// validates responses (RFC 5905), keeps per-source state (reachability,
// kiss-o'-death, the sample filter), selects truechimers by intersection and
// combines them.
//
// It is pure: no clock reads, no sockets, no timers. The caller passes in the
// responses it got (through a Querier) and the current time. The service
// loop, timesync --once and the simulator all drive the same code.
package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/ntp"
)

// Querier performs one NTP client exchange with a server. The production
// implementation is service/ntpclient (which reads the answer into
// github.com/beevik/ntp's Response); tests and the simulator supply their
// own. A Querier returns what the server said; judging it is
// Validate's job.
type Querier interface {
	Query(ctx context.Context, address string) (*ntp.Response, error)
}

// Leap is the leap indicator of RFC 5905 section 7.3.
type Leap uint8

// Leap indicator values.
const (
	LeapNone   Leap = 0
	LeapInsert Leap = 1 // last minute of the day has 61 seconds
	LeapDelete Leap = 2 // last minute of the day has 59 seconds
	LeapAlarm  Leap = 3 // clock unsynchronized
)

// Sample is one measurement of a source, from one client/server exchange.
type Sample struct {
	// Time is the local clock reading when the response arrived (t4).
	Time time.Time
	// Offset is θ = ((t2−t1)+(t3−t4))/2: the source's time minus the local
	// clock. Positive means the local clock is behind.
	Offset time.Duration
	// Delay is δ = (t4−t1)−(t3−t2), the round-trip delay, never below the
	// combined precision.
	Delay time.Duration
	// Dispersion is ε: the precision of both clocks plus the frequency
	// tolerance over the exchange (RFC 5905 section 8).
	Dispersion time.Duration
	// RootDelay and RootDispersion are the server's, from the packet.
	RootDelay      time.Duration
	RootDispersion time.Duration
	Stratum        uint8
	Leap           Leap
	RefID          uint32
}

// RootDistance is λ = (root delay + δ)/2 + root dispersion + ε: the maximum
// error of this sample's offset relative to the primary reference
// (RFC 5905 appendix A.5.5.2, without jitter, which belongs to the source).
func (s Sample) RootDistance() time.Duration {
	return (s.RootDelay+s.Delay)/2 + s.RootDispersion + s.Dispersion
}

// Protocol limits (RFC 5905 section 7.2 and appendix A).
const (
	// MaxStratum is the stratum of an unsynchronized server.
	MaxStratum = 16
	// MaxDistance is the default root distance threshold (chrony's
	// maxdistance and ntpd's MAXDIST use 1 s and 1.5 s; RFC 5905 1 s).
	MaxDistance = 1500 * time.Millisecond
	// phi is the frequency tolerance, 15 ppm.
	phi = 15e-6
	// localPrecision is assumed for our own timestamps.
	localPrecision = time.Microsecond
	// maxRefAge is the longest a server may go without updating its
	// reference: the maximum poll interval, 2^17 s (RFC 5905 MAXPOLL).
	maxRefAge = (1 << 17) * time.Second
)

// Validation errors, one block, as sentinel values. A *KissError is returned
// for a kiss-o'-death.
var (
	ErrUnsynchronized = errors.New("server is not synchronized (leap indicator 3)")
	ErrStratum        = errors.New("server stratum is invalid (16 or above)")
	ErrOriginMismatch = errors.New("response does not answer our request (origin timestamp mismatch)")
	ErrBogusTimestamp = errors.New("server timestamps are zero or impossible")
	ErrRootDistance   = errors.New("server root distance exceeds the limit")
	ErrNegativeDelay  = errors.New("round-trip delay is negative beyond precision")
	ErrBadMode        = errors.New("malformed response (bad mode, length or version)")
	ErrNoReference    = errors.New("server has never synchronized (reference timestamp is zero)")
	ErrStale          = errors.New("server's reference is stale (not updated for over 36 hours)")
)

// Reachability errors: no answer came back at all, so the source is
// unreachable rather than invalid. ErrRefused (the port answered with ICMP
// "port unreachable") is final for a burst: asking again cannot help.
var (
	ErrNoReply = errors.New("no reply")
	ErrRefused = Unreachable("port unreachable (connection refused; is an NTP server running there?)")
)

// Unreachable returns an error that reads msg and counts as ErrNoReply:
// for reasons a source could not be reached that say more than "no
// reply" (a refused port, a name that does not resolve).
func Unreachable(msg string) error { return unreachable(msg) }

type unreachable string

func (e unreachable) Error() string        { return string(e) }
func (e unreachable) Is(target error) bool { return target == ErrNoReply }

func isNetErr(err error) bool { return errors.Is(err, ErrNoReply) }

// RoundDuration rounds d for people to read: to the millisecond above
// 1 ms (so a timeout reads "1s", not "999.981234ms"), to the microsecond
// below.
func RoundDuration(d time.Duration) time.Duration {
	if d >= time.Millisecond || d <= -time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// KissError is a kiss-o'-death (stratum 0) with its code, RFC 5905 7.4.
type KissError struct{ Code string }

func (e *KissError) Error() string { return fmt.Sprintf("kiss-o'-death %q", e.Code) }

// Is lets errors.Is(err, ntp.ErrKissOfDeath) succeed for a *KissError.
func (e *KissError) Is(target error) bool { return target == ntp.ErrKissOfDeath }

// Drop reports whether the code means "stop using this source" (DENY,
// RSTR), as RFC 5905 requires.
func (e *KissError) Drop() bool { return e.Code == "DENY" || e.Code == "RSTR" }

// RateLimited reports whether the code asks us to slow down (RATE).
func (e *KissError) RateLimited() bool { return e.Code == "RATE" }

// ntpEra1 is 2036-02-07 06:28:16 UTC, where the 32-bit seconds field wraps.
// A raw zero timestamp reads as this instant (service/ntpclient, as
// beevik/ntp).
var ntpEra1 = time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC)

// earliestPlausible: a server claiming a time before this is broken. It
// is the year this code was written; clocks of machines whose RTC died
// are still corrected, because it bounds the server's time, not ours.
var earliestPlausible = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// ValidateOptions tunes Validate. Zero values take the defaults.
type ValidateOptions struct {
	// MaxDistance is the root distance threshold (default MaxDistance).
	MaxDistance time.Duration
}

// Validate applies the RFC 5905 packet sanity tests to a response and, if it
// passes, returns the sample. It computes offset and delay from the four
// timestamps itself (era-safe: the Querier has already placed each server
// timestamp in the right era, and all arithmetic is on differences).
//
// Checks, with their RFC 5905 section:
//   - kiss-o'-death (stratum 0) → *KissError (7.4)
//   - leap indicator 3 → ErrUnsynchronized (7.3, 13)
//   - stratum ≥ 16 → ErrStratum (7.3)
//   - zero, pre-2024 or backwards server timestamps, or a transmit time
//     before the reference time → ErrBogusTimestamp (8, tests 1–3; A.5.1.1)
//   - reference time zero → ErrNoReference; older than 2^17 s → ErrStale (A.5.1.1)
//   - delay negative beyond precision → ErrNegativeDelay (8)
//   - root distance over the limit → ErrRootDistance (appendix A.5.1.1)
//
// The origin-timestamp match (8, test 2) is done by the Querier
// (service/ntpclient), which sends a random transmit timestamp and reports
// an answer that does not echo it as ErrOriginMismatch.
func Validate(r *ntp.Response, opt ValidateOptions) (Sample, error) {
	if opt.MaxDistance <= 0 {
		opt.MaxDistance = MaxDistance
	}
	if r == nil {
		return Sample{}, ErrBadMode
	}
	if r.Version < 3 || r.Version > 4 {
		return Sample{}, ErrBadMode
	}
	if r.Stratum == 0 {
		return Sample{}, &KissError{Code: kissCode(r)}
	}
	if Leap(r.Leap) == LeapAlarm {
		return Sample{}, ErrUnsynchronized
	}
	if r.Stratum >= MaxStratum {
		return Sample{}, ErrStratum
	}
	ts := r.Timestamps
	for _, t := range []time.Time{ts.ServerRecv, ts.ServerXmit} {
		if t.Equal(ntpEra1) || t.Before(earliestPlausible) {
			return Sample{}, ErrBogusTimestamp
		}
	}
	if ts.ClientXmit.IsZero() || ts.ClientRecv.IsZero() || ts.ServerXmit.Before(ts.ServerRecv) {
		return Sample{}, ErrBogusTimestamp
	}
	ref := r.ReferenceTime
	switch {
	case ref.IsZero() || ref.Equal(ntpEra1):
		return Sample{}, ErrNoReference
	case ts.ServerXmit.Before(ref):
		return Sample{}, ErrBogusTimestamp
	case ts.ServerXmit.Sub(ref) > maxRefAge:
		return Sample{}, ErrStale
	}
	s := Sample{
		Time:           ts.ClientRecv,
		Offset:         (ts.ServerRecv.Sub(ts.ClientXmit) + ts.ServerXmit.Sub(ts.ClientRecv)) / 2,
		RootDelay:      r.RootDelay,
		RootDispersion: r.RootDispersion,
		Stratum:        r.Stratum,
		Leap:           Leap(r.Leap),
		RefID:          r.ReferenceID,
	}
	precision := r.Precision + localPrecision
	delay := ts.ClientRecv.Sub(ts.ClientXmit) - ts.ServerXmit.Sub(ts.ServerRecv)
	if delay < -precision {
		return Sample{}, ErrNegativeDelay
	}
	s.Delay = max(delay, precision)
	s.Dispersion = precision + time.Duration(phi*float64(ts.ClientRecv.Sub(ts.ClientXmit)))
	if s.RootDistance() > opt.MaxDistance {
		return Sample{}, ErrRootDistance
	}
	return s, nil
}

// kissCode extracts the four-letter code of a kiss-o'-death.
func kissCode(r *ntp.Response) string {
	if r.KissCode != "" {
		return r.KissCode
	}
	b := []byte{byte(r.ReferenceID >> 24), byte(r.ReferenceID >> 16), byte(r.ReferenceID >> 8), byte(r.ReferenceID)}
	return string(b)
}
