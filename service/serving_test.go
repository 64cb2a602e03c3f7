package service

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/beevik/ntp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/control"
)

// freePort returns a port nobody uses on ip, for network ("udp" or
// "tcp"): the configuration has no "any port" (0 is refused).
func freePort(t *testing.T, network, ip string) int {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp4", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	default:
		l, err := net.Listen("tcp4", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
}

func queryOurs(addr string) (*ntp.Response, error) {
	return ntp.QueryWithOptions(addr, ntp.QueryOptions{Timeout: 300 * time.Millisecond})
}

// The daemon serves time on its listen address once synchronized —
// stratum its source's + 1, the source as reference ID — and counts it
// in /v1/status; a restrict rule added through the control API reaches
// the running socket (the same one: no restart), and the metrics
// endpoint reports all of it to Prometheus's parser.
func TestDaemonServesTimeAndMetrics(t *testing.T) {
	srcs := startNTP(t, 51, 0, 0, 0)
	listen := fmt.Sprintf("127.0.51.100:%d", freePort(t, "udp", "127.0.51.100"))
	metricsAddr := fmt.Sprintf("127.0.51.100:%d", freePort(t, "tcp", "127.0.51.100"))
	_, c, _ := testDaemon(t, serverLines(srcs)+"restrict default nomodify\nlisten "+listen+"\nmetrics "+metricsAddr+"\n",
		func(o *Options) { o.DryRun = false }) // the null driver: "disciplines" nothing real
	st := waitStatus(t, c, func(s *control.Status) bool { return s.State == "synchronized" && s.Server != nil })

	var r *ntp.Response
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if r, err = queryOurs(listen); err == nil && r.Stratum == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no synchronized answer from our server: %v %+v", err, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("our answer does not validate: %v", err)
	}
	st = waitStatus(t, c, func(s *control.Status) bool { return s.Server != nil && s.Server.Answered > 0 })
	ref := netipAddr(t, st.Reference)
	if r.ReferenceID != uint32(ref[0])<<24|uint32(ref[1])<<16|uint32(ref[2])<<8|uint32(ref[3]) || r.Leap != ntp.LeapNoWarning {
		t.Errorf("reference ID %#x leap %d; want our reference %s, no warning", r.ReferenceID, r.Leap, st.Reference)
	}
	if r.ClockOffset.Abs() > 5*time.Millisecond {
		t.Errorf("offset from our server %v; it serves this machine's clock, want ~0", r.ClockOffset)
	}
	if len(st.Server.Listen) != 1 || st.Server.Listen[0] != listen {
		t.Errorf("status lists %v as served, want [%s]", st.Server.Listen, listen)
	}

	// A rule through the control API: ignored at once, on the same socket.
	if _, err := c.SetRestrict(context.Background(), config.Restrict{Addr: mustPrefix(t, "127.0.0.0/8"), Ignore: true}); err != nil {
		t.Fatal(err)
	}
	if r, err := queryOurs(listen); err == nil {
		t.Errorf("answer (stratum %d) through an ignore rule", r.Stratum)
	}
	st = waitStatus(t, c, func(s *control.Status) bool { return s.Server.DroppedByRule > 0 })
	if _, err := c.RemoveRestrict(context.Background(), "127.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	if _, err := queryOurs(listen); err != nil {
		t.Errorf("after the rule was removed: %v", err)
	}

	// Metrics.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	value := func(name, label, lv string) (float64, bool) {
		f := fams[name]
		for _, m := range f.GetMetric() {
			match := label == ""
			for _, l := range m.GetLabel() {
				match = match || l.GetName() == label && l.GetValue() == lv
			}
			if match {
				if f.GetType() == dto.MetricType_COUNTER {
					return m.GetCounter().GetValue(), true
				}
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	for _, tc := range []struct {
		name, label, lv string
		ok              func(float64) bool
	}{
		{"timesync_synchronized", "", "", func(v float64) bool { return v == 1 }},
		{"timesync_stratum", "", "", func(v float64) bool { return v == 2 }},
		{"timesync_server_requests_total", "result", "answered", func(v float64) bool { return v >= 2 }},
		{"timesync_server_requests_total", "result", "dropped_by_rule", func(v float64) bool { return v >= 1 }},
		{"timesync_source_reach", "source", srcs[0], func(v float64) bool { return v > 0 }},
		{"timesync_root_dispersion_seconds", "", "", func(v float64) bool { return v > 0 }},
	} {
		v, found := value(tc.name, tc.label, tc.lv)
		if !found || !tc.ok(v) {
			t.Errorf("%s{%s=%q} = %v (found %v)", tc.name, tc.label, tc.lv, v, found)
		}
	}
}

// A dry run steers no clock: it serves, but says it is not synchronized.
func TestDaemonDryRunServesUnsynchronized(t *testing.T) {
	srcs := startNTP(t, 52, 0)
	listen := fmt.Sprintf("127.0.52.100:%d", freePort(t, "udp", "127.0.52.100"))
	_, c, _ := testDaemon(t, serverLines(srcs)+"listen "+listen+"\n")
	waitStatus(t, c, func(s *control.Status) bool { return s.Updates > 0 && s.Server != nil })
	r, err := queryOurs(listen)
	if err != nil {
		t.Fatal(err)
	}
	if r.Leap != ntp.LeapNotInSync || r.Stratum != 16 {
		t.Errorf("dry run: leap %d stratum %d, want 3 and 16", r.Leap, r.Stratum)
	}
}

func netipAddr(t *testing.T, hostport string) [4]byte {
	t.Helper()
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	ip := net.ParseIP(h).To4()
	if ip == nil {
		t.Fatalf("%s is not IPv4", hostport)
	}
	return [4]byte(ip)
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
