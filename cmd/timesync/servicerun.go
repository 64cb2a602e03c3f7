package main

// servicerun.go: "timesync service run", the service in the foreground
// (as chronyd -d; with --dry-run as chronyd -x), wrapped in a
// kardianos/service Program so that the Windows service control
// manager's stop request works as SIGTERM does elsewhere.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	kservice "github.com/kardianos/service"

	"github.com/timesync/timesync/internal/hugetext"
	"github.com/timesync/timesync/internal/idlegc"
	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/platform/osclock"
	"github.com/timesync/timesync/service"
	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/privsep"
)

// stopTimeout bounds the shutdown after SIGTERM: requests in progress
// get this long, then their connections are closed.
const stopTimeout = 1500 * time.Millisecond

// newNullDriver is the --dry-run driver (tests may replace it).
var newNullDriver = func() (platform.Driver, error) {
	n, _ := osclock.NewNull() // the frequency could not be read: starts from 0
	return n, nil
}

// runServiceRun implements "timesync service run [--config FILE]
// [--socket PATH] [--dry-run] [--verbose]". It returns when the service
// was told to stop (SIGTERM, SIGINT, the Windows stop control).
func runServiceRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("timesync service run")
	configPath := fs.String("config", "", "configuration file (default "+systemConfigPath()+")")
	socketPath := fs.String("socket", "", "control socket (default $TIMESYNC_SOCKET, else "+control.DefaultSocketPath()+")")
	dryRun := fs.Bool("dry-run", false, "measure and report only; never change the clock")
	verbose := fs.Bool("verbose", false, "log every measurement")
	engineUser := fs.String("user", privsep.DefaultUser, "started as root (Linux, macOS): the user the engine runs as (a name or UID[:GID])")
	single := fs.Bool("single-process", false, "started as root: do not split off an unprivileged engine (for debugging)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("service run: unexpected argument %q", fs.Arg(0))
	}
	if *configPath == "" {
		*configPath = systemConfigPath()
	}
	idleRuntime()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	// Signals are caught before the service starts, so that one sent
	// while it starts is not lost.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)

	prg := &program{}
	svc, err := kservice.New(prg, &kservice.Config{
		Name: service.SystemName,
		Option: kservice.KeyValue{
			// How Run waits on Unix (and interactively on Windows):
			// for SIGTERM or SIGINT. Under the Windows service control
			// manager its stop request calls Stop instead.
			"RunWait": func() { <-sigs },
		},
	})
	if err != nil {
		return fmt.Errorf("service run: %w", err)
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if runtime.GOOS == "windows" && !kservice.Interactive() {
		// Under the service control manager standard error goes
		// nowhere: log to the Event Log source "service install" made.
		if l, err := svc.Logger(nil); err == nil {
			handler = newSvcLogHandler(l, level)
		}
	}
	logger := slog.New(handler)
	text := codeOnHugePages(logger)
	defer text.Close()

	if privsepSupported && os.Geteuid() == 0 && !*single {
		// Started as root: a privileged parent keeps the clock and runs
		// everything else as an unprivileged engine (service/privsep).
		pp, err := newPrivsepParent(privsepOptions{
			configPath: *configPath, socketPath: *socketPath, dryRun: *dryRun, verbose: *verbose,
			user: *engineUser, logger: logger, text: text.File(),
		})
		if err != nil {
			return err
		}
		prg.start, prg.stop = pp.Start, pp.Stop
		if err := svc.Run(); err != nil {
			return err
		}
		return prg.stopErr
	}

	d, err := service.New(service.Options{
		ConfigPath:    *configPath,
		SocketPath:    *socketPath,
		DryRun:        *dryRun,
		Logger:        logger,
		NewDriver:     newClockDriver,
		NewNullDriver: newNullDriver,
		Resolve:       lookupNetIP,
		Settled:       idlegc.Collect,
	})
	if err != nil {
		return err
	}
	prg.start, prg.stop = d.Start, d.Stop
	if err := svc.Run(); err != nil {
		return err
	}
	return prg.stopErr
}

// codeOnHugePages moves the service's code and read-only data onto 2 MiB
// pages (internal/hugetext) unless TIMESYNC_HUGE_TEXT=off, and says how it
// went.
// The privileged parent hands the result to its engine.
func codeOnHugePages(log *slog.Logger) *hugetext.Text {
	if !hugetext.Wanted() {
		log.Info("code left on 4 KiB pages (TIMESYNC_HUGE_TEXT)")
		return nil
	}
	t, err := hugetext.Remap()
	switch {
	case errors.Is(err, hugetext.ErrUnsupported) && runtime.GOOS != "linux":
		// Nothing to say where it never could be.
	case err != nil:
		log.Info("code left on 4 KiB pages", "reason", err)
	default:
		log.Info("code on huge pages", "huge_kib", t.Huge>>10, "of_kib", t.Size>>10, "data_huge_kib", t.DataHuge>>10, "data_of_kib", t.DataSize>>10)
	}
	return t
}

// program adapts the daemon (or the privileged parent) to
// kardianos/service.
type program struct {
	start   func() error
	stop    func(context.Context) error
	stopErr error
}

// Start starts the daemon and returns at once.
func (p *program) Start(kservice.Service) error { return p.start() }

// Stop stops it within stopTimeout (the socket is removed).
func (p *program) Stop(kservice.Service) error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := p.stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		p.stopErr = err
	}
	return nil
}

// idleRuntime sets up the Go runtime of a service process (the parent or
// the one process, and the engine) for a life spent mostly idle. The
// service's work is a few packets a minute and the odd API request: one P
// is plenty, and it spares the scheduler's idle threads spinning at every
// wake-up (idle CPU about a third to a half lower here: 12.5–16 against
// 18–27 ms a minute, 3 servers at minpoll 4, three paired one-minute
// rounds); and no garbage collection every two minutes for nothing
// (internal/idlegc). GOMAXPROCS, GOGC and GOMEMLIMIT in the environment
// still rule.
func idleRuntime() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	idlegc.Enable()
}
