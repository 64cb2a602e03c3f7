package main

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/serve"
)

// The table has the size asked for, parses, and gives the load (127.0.0.1)
// an unlimited rule and the flood (127.100/15) a limited one.
func TestRestrictRules(t *testing.T) {
	lines := restrictRules(100)
	if len(lines) != 100 {
		t.Fatalf("%d rules, want 100", len(lines))
	}
	var rs []config.Restrict
	for _, l := range lines {
		r, err := config.ParseRestrict(strings.Fields(l)...)
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		rs = append(rs, r)
	}
	c := &config.Config{Restrict: rs}
	if err := c.Validate(); err != nil {
		t.Fatalf("the table is not a valid configuration: %v", err)
	}
	tbl := serve.Compile(rs)
	if f := tbl.Match(netip.MustParseAddr("127.0.0.1").As16()); f&(serve.FlagLimited|serve.FlagIgnore|serve.FlagNoServe) != 0 {
		t.Errorf("load's rule %q: want no limit", f)
	}
	for _, a := range []string{"127.100.0.0", "127.101.134.159"} {
		if f := tbl.Match(netip.MustParseAddr(a).As16()); f&serve.FlagLimited == 0 {
			t.Errorf("flood source %s: rule %q, want limited", a, f)
		}
	}
}

func TestReport(t *testing.T) {
	var b bytes.Buffer
	r := &results{
		rates: map[string][]float64{"timesync": {100, 120, 110}, "chronyd": {90, 80, 100}},
		cpu:   map[string][]float64{"timesync": {200, 200, 200}, "chronyd": {100, 100, 100}},
		mem:   map[string]int64{"timesync": 1 << 20, "chronyd": 0}, floodSent: 100000,
	}
	ok := report(&b, options{senders: 8, inflight: 16, rounds: 3, rules: 100, flood: 100000}, r)
	for _, want := range []string{"1.22× chronyd's", "2.00× chronyd's answers per CPU-second", "+1.00 MB", "PASS"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if !ok {
		t.Errorf("targets met but report says not")
	}
	r.mem["timesync"] = 11 << 20
	if report(&b, options{flood: 1}, r) {
		t.Errorf("11 MB growth passed")
	}
}
