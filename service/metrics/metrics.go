// Package metrics serves the service's state to Prometheus: the clock's
// offset, frequency, root delay and dispersion and synchronization state,
// each source's reachability and estimates, and the time server's
// counters, named by Prometheus's conventions (base units in the name,
// _total for counters).
//
// It owns the metric names (a promise to dashboards and alert rules: add
// metrics, never rename them) and the HTTP endpoint, which exists only
// when "metrics ADDRESS:PORT" is configured. It must not reach into the
// service: everything comes from a Snapshot the service hands over at
// each scrape.
package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/timesync/timesync/service/serve"
)

// Snapshot is what one scrape reports.
type Snapshot struct {
	// State is "synchronized", "syncing" or "unsynchronized".
	State string
	// OffsetSeconds is reference − local at the last update (positive:
	// the clock is behind); OffsetErrorSeconds its standard error.
	OffsetSeconds      float64
	OffsetErrorSeconds float64
	// FrequencyPPM is the frequency correction in force (positive: the
	// clock is made faster).
	FrequencyPPM float64
	// Stratum is ours (16: unsynchronized).
	Stratum int
	// RootDelaySeconds and RootDispersionSeconds are what we announce to
	// our own clients.
	RootDelaySeconds      float64
	RootDispersionSeconds float64
	// LastSync is the time of the last correction (zero: none yet).
	LastSync time.Time
	// Updates counts clock updates since the service started.
	Updates int
	Sources []Source
	// Server is nil when time is not served.
	Server *Server
}

// Source is one time server's line.
type Source struct {
	Address, Name, State string
	// Reach is the reachability register (377 octal = the last eight
	// polls answered).
	Reach                                  uint8
	OffsetSeconds, DelaySeconds, JitterSec float64
	PollSeconds                            float64
	Stratum                                int
}

// Server is the time server's part.
type Server struct {
	Counters serve.Counters
	// LimiterClients is how many clients the rate limiter remembers,
	// LimiterCapacity its fixed size.
	LimiterClients, LimiterCapacity int
}

// States and source states, every value of the state sets.
var (
	states       = []string{"synchronized", "syncing", "unsynchronized"}
	sourceStates = []string{"selected", "candidate", "falseticker", "unreachable", "kod", "invalid"}
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// The metrics, one line each. README.md ("Metrics") lists them for users.
var (
	dState          = desc("timesync_state", "Synchronization state: 1 for the present state, 0 for the others.", "state")
	dSynchronized   = desc("timesync_synchronized", "1 when the clock is synchronized, else 0.")
	dOffset         = desc("timesync_offset_seconds", "Offset of the reference from the local clock at the last update (positive: the clock is behind).")
	dOffsetErr      = desc("timesync_offset_error_seconds", "Standard error of the offset estimate.")
	dFrequency      = desc("timesync_frequency_ratio", "Frequency correction in force as a ratio (ppm × 1e-6; positive: the clock is made faster).")
	dStratum        = desc("timesync_stratum", "Our stratum (16: unsynchronized).")
	dRootDelay      = desc("timesync_root_delay_seconds", "Round-trip delay to the primary reference, as announced to our clients.")
	dRootDispersion = desc("timesync_root_dispersion_seconds", "Dispersion to the primary reference, as announced to our clients.")
	dLastSync       = desc("timesync_last_sync_timestamp_seconds", "Unix time of the last clock update (absent before the first).")
	dUpdates        = desc("timesync_clock_updates_total", "Clock updates since the service started.")

	srcLabels      = []string{"source", "name"}
	dSourceState   = desc("timesync_source_state", "Source state: 1 for the present state, 0 for the others.", "source", "name", "state")
	dSourceReach   = desc("timesync_source_reach", "Reachability register of the source's last eight polls (255 = all answered).", srcLabels...)
	dSourceOffset  = desc("timesync_source_offset_seconds", "Offset estimate of the source (reference − local).", srcLabels...)
	dSourceDelay   = desc("timesync_source_delay_seconds", "Round-trip delay to the source.", srcLabels...)
	dSourceJitter  = desc("timesync_source_jitter_seconds", "Jitter of the source's measurements.", srcLabels...)
	dSourceStratum = desc("timesync_source_stratum", "Stratum the source announces.", srcLabels...)
	dSourcePoll    = desc("timesync_source_poll_seconds", "Present poll interval of the source (0: no longer polled).", srcLabels...)

	dServerRequests = desc("timesync_server_requests_total", "Packets received by the time server, by what became of them.", "result")
	dServerKoD      = desc("timesync_server_kod_sent_total", "RATE kiss-o'-death replies sent to rate-limited clients.")
	dLimiterClients = desc("timesync_server_rate_limiter_clients", "Clients the rate limiter remembers (its table has a fixed size).")
	dLimiterCap     = desc("timesync_server_rate_limiter_capacity", "Fixed size of the rate limiter's table.")
)

// collector reads a Snapshot at each scrape.
type collector struct{ snap func() Snapshot }

// NewCollector returns a collector that calls snap at each scrape.
func NewCollector(snap func() Snapshot) prometheus.Collector { return collector{snap} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dState, dSynchronized, dOffset, dOffsetErr, dFrequency, dStratum, dRootDelay,
		dRootDispersion, dLastSync, dUpdates, dSourceState, dSourceReach, dSourceOffset, dSourceDelay, dSourceJitter,
		dSourceStratum, dSourcePoll, dServerRequests, dServerKoD, dLimiterClients, dLimiterCap} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, st := range states {
		gauge(dState, b2f(s.State == st), st)
	}
	gauge(dSynchronized, b2f(s.State == "synchronized"))
	gauge(dOffset, s.OffsetSeconds)
	gauge(dOffsetErr, s.OffsetErrorSeconds)
	gauge(dFrequency, s.FrequencyPPM*1e-6)
	gauge(dStratum, float64(s.Stratum))
	gauge(dRootDelay, s.RootDelaySeconds)
	gauge(dRootDispersion, s.RootDispersionSeconds)
	if !s.LastSync.IsZero() {
		gauge(dLastSync, float64(s.LastSync.UnixNano())/1e9)
	}
	counter(dUpdates, float64(s.Updates))
	for _, src := range s.Sources {
		l := []string{src.Address, src.Name}
		for _, st := range sourceStates {
			gauge(dSourceState, b2f(src.State == st), src.Address, src.Name, st)
		}
		gauge(dSourceReach, float64(src.Reach), l...)
		gauge(dSourceOffset, src.OffsetSeconds, l...)
		gauge(dSourceDelay, src.DelaySeconds, l...)
		gauge(dSourceJitter, src.JitterSec, l...)
		gauge(dSourceStratum, float64(src.Stratum), l...)
		gauge(dSourcePoll, src.PollSeconds, l...)
	}
	if sv := s.Server; sv != nil {
		k := sv.Counters
		for _, r := range []struct {
			result string
			n      uint64
		}{
			{"answered", k.Answered}, {"dropped_by_rule", k.DroppedByRule}, {"rate_limited", k.RateLimited},
			{"malformed", k.Malformed}, {"refused", k.Refused},
		} {
			counter(dServerRequests, float64(r.n), r.result)
		}
		counter(dServerKoD, float64(k.KoDSent))
		gauge(dLimiterClients, float64(sv.LimiterClients))
		gauge(dLimiterCap, float64(sv.LimiterCapacity))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Endpoint is a running metrics HTTP server.
type Endpoint struct {
	hs *http.Server
	ln net.Listener
}

// Listen serves GET /metrics on addr ("ADDRESS:PORT") with a registry of
// its own holding the collector over snap and the Go runtime's and the
// process's standard collectors, the runtime's with the live heap
// (go_gc_heap_live_bytes: what the last collection kept, which does not
// swing with the garbage between collections as the memstats do).
func Listen(addr string, snap func() Snapshot, log *slog.Logger) (*Endpoint, error) {
	if log == nil {
		log = slog.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(snap), collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
		collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)})),
		prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "timesync metrics: see /metrics")
	})
	e := &Endpoint{ln: ln, hs: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}}
	go func() {
		if err := e.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	return e, nil
}

// Addr returns where the endpoint listens.
func (e *Endpoint) Addr() net.Addr { return e.ln.Addr() }

// Close stops the endpoint.
func (e *Endpoint) Close() error { return e.hs.Close() }
