package engine

import "time"

// Poll interval limits, as exponents of two seconds (RFC 5905 section 7.3:
// MINPOLL 4 = 16 s, MAXPOLL 17 = 36.4 h; ntpd and chrony accept down to 3).
const (
	MinPollExp = 3
	MaxPollExp = 17
)

// PollInterval returns 2^exp seconds, exp clamped to [MinPollExp,
// MaxPollExp].
func PollInterval(exp int) time.Duration {
	exp = min(max(exp, MinPollExp), MaxPollExp)
	return time.Duration(1<<exp) * time.Second
}

// PollControl adapts a source's poll interval between MinPoll and MaxPoll
// (exponents), with the rule of ntpd's clock discipline (RFC 5905 appendix
// A.5.5.1): an offset small against the jitter adds the poll exponent to a
// counter, a large one subtracts twice it; at +Limit the interval doubles,
// at −Limit it halves. A quiet clock thus polls less and less often, and a
// disturbed one is watched closely again.
type PollControl struct {
	MinPoll, MaxPoll int
	exp, count       int
}

// Poll control constants of RFC 5905.
const (
	pollGate  = 4  // PGATE: "small" means under 4 jitters
	pollLimit = 30 // LIMIT: hysteresis of the counter
)

// NewPollControl starts at minPoll. The exponents are clamped to the
// protocol limits and ordered.
func NewPollControl(minPoll, maxPoll int) *PollControl {
	minPoll = min(max(minPoll, MinPollExp), MaxPollExp)
	maxPoll = min(max(maxPoll, minPoll), MaxPollExp)
	return &PollControl{MinPoll: minPoll, MaxPoll: maxPoll, exp: minPoll}
}

// Exp reports the current poll exponent.
func (p *PollControl) Exp() int { return p.exp }

// Interval reports the current poll interval.
func (p *PollControl) Interval() time.Duration { return PollInterval(p.exp) }

// Update feeds the offset corrected at an update and the jitter it was
// judged against, and reports whether the exponent changed.
func (p *PollControl) Update(offset, jitter time.Duration) bool {
	if offset < 0 {
		offset = -offset
	}
	old := p.exp
	if offset < pollGate*jitter {
		p.count += p.exp
		if p.count > pollLimit {
			p.count = pollLimit
			if p.exp < p.MaxPoll {
				p.count = 0
				p.exp++
			}
		}
	} else {
		p.count -= 2 * p.exp
		if p.count < -pollLimit {
			p.count = -pollLimit
			if p.exp > p.MinPoll {
				p.count = 0
				p.exp--
			}
		}
	}
	return p.exp != old
}

// Reset returns to MinPoll (after the clock jumped, or a source came back).
func (p *PollControl) Reset() { p.exp, p.count = p.MinPoll, 0 }
