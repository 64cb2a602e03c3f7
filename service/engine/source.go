package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/beevik/ntp"
)

// Source is the engine's state for one time server: reachability, the
// sample filter, kiss-o'-death and the last validation failure. It does no
// I/O: the caller reports each request it sent (Sent) and what came back
// (Received).
type Source struct {
	// Address is the server as configured ("host:port").
	Address string
	// Prefer marks the source as preferred (ntp.conf "prefer").
	Prefer bool

	reach   uint8 // RFC 5905 reachability register, newest bit lowest
	answer  bool  // a valid reply arrived since the last Sent
	filter  Filter
	kod     string // last kiss code; non-empty while it applies
	denied  bool   // DENY/RSTR: never use again
	lastErr error  // last validation or query failure
	last    Sample // last valid sample
}

// NewSource returns the state for a server at address.
func NewSource(address string, prefer bool) *Source {
	return &Source{Address: address, Prefer: prefer}
}

// Sent records that a request is going out: the reachability register
// shifts left, and the new bit is set only if a valid reply arrives.
func (s *Source) Sent() {
	s.reach <<= 1
	s.answer = false
}

// Received judges the outcome of one exchange: qerr is the Querier's error
// (timeout, malformed packet), otherwise r is validated. A valid sample
// enters the filter and is returned.
func (s *Source) Received(r *ntp.Response, qerr error, opt ValidateOptions) (Sample, error) {
	if qerr != nil {
		s.lastErr = qerr
		return Sample{}, qerr
	}
	smp, err := Validate(r, opt)
	if err != nil {
		var kiss *KissError
		if errors.As(err, &kiss) {
			s.kod = kiss.Code
			if kiss.Drop() {
				s.denied = true
			}
		}
		s.lastErr = err
		return Sample{}, err
	}
	if !s.answer {
		s.reach |= 1
		s.answer = true
	}
	s.kod, s.lastErr, s.last = "", nil, smp
	s.filter.Add(smp)
	return smp, nil
}

// Reach returns the reachability register (octal in ntpq, chronyc).
func (s *Source) Reach() uint8 { return s.reach }

// Denied reports whether the server told us to go away (DENY or RSTR); a
// denied source is never queried or used again.
func (s *Source) Denied() bool { return s.denied }

// KissCode returns the code of the last kiss-o'-death, if it still applies.
func (s *Source) KissCode() string { return s.kod }

// RateLimited reports whether the last reply was a RATE kiss-o'-death: the
// poller must back off (double the interval, at least the server's poll).
func (s *Source) RateLimited() bool { return s.kod == "RATE" }

// Filter gives access to the sample filter.
func (s *Source) Filter() *Filter { return &s.filter }

// Last returns the most recent valid sample.
func (s *Source) Last() (Sample, bool) { return s.last, s.filter.Len() > 0 }

// LastError returns the last failure, or nil after a valid reply.
func (s *Source) LastError() error { return s.lastErr }

// Usable reports whether the source may be offered to selection.
func (s *Source) Usable() bool {
	return !s.denied && s.reach != 0 && s.filter.Len() > 0
}

// Candidate returns the source's offer to selection: the filter's best
// sample (or, with burst, its Estimate), with jitter added to its distance.
func (s *Source) Candidate(now time.Time, burst bool) (Candidate, Sample, bool) {
	if !s.Usable() {
		return Candidate{}, Sample{}, false
	}
	var smp Sample
	if burst {
		smp, _ = s.filter.Estimate(now)
	} else {
		smp, _ = s.filter.Best(now)
	}
	return Candidate{
		Offset:   smp.Offset,
		Distance: smp.RootDistance() + s.filter.Jitter(now),
		Stratum:  smp.Stratum,
		Prefer:   s.Prefer,
	}, smp, true
}

// Status reports the source's state before selection, when it is not a
// candidate, with the reason in words: kod, invalid or unreachable.
func (s *Source) Status() (State, string) {
	switch {
	case s.kod != "":
		return StateKoD, KissReason(s.kod, s.denied)
	case s.Usable():
		return StateCandidate, ""
	case s.lastErr != nil && !isNetErr(s.lastErr):
		return StateInvalid, s.lastErr.Error()
	case s.lastErr != nil:
		return StateUnreachable, s.lastErr.Error()
	default:
		return StateUnreachable, "no reply yet"
	}
}

// KissReason says in words what a kiss code means for us. Only DENY/RSTR
// (stop using the server) and RATE (back off) have protocol meaning
// (RFC 5905 section 7.4); INIT, STEP and the others say that the server
// itself is not usable right now, so they are reported as such and the
// source is polled on its normal schedule.
func KissReason(code string, denied bool) string {
	switch {
	case denied || code == "DENY" || code == "RSTR":
		return fmt.Sprintf("server denied access (kiss-o'-death %s); not used again", code)
	case code == "RATE":
		return "server rate limited us (kiss-o'-death RATE); backing off"
	case code == "INIT":
		return "server not synchronized yet (INIT)"
	case code == "STEP":
		return "server is stepping its clock (STEP)"
	default:
		return fmt.Sprintf("server not usable right now (kiss-o'-death %s)", code)
	}
}
