package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/beevik/ntp"

	"github.com/timesync/timesync/service/engine"
)

// ServerConfig describes one simulated server.
type ServerConfig struct {
	// Address is how the client names it ("10.0.0.1:123").
	Address string
	// Offset is the server's clock − true time: 0 for a perfect server,
	// large for a falseticker.
	Offset time.Duration
	// Stratum defaults to 1.
	Stratum uint8
	// RootDispersion defaults to 10 µs.
	RootDispersion time.Duration
	// Kiss makes the server answer with a kiss-o'-death: "DENY" or
	// "RSTR" always, "RATE" whenever a request follows the previous one
	// by less than MinInterval.
	Kiss        string
	MinInterval time.Duration
	// StepBy is added to the server's clock from true time StepAt on (a
	// server that corrected itself).
	StepAt, StepBy time.Duration
	// GlitchBy is added to the first answer at or after true time
	// GlitchAt only (a server's timestamping glitch).
	GlitchAt, GlitchBy time.Duration
	// Noise is the standard deviation of a normal error added to each of
	// the server's answers (a server whose own timestamps jitter); it is
	// drawn from the network's random stream.
	Noise time.Duration
}

// NetworkConfig describes the paths between the client and every server.
type NetworkConfig struct {
	// Delay is the fixed one-way delay; JitterMean the mean of the
	// exponential extra delay drawn independently for every packet.
	Delay, JitterMean time.Duration
	// Loss is the probability that a packet is lost, per packet.
	Loss float64
	// OutageUp and OutagePeriod: the network works for the first
	// OutageUp of every OutagePeriod and drops every packet otherwise (0:
	// always up).
	OutageUp, OutagePeriod time.Duration
	// Timeout is how long the client waits for an answer (default 2 s).
	Timeout time.Duration
}

// Network is the simulated network and servers. Exchange (for the loop)
// plays each exchange out in virtual time: the request leaves at t1 read
// from the simulated clock, the server stamps t2 and t3 with its own
// clock when the request arrives, and t4 is read from the simulated clock
// when the answer arrives. Query (engine.Querier) does the same at once,
// for callers that block.
type Network struct {
	s       *Scheduler
	clock   *Clock
	cfg     NetworkConfig
	rng     *rand.Rand
	servers map[string]*server
}

type server struct {
	cfg      ServerConfig
	glitched bool
	requests int
	last     time.Duration // true time of the previous request; -1: none
}

// NewNetwork builds the network; rng drives delays and losses.
func NewNetwork(s *Scheduler, clock *Clock, cfg NetworkConfig, rng *rand.Rand, servers []ServerConfig) (*Network, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Loss < 0 || cfg.Loss > 1 {
		return nil, fmt.Errorf("loss %v is not a probability", cfg.Loss)
	}
	if cfg.OutagePeriod < 0 || cfg.OutageUp < 0 || (cfg.OutagePeriod > 0 && cfg.OutageUp > cfg.OutagePeriod) {
		return nil, fmt.Errorf("outage %v/%v: want 0 ≤ UP ≤ PERIOD", cfg.OutageUp, cfg.OutagePeriod)
	}
	n := &Network{s: s, clock: clock, cfg: cfg, rng: rng, servers: map[string]*server{}}
	for _, sc := range servers {
		if sc.Stratum == 0 {
			sc.Stratum = 1
		}
		if sc.RootDispersion == 0 {
			sc.RootDispersion = 10 * time.Microsecond
		}
		if _, dup := n.servers[sc.Address]; dup {
			return nil, fmt.Errorf("server %s defined twice", sc.Address)
		}
		n.servers[sc.Address] = &server{cfg: sc, last: -1}
	}
	return n, nil
}

// Requests reports how many requests the server at address received.
func (n *Network) Requests(address string) int {
	if sv := n.servers[address]; sv != nil {
		return sv.requests
	}
	return 0
}

// up reports whether the network carries packets at true time t.
func (n *Network) up(t time.Duration) bool {
	if n.cfg.OutagePeriod <= 0 {
		return true
	}
	return t%n.cfg.OutagePeriod < n.cfg.OutageUp
}

// leg draws one packet's fate: its delay and whether it is lost. Every
// packet draws the same random numbers, so the streams stay aligned
// whatever happens.
func (n *Network) leg() (time.Duration, bool) {
	d := n.cfg.Delay + time.Duration(n.rng.ExpFloat64()*float64(n.cfg.JitterMean))
	lost := n.rng.Float64() < n.cfg.Loss
	return d, lost
}

// errTimeout is the error of an exchange that got no answer.
var errTimeout = fmt.Errorf("%w: simulated timeout", engine.ErrNoReply)

// Exchange implements loop.Exchanger in virtual time.
func (n *Network) Exchange(address string, done func(*ntp.Response, error)) {
	sv := n.servers[address]
	send := n.s.now
	if sv == nil {
		n.s.At(send, func() { done(nil, fmt.Errorf("%w: unknown host %s", engine.ErrNoReply, address)) })
		return
	}
	t1 := n.clock.Read()
	out, lostOut := n.leg()
	back, lostBack := n.leg()
	timeout := func() { done(nil, errTimeout) }
	if lostOut || !n.up(send) {
		n.s.At(send+n.cfg.Timeout, timeout)
		return
	}
	arrive := send + out
	noise := n.noise(sv)
	n.s.At(arrive, func() {
		r := sv.answer(n.s.start, arrive, noise)
		if lostBack || !n.up(arrive) || out+back > n.cfg.Timeout {
			n.s.At(send+n.cfg.Timeout, timeout)
			return
		}
		n.s.At(arrive+processing+back, func() {
			r.Timestamps.ClientXmit = t1
			r.Timestamps.ClientRecv = n.clock.Read()
			finish(r)
			done(r, nil)
		})
	})
}

// Query implements engine.Querier: the exchange happens at once, with t4
// read from the clock as it will be when the answer arrives if nothing
// changes its frequency meanwhile. Virtual time does not move.
func (n *Network) Query(ctx context.Context, address string) (*ntp.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", engine.ErrNoReply, err)
	}
	sv := n.servers[address]
	if sv == nil {
		return nil, fmt.Errorf("%w: unknown host %s", engine.ErrNoReply, address)
	}
	send := n.s.now
	t1 := n.clock.Read()
	out, lostOut := n.leg()
	back, lostBack := n.leg()
	if lostOut || lostBack || !n.up(send) || !n.up(send+out) || out+back > n.cfg.Timeout {
		return nil, errTimeout
	}
	r := sv.answer(n.s.start, send+out, n.noise(sv))
	flight := out + processing + back
	x := n.clock.Offset() + n.clock.FrequencyErrorPPM()*1e-6*flight.Seconds()
	r.Timestamps.ClientXmit = t1
	r.Timestamps.ClientRecv = n.s.start.Add(send + flight + time.Duration(math.Round(x*1e9)))
	finish(r)
	return r, nil
}

// serverPrecision is the precision the simulated servers claim (2⁻²⁴ s).
const serverPrecision = 60 * time.Nanosecond

// processing is the time a server takes between receiving and sending.
const processing = 10 * time.Microsecond

// noise draws a server's timestamp error (none without Noise, and then
// no random number is drawn).
func (n *Network) noise(sv *server) time.Duration {
	if sv.cfg.Noise == 0 {
		return 0
	}
	return time.Duration(n.rng.NormFloat64() * float64(sv.cfg.Noise))
}

// answer builds the server's response to a request arriving at true time
// t after start, its clock off by noise more than configured (client timestamps are
// filled in by the caller).
func (sv *server) answer(start time.Time, t, noise time.Duration) *ntp.Response {
	sv.requests++
	prev := sv.last
	sv.last = t
	off := sv.cfg.Offset + noise
	if sv.cfg.StepBy != 0 && t >= sv.cfg.StepAt {
		off += sv.cfg.StepBy
	}
	if sv.cfg.GlitchBy != 0 && !sv.glitched && t >= sv.cfg.GlitchAt {
		sv.glitched = true
		off += sv.cfg.GlitchBy
	}
	now := start.Add(t + off)
	r := &ntp.Response{
		Version:        4,
		Stratum:        sv.cfg.Stratum,
		Precision:      serverPrecision,
		RootDelay:      0,
		RootDispersion: sv.cfg.RootDispersion,
		ReferenceID:    0x47505300, // "GPS"
		ReferenceTime:  now.Add(-16 * time.Second),
		Poll:           64 * time.Second,
	}
	kiss := sv.cfg.Kiss
	if kiss == "RATE" && (prev < 0 || t-prev >= sv.cfg.MinInterval) {
		kiss = ""
	}
	if kiss != "" {
		r.Stratum = 0
		r.Leap = ntp.LeapNotInSync
		r.KissCode = kiss
		r.ReferenceID = uint32(kiss[0])<<24 | uint32(kiss[1])<<16 | uint32(kiss[2])<<8 | uint32(kiss[3])
		if sv.cfg.MinInterval > 0 {
			r.Poll = sv.cfg.MinInterval
		}
	}
	r.Timestamps.ServerRecv = now
	r.Timestamps.ServerXmit = now.Add(processing)
	r.Time = r.Timestamps.ServerXmit
	return r
}

// finish computes what beevik/ntp derives from the timestamps.
func finish(r *ntp.Response) {
	ts := r.Timestamps
	r.ClockOffset = (ts.ServerRecv.Sub(ts.ClientXmit) + ts.ServerXmit.Sub(ts.ClientRecv)) / 2
	r.RTT = ts.ClientRecv.Sub(ts.ClientXmit) - ts.ServerXmit.Sub(ts.ServerRecv)
	r.RootDistance = r.RootDelay/2 + r.RootDispersion + r.RTT/2
}
