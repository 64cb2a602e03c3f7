package service

// serving.go: the NTP server (service/serve) and the Prometheus endpoint
// (service/metrics), wired to the daemon. Both are off unless the
// configuration has "listen" / "metrics" lines. Every change of the
// configuration (Modify → apply) reaches them without a restart: new
// restrict rules are swapped in under the running sockets, listen and
// metrics addresses are opened and closed as they come and go. Each
// status refresh hands the server our synchronization to announce.

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/loop"
	"github.com/timesync/timesync/service/metrics"
	"github.com/timesync/timesync/service/serve"
)

// serving is the daemon's time server and metrics endpoint.
type serving struct {
	mu          sync.Mutex
	srv         *serve.Server // nil until the first listen line
	listen      []string      // the listen lines in force
	listenErr   error         // why some of them are not served
	metrics     *metrics.Endpoint
	metricsAddr string
	stopped     bool
}

// applyServing makes the server listen on cfg's listen addresses under
// its restrict rules, and the metrics endpoint follow its metrics line.
// cfg is Effective. A socket that cannot be opened is logged; the others
// still serve.
func (d *Daemon) applyServing(cfg *config.Config) {
	s := &d.serving
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	if s.srv == nil && len(cfg.Listen) > 0 {
		so := serve.Options{Logger: d.log}
		if l, ok := d.priv.(UDPListener); ok {
			so.ListenUDP = l.ListenUDP // the privileged parent binds port 123
		}
		s.srv = serve.New(so)
	}
	if s.srv != nil {
		s.srv.SetRules(cfg.Restrict)
		// Listen keeps the sockets already open, so a socket that
		// failed (address in use, not yet configured) is tried again
		// at every change without disturbing the others.
		s.listenErr = s.srv.Listen(cfg.Listen)
		if s.listenErr != nil {
			d.log.Error("cannot serve time on every listen address", "err", s.listenErr)
		}
		s.listen = slices.Clone(cfg.Listen)
	}
	if cfg.Metrics != s.metricsAddr || cfg.Metrics != "" && s.metrics == nil {
		if s.metrics != nil {
			s.metrics.Close()
			s.metrics = nil
			d.log.Info("metrics endpoint closed", "address", s.metricsAddr)
		}
		s.metricsAddr = cfg.Metrics
		if cfg.Metrics != "" {
			e, err := metrics.Listen(cfg.Metrics, d.metricsSnapshot, d.log)
			if err != nil {
				d.log.Error("cannot serve metrics", "err", err)
			} else {
				s.metrics = e
				d.log.Info("serving Prometheus metrics", "address", e.Addr().String(), "path", "/metrics")
			}
		}
	}
}

// stopServing closes the server's sockets and the metrics endpoint.
func (d *Daemon) stopServing() {
	s := &d.serving
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if s.srv != nil {
		s.srv.Close()
	}
	if s.metrics != nil {
		s.metrics.Close()
	}
}

// server returns the time server, nil when time was never served.
func (d *Daemon) server() *serve.Server {
	d.serving.mu.Lock()
	defer d.serving.mu.Unlock()
	return d.serving.srv
}

// syncState turns a status into what the server announces. Only a
// synchronized service that really disciplines the clock (not --dry-run,
// whose clock nobody steers) with a reference and a stratum below 16
// serves a confident time. The root delay is the reference's round-trip
// delay and the root dispersion the rest of the root distance (distance
// = delay/2 + dispersion, as chrony reckons it), valid now and growing
// at 15 ppm from here. The loop reports no leap second, so none is
// announced.
func syncState(st control.Status, now time.Time) serve.SyncState {
	ap, err := netip.ParseAddrPort(st.Reference)
	if st.State != string(loop.StateSynchronized) || st.DryRun || err != nil || st.Stratum < 1 || st.Stratum >= serve.MaxStratum || st.LastSync == nil {
		return serve.SyncState{}
	}
	delay, disp := rootDelayDispersion(st)
	return serve.SyncState{
		Synchronized:   true,
		Leap:           serve.LeapNone,
		Stratum:        uint8(st.Stratum),
		RefID:          serve.RefID(ap.Addr()),
		RefTime:        *st.LastSync,
		RootDelay:      time.Duration(delay * float64(time.Second)),
		RootDispersion: time.Duration(disp * float64(time.Second)),
		DispersionAt:   now,
	}
}

// rootDelayDispersion returns the root delay and dispersion (seconds)
// that st implies: see syncState.
func rootDelayDispersion(st control.Status) (delay, disp float64) {
	for _, s := range st.Sources {
		if s.Address == st.Reference {
			delay = s.DelaySeconds
		}
	}
	return delay, max(st.RootDistanceSeconds-delay/2, 0)
}

// serverStatus returns the server's counters for /v1/status; nil when
// time is not served.
func (d *Daemon) serverStatus() *control.ServerStatus {
	s := &d.serving
	s.mu.Lock()
	srv, listen, lerr := s.srv, slices.Clone(s.listen), s.listenErr
	s.mu.Unlock()
	if srv == nil || len(listen) == 0 {
		return nil
	}
	open := srv.Addrs()
	served := slices.DeleteFunc(listen, func(a string) bool { _, ok := open[a]; return !ok })
	c := srv.Counters()
	var errs []string
	if lerr != nil {
		errs = strings.Split(lerr.Error(), "\n")
	}
	return &control.ServerStatus{
		Listen:        served,
		Errors:        errs,
		Answered:      c.Answered,
		DroppedByRule: c.DroppedByRule,
		RateLimited:   c.RateLimited,
		KoDSent:       c.KoDSent,
		Malformed:     c.Malformed,
		Refused:       c.Refused,
	}
}

// metricsSnapshot is what a Prometheus scrape reports.
func (d *Daemon) metricsSnapshot() metrics.Snapshot {
	st := d.Status()
	delay, disp := 0.0, 0.0
	if syncState(st, d.opt.Now()).Synchronized {
		delay, disp = rootDelayDispersion(st)
	}
	m := metrics.Snapshot{
		State:                 st.State,
		OffsetSeconds:         st.OffsetSeconds,
		OffsetErrorSeconds:    st.OffsetErrorSeconds,
		FrequencyPPM:          st.FrequencyPPM,
		Stratum:               st.Stratum,
		RootDelaySeconds:      delay,
		RootDispersionSeconds: disp,
		Updates:               st.Updates,
	}
	if st.LastSync != nil {
		m.LastSync = *st.LastSync
	}
	for _, s := range st.Sources {
		m.Sources = append(m.Sources, metrics.Source{
			Address: s.Address, Name: s.Name, State: s.State, Reach: s.Reach,
			OffsetSeconds: s.OffsetSeconds, DelaySeconds: s.DelaySeconds, JitterSec: s.JitterSeconds,
			PollSeconds: s.PollSeconds, Stratum: s.Stratum,
		})
	}
	if srv := d.server(); srv != nil && st.Server != nil {
		m.Server = &metrics.Server{Counters: srv.Counters(), LimiterClients: srv.Limiter().Len(), LimiterCapacity: srv.Limiter().Cap()}
	}
	return m
}
