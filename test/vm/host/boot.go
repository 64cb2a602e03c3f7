package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/timesync/timesync/test/vm/vmtest"
)

// eraRollover is when the 32-bit NTP seconds field wraps (era 0 → 1).
var eraRollover = time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC)

// plan is one boot of the guest: which checks it runs, with which extra
// parameters, and how its clock and the test server start.
type plan struct {
	name   string
	checks []string
	params map[string]string
	// rtcBase, when set, is the guest's RTC at power-on (qemu -rtc base=);
	// otherwise the guest starts at the host's UTC time.
	rtcBase time.Time
	// serverStart, when set, is the time the test server serves at its
	// start (ntptestd -start), advancing with real time.
	serverStart time.Time
	// eraExpect makes the harness tell the guest the offset to expect
	// (timesync.era_expect_s) from rtcBase and serverStart.
	eraExpect bool
	// serverArgs are extra ntptestd flags (e.g. -rate-ppm).
	serverArgs []string
	// timeout, when longer than -timeout, is this boot's hard limit.
	timeout time.Duration
}

// eraPlan boots the guest 45 s before the NTP era rollover against a server
// serving 5 s after it: by the time the guest has booted and brought its
// network up (~10 s under TCG) its clock is still before the rollover, the
// server's after it, and timesync must step about +50 s across it.
func eraPlan() plan {
	return plan{
		name:        "era",
		checks:      []string{"era"},
		params:      map[string]string{},
		rtcBase:     eraRollover.Add(-45 * time.Second),
		serverStart: eraRollover.Add(5 * time.Second),
		eraExpect:   true,
	}
}

// eraExpectation is the offset (server − guest, seconds) the era check
// should find, and its tolerance. The server serves serverStart plus the
// time since it started; the guest clock is rtcBase plus the time since
// qemu started, give or take the sub-second phase of qemu's emulated RTC,
// which the kernel reads in whole seconds (measured: −0.2 to +0.6 s). The
// tolerance still tells a correct era (+50 s) from any era mistake
// (±136 years).
func eraExpectation(p plan, serverStarted, qemuStarted time.Time) (expect, tolerance float64) {
	d := p.serverStart.Sub(p.rtcBase) - qemuStarted.Sub(serverStarted)
	return d.Seconds() + 0.5, 1.5
}

// guestKernelArgs start every guest's kernel command line (-append adds
// more).
const guestKernelArgs = "console=ttyS0 quiet panic=-1"

// bootResult is what the guest printed on its console.
type bootResult struct {
	results     []vmtest.Result
	done        bool
	parseErrors []string
}

// boot runs one plan.
type boot struct {
	plan
	qemu, kernel, initrd, ntptestd string
	memory                         string
	kernelArgs                     string // extra kernel command-line words
	timeout                        time.Duration
	logPath                        string
	echo                           io.Writer // copy of the console, or nil
}

func (b boot) run(ctx context.Context) (bootResult, error) {
	var res bootResult
	srvArgs := []string{"-listen", "127.0.0.1:0"}
	if !b.serverStart.IsZero() {
		srvArgs = append(srvArgs, "-start", b.serverStart.Format(time.RFC3339Nano))
	}
	srvArgs = append(srvArgs, b.serverArgs...)
	srv, err := startServer(b.ntptestd, srvArgs)
	if err != nil {
		return res, err
	}
	defer srv.stop()

	params := vmtest.Params{}
	for k, v := range b.params {
		params[k] = v
	}
	params["checks"] = strings.Join(b.checks, ",")
	params["server"] = "10.0.2.2:" + strconv.Itoa(srv.port) // qemu user networking: the host's loopback

	args := []string{
		"-nographic", "-no-reboot",
		"-accel", "tcg",
		"-m", b.memory, "-smp", "1",
		"-kernel", b.kernel, "-initrd", b.initrd,
		"-netdev", "user,id=n0", "-device", "e1000,netdev=n0",
	}
	if !b.rtcBase.IsZero() {
		args = append(args, "-rtc", "base="+b.rtcBase.UTC().Format("2006-01-02T15:04:05"))
	} else {
		args = append(args, "-rtc", "base=utc")
	}

	logf, err := os.Create(b.logPath)
	if err != nil {
		return res, err
	}
	defer logf.Close()

	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	qemuStart := time.Now()
	if b.eraExpect {
		exp, tol := eraExpectation(b.plan, srv.started, qemuStart)
		params["era_expect_s"] = strconv.FormatFloat(exp, 'f', 3, 64)
		params["era_tolerance_s"] = strconv.FormatFloat(tol, 'f', 3, 64)
	}
	extra, err := params.Cmdline()
	if err != nil {
		return res, err
	}
	cmdline := guestKernelArgs + " "
	if b.kernelArgs != "" {
		cmdline += b.kernelArgs + " "
	}
	cmdline += vmtest.CmdlineFlag + " " + extra
	args = append(args, "-append", cmdline)
	fmt.Fprintf(logf, "# %s %s\n", b.qemu, strings.Join(quoteArgs(args), " "))

	cmd := exec.CommandContext(ctx, b.qemu, args...)
	cmd.Stdin = nil
	var qemuErr bytes.Buffer
	cmd.Stderr = &qemuErr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("starting %s: %w (install qemu-system-x86, or run test/vm/run.sh)", b.qemu, err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		fmt.Fprintf(logf, "%8.3f %s\n", time.Since(qemuStart).Seconds(), line)
		if b.echo != nil {
			fmt.Fprintf(b.echo, "[%s] %s\n", b.name, line)
		}
		if r, ok, err := vmtest.ParseLine(line); ok {
			if err != nil {
				res.parseErrors = append(res.parseErrors, err.Error())
			} else {
				res.results = append(res.results, r)
			}
		} else if strings.Contains(line, vmtest.DonePrefix) {
			res.done = true
		}
	}
	waitErr := cmd.Wait()
	if qemuErr.Len() > 0 {
		fmt.Fprintf(logf, "# qemu stderr:\n%s", qemuErr.String())
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return res, fmt.Errorf("guest killed after the %v timeout", b.timeout)
	case waitErr != nil:
		return res, fmt.Errorf("%s: %w: %s", b.qemu, waitErr, strings.TrimSpace(qemuErr.String()))
	}
	return res, nil
}

// quoteArgs quotes arguments with spaces for the log.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \t") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return out
}

// server is a running ntptestd.
type server struct {
	cmd     *exec.Cmd
	port    int
	started time.Time // when its served clock started (midpoint of exec and its first line)
	stderr  *bytes.Buffer
}

// startServer starts ntptestd with args and waits for its "listening ADDR"
// line.
func startServer(bin string, args []string) (*server, error) {
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = s.stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting ntptestd: %w", err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		s.started = t0.Add(time.Since(t0) / 2)
		addr, found := strings.CutPrefix(line, "listening ")
		if !ok || !found {
			s.stop()
			return nil, fmt.Errorf("ntptestd %s: no \"listening\" line (got %q): %s", strings.Join(args, " "), line, s.stderr.String())
		}
		i := strings.LastIndexByte(addr, ':')
		port, err := strconv.Atoi(addr[i+1:])
		if i < 0 || err != nil || port <= 0 {
			s.stop()
			return nil, fmt.Errorf("ntptestd: cannot parse %q", line)
		}
		s.port = port
		return s, nil
	case <-time.After(10 * time.Second):
		s.stop()
		return nil, fmt.Errorf("ntptestd did not start within 10 s: %s", s.stderr.String())
	}
}

// stop ends the server (this process's own child, by its pid).
func (s *server) stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}
