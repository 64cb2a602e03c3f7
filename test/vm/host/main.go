// Command host is the host side of the VM test (`make test-vm`): it proves
// the Linux clock driver and `timesync --once` on a real kernel without ever
// touching this machine's clock.
//
// It builds timesync and the in-guest test program (test/vm/guest)
// statically, packs them with busybox and the e1000 module into an initramfs
// (package initramfs), starts the project's test NTP server (cmd/ntptestd)
// on host loopback, boots a throwaway qemu guest (TCG; no KVM needed) once
// per boot plan, collects the "VMTEST RESULT" lines from the serial console,
// and prints one summary line per check. It exits non-zero on any failed or
// missing result.
//
// The kernel, module and busybox come from Debian packages that
// test/vm/run.sh fetches (apt-get download, never installed) and caches; it
// passes their paths with -kernel, -module and -busybox.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command-line flags.
type options struct {
	kernel, module, busybox string
	qemu                    string
	checks                  string
	era                     bool
	timeout                 time.Duration
	memory                  string
	logDir                  string
	verbose                 bool
	keep                    bool
	params                  string
	timesyncBin             string
	kernelArgs              string
	service                 time.Duration
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("vmtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.kernel, "kernel", "", "guest kernel (vmlinuz from Debian's linux-image-*-amd64)")
	fs.StringVar(&o.module, "module", "", "the kernel's e1000.ko")
	fs.StringVar(&o.busybox, "busybox", "", "static busybox (Debian's busybox-static)")
	fs.StringVar(&o.qemu, "qemu", "qemu-system-x86_64", "qemu binary")
	fs.StringVar(&o.checks, "checks", "step,freq,sync,pslew,slew,unpriv", "checks of the main boot, in order (the era check has its own boot); freq runs before the slews (pslew, slew) because the kernel takes seconds to settle its rate after a slew")
	fs.BoolVar(&o.era, "era", true, "also boot the guest just before the 2036 NTP era rollover and run the era check")
	fs.DurationVar(&o.service, "service", 6*time.Minute, "also boot the guest to run the service this long against a +50 ppm server (0: skip)")
	fs.DurationVar(&o.timeout, "timeout", 300*time.Second, "hard limit for one boot")
	fs.StringVar(&o.memory, "m", "256M", "guest memory")
	fs.StringVar(&o.logDir, "logdir", "", "directory for the guest console logs (default: a temporary directory)")
	fs.BoolVar(&o.verbose, "v", false, "copy the guest console to stderr as it runs")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (binaries, initramfs)")
	fs.StringVar(&o.timesyncBin, "timesync", "", "use this linux/amd64 static timesync binary instead of building ./cmd/timesync")
	fs.StringVar(&o.kernelArgs, "append", "", "extra guest kernel command-line words (e.g. nohz=off)")
	fs.StringVar(&o.params, "params", "", "extra guest parameters for the main boot, comma-separated key=value (e.g. freq_window=5s)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	for name, v := range map[string]string{"-kernel": o.kernel, "-module": o.module, "-busybox": o.busybox} {
		if v == "" {
			fmt.Fprintf(stderr, "vmtest: %s is required (run test/vm/run.sh, which fetches them)\n", name)
			return 2
		}
		if _, err := os.Stat(v); err != nil {
			fmt.Fprintf(stderr, "vmtest: %s: %v\n", name, err)
			return 2
		}
	}
	plans, err := o.plans()
	if err != nil {
		fmt.Fprintf(stderr, "vmtest: %v\n", err)
		return 2
	}

	work, err := os.MkdirTemp("", "timesync-vmtest-")
	if err != nil {
		fmt.Fprintf(stderr, "vmtest: %v\n", err)
		return 1
	}
	if o.keep {
		fmt.Fprintf(stderr, "vmtest: work directory %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	autoLogs := false
	if o.logDir == "" {
		// Console logs must outlive the work directory when a check
		// fails; they are removed after a clean run unless -keep.
		if o.logDir, err = os.MkdirTemp("", "timesync-vmtest-logs-"); err != nil {
			fmt.Fprintf(stderr, "vmtest: %v\n", err)
			return 1
		}
		autoLogs = !o.keep
	}
	if err := os.MkdirAll(o.logDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "vmtest: %v\n", err)
		return 1
	}

	start := time.Now()
	bins, err := buildAll(work, o.timesyncBin == "", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vmtest: %v\n", err)
		return 1
	}
	if o.timesyncBin != "" {
		bins.timesync = o.timesyncBin
	}
	initrd := filepath.Join(work, "initramfs.cpio")
	if err := writeInitramfs(initrd, guestFiles{
		busybox: o.busybox, module: o.module, timesync: bins.timesync, guest: bins.guest,
	}); err != nil {
		fmt.Fprintf(stderr, "vmtest: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "vmtest: built binaries and initramfs in %.1f s\n", time.Since(start).Seconds())

	var outcomes []outcome
	for _, p := range plans {
		b := boot{plan: p, qemu: o.qemu, kernel: o.kernel, initrd: initrd, ntptestd: bins.ntptestd,
			memory: o.memory, timeout: max(o.timeout, p.timeout), kernelArgs: o.kernelArgs, logPath: filepath.Join(o.logDir, p.name+"-console.log")}
		if o.verbose {
			b.echo = stderr
		}
		fmt.Fprintf(stderr, "vmtest: boot %q: checks %s (console log %s)\n", p.name, strings.Join(p.checks, ","), b.logPath)
		bootStart := time.Now()
		res, err := b.run(context.Background())
		fmt.Fprintf(stderr, "vmtest: boot %q finished in %.1f s\n", p.name, time.Since(bootStart).Seconds())
		outcomes = append(outcomes, judge(p, res, err, b.logPath)...)
		if err != nil || !allOK(outcomes) {
			tailLog(stderr, b.logPath, 40)
		}
	}

	fmt.Fprintf(stdout, "VM test results (%.0f s; guest kernel %s):\n", time.Since(start).Seconds(), filepath.Base(o.kernel))
	passed, failed := printSummary(stdout, outcomes)
	printServiceLines(stdout, outcomes)
	if failed > 0 {
		fmt.Fprintf(stdout, "vm: guest console logs in %s\n", o.logDir)
	} else if autoLogs {
		os.RemoveAll(o.logDir)
	}
	// The closing line CI reads: "N passed, N failed" alone on its line.
	fmt.Fprintf(stdout, "vm: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

// plans turns the flags into boot plans: the main boot with the listed
// checks, and the era boot.
func (o options) plans() ([]plan, error) {
	var out []plan
	main := plan{name: "main", params: map[string]string{}}
	for _, c := range strings.Split(o.checks, ",") {
		if c = strings.TrimSpace(c); c != "" {
			main.checks = append(main.checks, c)
		}
	}
	if o.params != "" {
		for _, kv := range strings.Split(o.params, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("-params %q: want key=value,…", o.params)
			}
			main.params[k] = v
		}
	}
	if len(main.checks) > 0 {
		out = append(out, main)
	}
	if o.era {
		out = append(out, eraPlan())
	}
	if o.service > 0 {
		out = append(out, servicePlan(o.service))
	}
	if len(out) == 0 {
		return nil, errors.New("nothing to do: no checks, -era=false and -service=0")
	}
	return out, nil
}

// tailLog copies the last n lines of a console log to w.
func tailLog(w io.Writer, path string, n int) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	fmt.Fprintf(w, "vmtest: last %d lines of %s:\n", len(lines), path)
	for _, l := range lines {
		fmt.Fprintf(w, "  | %s\n", strings.TrimRight(l, "\r"))
	}
}
