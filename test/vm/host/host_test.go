package main

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timesync/timesync/test/vm/vmtest"
)

func TestJudge(t *testing.T) {
	p := plan{name: "main", checks: []string{"step", "slew", "freq"}}
	r := bootResult{done: true, results: []vmtest.Result{
		{Check: "net", OK: true, Summary: "carrier after 1.9 s"},
		{Check: "step", OK: true, Summary: "residual 0.3 ms"},
		{Check: "slew", OK: false, Summary: "slewed", Error: "went backward"},
		{Check: "bogus", OK: true},
	}, parseErrors: []string{"result line broken"}}
	got := judge(p, r, nil, "/tmp/log")
	want := []struct {
		check string
		ok    bool
		has   string
	}{
		{"net", true, "carrier"},
		{"step", true, "residual 0.3 ms"},
		{"slew", false, "went backward"},
		{"freq", false, "no result"},
		{"bogus", false, "not asked for"},
		{"console", false, "result line broken"},
	}
	if len(got) != len(want) {
		t.Fatalf("judge: got %d outcomes %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].check != w.check || got[i].ok != w.ok || !strings.Contains(got[i].line, w.has) {
			t.Errorf("outcome %d: got %s ok=%v %q, want %s ok=%v containing %q", i, got[i].check, got[i].ok, got[i].line, w.check, w.ok, w.has)
		}
	}
	if allOK(got) {
		t.Error("allOK: got true with failures")
	}
	var buf bytes.Buffer
	passed, failed := printSummary(&buf, got)
	if passed != 2 || failed != 4 {
		t.Errorf("printSummary: got %d passed, %d failed, want 2, 4", passed, failed)
	}
	if !strings.Contains(buf.String(), "PASS main/step") || !strings.Contains(buf.String(), "FAIL main/freq") {
		t.Errorf("printSummary output:\n%s", buf.String())
	}
}

func TestJudgeBootFailures(t *testing.T) {
	p := plan{name: "era", checks: []string{"era"}}
	tests := []struct {
		name    string
		r       bootResult
		err     error
		wantBad string
	}{
		{"timeout", bootResult{}, errors.New("guest killed after the 5m0s timeout"), "timeout"},
		{"no done line", bootResult{results: []vmtest.Result{{Check: "net", OK: true}, {Check: "era", OK: true}}}, nil, "DONE"},
		{"duplicate", bootResult{done: true, results: []vmtest.Result{{Check: "net", OK: true}, {Check: "era", OK: true}, {Check: "era", OK: true}}}, nil, "2 results"},
	}
	for _, tt := range tests {
		got := judge(p, tt.r, tt.err, "/tmp/log")
		if allOK(got) {
			t.Errorf("%s: all outcomes passed: %+v", tt.name, got)
		}
		found := false
		for _, o := range got {
			found = found || (!o.ok && strings.Contains(o.line, tt.wantBad))
		}
		if !found {
			t.Errorf("%s: no failed outcome mentions %q: %+v", tt.name, tt.wantBad, got)
		}
	}
	ok := judge(p, bootResult{done: true, results: []vmtest.Result{{Check: "net", OK: true}, {Check: "era", OK: true}}}, nil, "")
	if !allOK(ok) || len(ok) != 2 {
		t.Errorf("clean boot: got %+v, want two passing outcomes", ok)
	}
}

func TestEraExpectation(t *testing.T) {
	p := eraPlan()
	if !p.rtcBase.Before(eraRollover) || !p.serverStart.After(eraRollover) {
		t.Fatalf("era plan: guest starts %v, server %v: want them on either side of %v", p.rtcBase, p.serverStart, eraRollover)
	}
	srv := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exp, tol := eraExpectation(p, srv, srv.Add(200*time.Millisecond))
	// 50 s apart at start; qemu started 0.2 s later, so its clock is 0.2 s
	// further behind; the whole-second RTC read adds about half a second.
	if want := 50 - 0.2 + 0.5; math.Abs(exp-want) > 1e-9 || tol != 1.5 {
		t.Errorf("eraExpectation: got %v ±%v, want %v ±1.5", exp, tol, want)
	}
}

func TestPlans(t *testing.T) {
	o := options{checks: "step, slew,,freq", era: true, params: "freq_window=5s,freq_settle=1s"}
	ps, err := o.plans()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].name != "main" || strings.Join(ps[0].checks, ",") != "step,slew,freq" || ps[1].name != "era" {
		t.Errorf("plans: got %+v", ps)
	}
	if ps[0].params["freq_window"] != "5s" || ps[0].params["freq_settle"] != "1s" {
		t.Errorf("plans params: got %v", ps[0].params)
	}
	if _, err := (options{checks: "", era: false}).plans(); err == nil {
		t.Error("plans with nothing to do: got no error")
	}
	if _, err := (options{checks: "step", params: "novalue"}).plans(); err == nil {
		t.Error("plans with a bad -params: got no error")
	}
}

func TestWriteInitramfs(t *testing.T) {
	dir := t.TempDir()
	files := guestFiles{}
	for _, f := range []struct {
		dst  *string
		name string
	}{{&files.busybox, "busybox"}, {&files.module, "e1000.ko"}, {&files.timesync, "timesync"}, {&files.guest, "timesync-vmtest"}} {
		*f.dst = filepath.Join(dir, f.name)
		if err := os.WriteFile(*f.dst, []byte("content of "+f.name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "initramfs.cpio")
	if err := writeInitramfs(out, files); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"init\x00", "bin/busybox\x00", "content of busybox", "lib/modules/e1000.ko\x00",
		"usr/bin/timesync\x00", "usr/bin/timesync-vmtest\x00", "content of timesync-vmtest",
		"dev/console\x00", strings.TrimPrefix(vmtest.MarkerPath, "/") + "\x00", vmtest.MarkerContent,
		"TRAILER!!!\x00", "\n/usr/bin/timesync-vmtest\n", "\npoweroff -f\n",
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("initramfs lacks %q", want)
		}
	}
	if err := writeInitramfs(out, guestFiles{busybox: filepath.Join(dir, "missing")}); err == nil {
		t.Error("writeInitramfs with a missing file: got no error")
	}
}
