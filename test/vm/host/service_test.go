package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/timesync/timesync/test/vm/vmtest"
)

func TestServicePlan(t *testing.T) {
	o := options{checks: "step", era: false, service: 3 * time.Minute}
	plans, err := o.plans()
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 || plans[1].name != "service" {
		t.Fatalf("plans %+v, want main and service", plans)
	}
	p := plans[1]
	if !slices.Equal(p.checks, []string{"service"}) || !slices.Equal(p.serverArgs, []string{"-rate-ppm", "50"}) {
		t.Errorf("checks %q, server args %q; want [service], [-rate-ppm 50]", p.checks, p.serverArgs)
	}
	if p.params["service_rate_ppm"] != "50" || p.params["service_duration"] != "3m0s" {
		t.Errorf("params %v", p.params)
	}
	if p.timeout <= 3*time.Minute {
		t.Errorf("timeout %v: want more than the run itself", p.timeout)
	}
	o.service = 0
	if plans, _ := o.plans(); len(plans) != 1 {
		t.Errorf("-service=0: %d plans, want 1", len(plans))
	}
}

func TestPrintServiceLines(t *testing.T) {
	var b bytes.Buffer
	printServiceLines(&b, []outcome{
		{check: "net", ok: true, result: &vmtest.Result{Summary: "x"}},
		{check: "service", ok: true, result: &vmtest.Result{Summary: "converged after 40 s"}},
	})
	if got := b.String(); got != "service: converged after 40 s (ok)\n" || !strings.HasPrefix(got, "service:") {
		t.Errorf("got %q", got)
	}
}
