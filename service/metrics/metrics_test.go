package metrics

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/timesync/timesync/service/serve"
)

// The endpoint is scraped over HTTP and its answer parsed with
// Prometheus's own text parser; every value must be the snapshot's.
func TestScrape(t *testing.T) {
	snap := Snapshot{
		State: "synchronized", OffsetSeconds: -0.000123, OffsetErrorSeconds: 0.00001, FrequencyPPM: 12.5, Stratum: 3,
		RootDelaySeconds: 0.02, RootDispersionSeconds: 0.005, LastSync: time.Unix(1_900_000_000, 500_000_000), Updates: 7,
		Sources: []Source{
			{Address: "127.0.0.11:123", State: "selected", Reach: 0o377, OffsetSeconds: -0.0001, DelaySeconds: 0.002, JitterSec: 0.0003, PollSeconds: 64, Stratum: 2},
			{Address: "192.0.2.1:123", Name: "ntp.example", State: "unreachable", Reach: 0o1, PollSeconds: 1024},
		},
		Server: &Server{Counters: serve.Counters{Answered: 100, DroppedByRule: 2, RateLimited: 5, KoDSent: 1, Malformed: 3, Refused: 4},
			LimiterClients: 17, LimiterCapacity: serve.DefaultMRUSize},
	}
	e, err := Listen("127.0.0.1:0", func() Snapshot { return snap }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	resp, err := http.Get("http://" + e.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("Prometheus's parser refuses the scrape: %v\n%s", err, body)
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		typ    dto.MetricType
		want   float64
	}{
		{"timesync_offset_seconds", nil, dto.MetricType_GAUGE, -0.000123},
		{"timesync_offset_error_seconds", nil, dto.MetricType_GAUGE, 0.00001},
		{"timesync_frequency_ratio", nil, dto.MetricType_GAUGE, 12.5e-6},
		{"timesync_stratum", nil, dto.MetricType_GAUGE, 3},
		{"timesync_root_delay_seconds", nil, dto.MetricType_GAUGE, 0.02},
		{"timesync_root_dispersion_seconds", nil, dto.MetricType_GAUGE, 0.005},
		{"timesync_last_sync_timestamp_seconds", nil, dto.MetricType_GAUGE, 1_900_000_000.5},
		{"timesync_clock_updates_total", nil, dto.MetricType_COUNTER, 7},
		{"timesync_synchronized", nil, dto.MetricType_GAUGE, 1},
		{"timesync_state", map[string]string{"state": "synchronized"}, dto.MetricType_GAUGE, 1},
		{"timesync_state", map[string]string{"state": "unsynchronized"}, dto.MetricType_GAUGE, 0},
		{"timesync_source_reach", map[string]string{"source": "127.0.0.11:123", "name": ""}, dto.MetricType_GAUGE, 255},
		{"timesync_source_reach", map[string]string{"source": "192.0.2.1:123", "name": "ntp.example"}, dto.MetricType_GAUGE, 1},
		{"timesync_source_offset_seconds", map[string]string{"source": "127.0.0.11:123"}, dto.MetricType_GAUGE, -0.0001},
		{"timesync_source_delay_seconds", map[string]string{"source": "127.0.0.11:123"}, dto.MetricType_GAUGE, 0.002},
		{"timesync_source_jitter_seconds", map[string]string{"source": "127.0.0.11:123"}, dto.MetricType_GAUGE, 0.0003},
		{"timesync_source_poll_seconds", map[string]string{"source": "192.0.2.1:123"}, dto.MetricType_GAUGE, 1024},
		{"timesync_source_stratum", map[string]string{"source": "127.0.0.11:123"}, dto.MetricType_GAUGE, 2},
		{"timesync_source_state", map[string]string{"source": "127.0.0.11:123", "state": "selected"}, dto.MetricType_GAUGE, 1},
		{"timesync_source_state", map[string]string{"source": "192.0.2.1:123", "state": "selected"}, dto.MetricType_GAUGE, 0},
		{"timesync_server_requests_total", map[string]string{"result": "answered"}, dto.MetricType_COUNTER, 100},
		{"timesync_server_requests_total", map[string]string{"result": "dropped_by_rule"}, dto.MetricType_COUNTER, 2},
		{"timesync_server_requests_total", map[string]string{"result": "rate_limited"}, dto.MetricType_COUNTER, 5},
		{"timesync_server_requests_total", map[string]string{"result": "malformed"}, dto.MetricType_COUNTER, 3},
		{"timesync_server_requests_total", map[string]string{"result": "refused"}, dto.MetricType_COUNTER, 4},
		{"timesync_server_kod_sent_total", nil, dto.MetricType_COUNTER, 1},
		{"timesync_server_rate_limiter_clients", nil, dto.MetricType_GAUGE, 17},
		{"timesync_server_rate_limiter_capacity", nil, dto.MetricType_GAUGE, serve.DefaultMRUSize},
	} {
		f, ok := fams[tc.name]
		if !ok {
			t.Errorf("%s: not in the scrape", tc.name)
			continue
		}
		if f.GetType() != tc.typ {
			t.Errorf("%s: type %v, want %v", tc.name, f.GetType(), tc.typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s: no HELP", tc.name)
		}
		m := find(f, tc.labels)
		if m == nil {
			t.Errorf("%s%v: no such series", tc.name, tc.labels)
			continue
		}
		got := m.GetGauge().GetValue()
		if tc.typ == dto.MetricType_COUNTER {
			got = m.GetCounter().GetValue()
		}
		if math.Abs(got-tc.want) > 1e-12*math.Abs(tc.want) {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_gc_heap_live_bytes", "process_resident_memory_bytes"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("the Go runtime's or the process's metric %s is missing", name)
		}
	}
}

// Without a time server, no server metrics; without a sync, no last
// sync time.
func TestScrapeNotServing(t *testing.T) {
	e, err := Listen("127.0.0.1:0", func() Snapshot { return Snapshot{State: "unsynchronized", Stratum: 16} }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	resp, err := http.Get("http://" + e.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"timesync_server_requests_total", "timesync_last_sync_timestamp_seconds", "timesync_source_reach"} {
		if _, ok := fams[absent]; ok {
			t.Errorf("%s present, want absent", absent)
		}
	}
	if v := find(fams["timesync_synchronized"], nil).GetGauge().GetValue(); v != 0 {
		t.Errorf("timesync_synchronized = %v, want 0", v)
	}
}

// find returns the series of f whose labels include labels (a label
// given as "" must be absent or empty).
func find(f *dto.MetricFamily, labels map[string]string) *dto.Metric {
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}
