//go:build linux

// Command timesync-vmtest runs inside the throwaway qemu guest of the VM test
// (test/vm) and proves, on a real Linux kernel, that timesync moves the clock
// right: it puts the guest clock wrong, runs `timesync --once` as a user
// would, and measures the result — against the host's test NTP server, and
// in-guest against CLOCK_MONOTONIC_RAW, which the kernel never adjusts.
//
// It changes the system clock. It therefore refuses to run unless it is in
// the guest: the initramfs marker file and the kernel command-line flag (see
// package vmtest) must both be present; otherwise it exits with status 2
// before doing anything. Never run it on a real machine.
//
// Parameters come from the kernel command line (timesync.checks=…,
// timesync.server=…); each check prints one "VMTEST RESULT {json}" line on
// the console, and "VMTEST DONE" ends the run.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/timesync/timesync/test/vm/vmtest"
)

// guest holds what every check needs.
type guest struct {
	params   vmtest.Params
	server   string // test NTP server as the guest reaches it (10.0.2.2:PORT)
	timesync string // path of the timesync binary under test
}

// checkFunc runs one check. It returns the result; a panic is turned into a
// failed result by run.
type checkFunc func(g *guest) vmtest.Result

// checks is every check the guest knows, by the name used in
// timesync.checks=. "net" runs first, implicitly.
var checks = map[string]checkFunc{
	"net":    (*guest).checkNet,
	"step":   (*guest).checkStep,
	"slew":   (*guest).checkSlew,
	"freq":   (*guest).checkFreq,
	"sync":   (*guest).checkSync,
	"unpriv": (*guest).checkUnpriv,
	"era":    (*guest).checkEra,
}

func main() {
	if err := vmtest.Guard(os.ReadFile); err != nil {
		fmt.Fprintln(os.Stderr, "timesync-vmtest:", err)
		os.Exit(2)
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		fmt.Fprintln(os.Stderr, "timesync-vmtest:", err)
		os.Exit(2)
	}
	p := vmtest.ParseCmdline(string(cmdline))
	g := &guest{params: p, server: p["server"], timesync: "/usr/bin/timesync"}
	if v := p["timesync"]; v != "" {
		g.timesync = v
	}
	failed := 0
	names := append([]string{"net"}, p.List("checks")...)
	for i, name := range names {
		r := g.run(name)
		fmt.Println(vmtest.FormatResult(r))
		if !r.OK {
			failed++
			if i == 0 {
				break // without the network no other check means anything
			}
		}
	}
	fmt.Println(vmtest.DonePrefix)
	if failed > 0 {
		os.Exit(1)
	}
}

// run runs the named check, turning an unknown name or a panic into a
// failed result.
func (g *guest) run(name string) (r vmtest.Result) {
	f, ok := checks[name]
	if !ok {
		return fail(name, fmt.Errorf("unknown check %q", name))
	}
	defer func() {
		if v := recover(); v != nil {
			r = fail(name, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
		}
	}()
	logf("check %s: start", name)
	start := time.Now()
	r = f(g)
	r.Check = name
	logf("check %s: ok=%v in %.1f s: %s %s", name, r.OK, time.Since(start).Seconds(), r.Summary, r.Error)
	return r
}

// fail is a failed result carrying err.
func fail(name string, err error) vmtest.Result {
	return vmtest.Result{Check: name, OK: false, Summary: "error", Error: err.Error()}
}

// logf prints a progress line on the console for the host's log.
func logf(format string, args ...any) {
	fmt.Println(vmtest.LogPrefix + strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
}

// checkNet waits for eth0's carrier (e1000 needs about 2 s; packets sent
// before are lost) and for the test NTP server to answer.
func (g *guest) checkNet() vmtest.Result {
	if g.server == "" {
		return fail("net", fmt.Errorf("no server: kernel parameter %sserver= missing", vmtest.ParamPrefix))
	}
	start := time.Now()
	for {
		b, err := os.ReadFile("/sys/class/net/eth0/carrier")
		if err == nil && strings.TrimSpace(string(b)) == "1" {
			break
		}
		if time.Since(start) > 20*time.Second {
			return fail("net", fmt.Errorf("eth0 has no carrier after 20 s (last read: %q, %v)", b, err))
		}
		time.Sleep(50 * time.Millisecond)
	}
	carrier := time.Since(start)
	var m measurement
	var err error
	for try := 0; try < 10; try++ {
		if m, err = measureOffset(g.server, 4); err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		return fail("net", fmt.Errorf("test server unreachable: %w", err))
	}
	return vmtest.Result{OK: true,
		Summary: fmt.Sprintf("carrier after %.1f s; server %s answers, delay %.2f ms, guest clock %+.3f s off",
			carrier.Seconds(), g.server, ms(m.delay), m.offset.Seconds()),
		Figures: map[string]float64{"carrier_s": carrier.Seconds(), "delay_ms": ms(m.delay), "offset_s": m.offset.Seconds()},
	}
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }
