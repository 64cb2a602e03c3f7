//go:build unix

package main

// privsep_unix.go: "timesync service run" started as root on Linux and
// macOS. The process stays as a small privileged parent — the clock
// driver, the configuration and drift files, the control socket it
// created, binding port 123 — and runs everything that reads the
// network or the control API as "timesync service engine", a child under
// an unprivileged user (service/privsep; its README.md has the message
// set and the threat model).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/timesync/timesync/internal/hugetext"
	"github.com/timesync/timesync/internal/idlegc"
	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service"
	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/control/socket"
	"github.com/timesync/timesync/service/privsep"
)

const privsepSupported = true

type privsepOptions struct {
	configPath, socketPath string
	dryRun, verbose        bool
	user                   string
	logger                 *slog.Logger
	// text is the parent's code on huge pages, for the engine to map
	// too (nil if it is not).
	text *os.File
}

// privsepParent is the parent's life: set-up in newPrivsepParent, the
// engine's supervision between Start and Stop.
type privsepParent struct {
	log    *slog.Logger
	drv    platform.Driver
	ln     net.Listener
	parent *privsep.Parent
	sup    *privsep.Supervisor
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	// exeCopy is the copy of the executable the engine runs, if any,
	// and exeCopyDir the directory made for it (if one was).
	exeCopy, exeCopyDir string
}

// newPrivsepParent does what needs privilege before anything else runs:
// reads the configuration, opens the clock driver, creates the control
// socket and the confirmation token, finds the engine's user, then
// drops every capability the parent no longer needs.
func newPrivsepParent(o privsepOptions) (*privsepParent, error) {
	log := o.logger
	// Nothing this process inherited may reach the engine.
	privsep.CloseOnExecAll()
	if o.socketPath == "" {
		o.socketPath = control.DefaultSocketPath()
	}
	cfg, err := config.Load(o.configPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Warn("no configuration file; using the defaults (it is written at the first change)", "path", o.configPath)
		cfg = config.Default()
	case err != nil:
		return nil, err
	}
	u, fallback, err := privsep.LookupUser(o.user)
	if err != nil {
		return nil, err
	}
	if fallback != "" {
		log.Warn(fallback)
	}
	newDriver := newClockDriver
	if o.dryRun {
		newDriver = newNullDriver
	}
	drv, err := newDriver()
	if err != nil {
		return nil, fmt.Errorf("cannot use the system clock: %w", err)
	}
	p := &privsepParent{log: log, drv: drv}
	fail := func(err error) (*privsepParent, error) {
		p.release()
		return nil, err
	}
	ln, err := socket.Listen(o.socketPath)
	if err != nil {
		return fail(err)
	}
	p.ln = ln
	lf, err := ln.(*net.UnixListener).File()
	if err != nil {
		return fail(fmt.Errorf("control socket: %w", err))
	}
	gid := -1
	if cfg.ControlGroup != "" {
		if g, err := user.LookupGroup(cfg.ControlGroup); err == nil {
			if n, err := strconv.Atoi(g.Gid); err == nil {
				gid = n
			}
		} else {
			log.Warn("control group not found; the confirmation token is for root only", "group", cfg.ControlGroup, "err", err)
		}
	}
	if gid >= 0 && uint32(gid) == u.GID {
		// The engine would read the token that is to hold it back.
		log.Warn("the control group is the engine's own group; the confirmation token is for root only", "group", cfg.ControlGroup)
		gid = -1
	}
	p.parent = &privsep.Parent{
		Driver:     drv,
		ConfigPath: o.configPath,
		Config:     cfg,
		DryRun:     o.dryRun,
		TokenPath:  control.ConfirmTokenPath(o.socketPath),
		TokenGID:   gid,
		Logger:     log.With("part", "parent"),
	}
	if err := p.parent.Init(); err != nil {
		lf.Close()
		return fail(err)
	}
	switch err := privsep.DropCapabilities(privsep.ParentCapabilities); {
	case errors.Is(err, privsep.ErrCgo):
		log.Error("the parent keeps all its capabilities: " + err.Error() + "; build timesync with CGO_ENABLED=0 (as make build and the packages do)")
	case err != nil:
		log.Warn("the parent's bounding set is not as narrow as it should be (its effective capabilities are)", "err", err)
	}
	exe, err := os.Executable()
	if err != nil {
		lf.Close()
		return fail(err)
	}
	if !privsep.Reachable(exe, u) {
		// A build in root's home: the engine's user cannot reach it.
		// Run a copy from the runtime directory, or failing that (it may
		// be on a noexec mount, as /run often is) from a directory of
		// its own in the temporary directory.
		cp, dir, err := engineCopy(exe, filepath.Dir(o.socketPath), u)
		if err != nil {
			lf.Close()
			return fail(err)
		}
		log.Info("the engine's user cannot reach this executable; the engine runs a copy", "executable", exe, "copy", cp)
		exe, p.exeCopy, p.exeCopyDir = cp, cp, dir
	}
	args := []string{"service", "engine", "--config", o.configPath, "--socket", o.socketPath}
	if o.dryRun {
		args = append(args, "--dry-run")
	}
	if o.verbose {
		args = append(args, "--verbose")
	}
	if o.text != nil {
		args = append(args, "--huge-text")
	}
	p.sup = &privsep.Supervisor{
		Parent:   p.parent,
		Path:     exe,
		Args:     args,
		Env:      os.Environ(),
		User:     u,
		Listener: lf,
		Text:     o.text,
		Logger:   log.With("part", "parent"),
	}
	return p, nil
}

// Start starts the engine and returns once it was started.
func (p *privsepParent) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done = make(chan error, 1)
	ready := p.sup.Ready()
	go func() { p.done <- p.sup.Run(ctx) }()
	if err := <-ready; err != nil {
		cancel()
		<-p.done
		p.release()
		return err
	}
	mode := "disciplining the clock"
	if p.parent.DryRun {
		mode = "dry run: measuring only, the clock is never changed"
	}
	p.log.Info("timesync service started with privilege separation", "user", p.sup.User.Name, "config", p.parent.ConfigPath, "socket", p.ln.Addr().String(), "mode", mode)
	return nil
}

// Stop stops the engine (SIGTERM, then SIGKILL), removes the socket and
// the token and gives the clock back.
func (p *privsepParent) Stop(context.Context) error {
	p.cancel()
	err := <-p.done
	p.release()
	p.log.Info("timesync service stopped")
	return err
}

func (p *privsepParent) release() {
	p.once.Do(func() {
		if p.ln != nil {
			p.ln.Close() // removes the socket file
		}
		if p.parent != nil {
			p.parent.RemoveToken()
		}
		if c, ok := p.drv.(io.Closer); ok {
			c.Close()
		}
		if p.exeCopy != "" {
			os.Remove(p.exeCopy)
		}
		if p.exeCopyDir != "" {
			os.Remove(p.exeCopyDir)
		}
	})
}

// runServiceEngine is "timesync service engine", started only by the
// privileged parent: the service itself, unprivileged, over the
// descriptors the parent passed.
func runServiceEngine(args []string, stderr io.Writer) error {
	fs := newFlagSet("timesync service engine")
	configPath := fs.String("config", "", "configuration file (the parent's)")
	socketPath := fs.String("socket", "", "control socket (the parent's)")
	dryRun := fs.Bool("dry-run", false, "measure and report only")
	verbose := fs.Bool("verbose", false, "log every measurement")
	hugeText := fs.Bool("huge-text", false, "map the parent's copy of the code on huge pages (descriptor 7)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	lockErr := privsep.Lockdown()
	if lockErr != nil && !errors.Is(lockErr, privsep.ErrNoSeccomp) {
		return fmt.Errorf("engine: %w; it is started by 'timesync service run' (as root), never by hand", lockErr)
	}
	idleRuntime()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("part", "engine")
	if lockErr != nil {
		log.Warn(lockErr.Error())
	}
	if *hugeText {
		// The parent's copy of this executable's code, on huge pages:
		// one set of pages for both (internal/hugetext checks it is
		// sealed and holds this very code before mapping it). A copy
		// it cannot use (an engine started from an upgraded executable,
		// a position-independent build loaded elsewhere) leaves it to
		// make its own.
		f := os.NewFile(privsep.EngineTextFD, "huge-text")
		t, err := hugetext.Adopt(f)
		f.Close()
		if err == nil {
			log.Debug("code on huge pages, shared with the parent", "huge_kib", t.Huge>>10, "of_kib", t.Size>>10, "data_huge_kib", t.DataHuge>>10, "data_of_kib", t.DataSize>>10)
		} else if t, err2 := hugetext.Remap(); err2 == nil {
			log.Info("code on huge pages, a copy of its own", "huge_kib", t.Huge>>10, "of_kib", t.Size>>10, "data_huge_kib", t.DataHuge>>10, "data_of_kib", t.DataSize>>10, "parent_copy", err)
			t.Close()
		} else {
			log.Info("code left on 4 KiB pages", "reason", err2, "parent_copy", err)
		}
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	conn, replies, ln, err := privsep.EngineFiles()
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	lost := make(chan error, 1)
	onLost := func(err error) {
		select {
		case lost <- err:
		default:
		}
	}
	privsep.WatchParent(func() { onLost(errors.New("the privileged parent is gone")) })
	remote, err := privsep.DialSplit(conn, replies, onLost)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	d, err := service.New(service.Options{
		ConfigPath: *configPath,
		SocketPath: *socketPath,
		Listener:   ln,
		DryRun:     *dryRun,
		Logger:     log,
		Privileged: remote,
		Resolve:    lookupNetIP,
		Settled:    idlegc.Collect,
	})
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if err := d.Start(); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	log.Info("engine running", "uid", os.Getuid(), "driver", remote.Hello().Driver)
	select {
	case <-sigs:
	case err := <-lost:
		log.Error("stopping: " + err.Error())
	}
	// Less than the parent waits for it (privsep.Supervisor.StopTimeout,
	// 1.5 s), so that it ends on its own, its drift file saved.
	ctx, cancel := context.WithTimeout(context.Background(), engineStopTimeout)
	defer cancel()
	if err := d.Stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// engineStopTimeout bounds the engine's own shutdown.
const engineStopTimeout = time.Second

// engineCopy copies exe where u can execute it: into runDir (the control
// socket's directory), or else into a new directory in the temporary
// directory, searchable by all (0711). It returns the copy and the
// directory it made, if any; the caller removes both at exit.
func engineCopy(exe, runDir string, u privsep.User) (cp, madeDir string, err error) {
	var tried []string
	usable := func(dir string) bool {
		if privsep.NoExec(dir) {
			tried = append(tried, dir+" (mounted noexec)")
			return false
		}
		return true
	}
	try := func(dir string) (string, bool) {
		c, err := privsep.CopyExecutable(exe, dir)
		if err != nil {
			tried = append(tried, dir+" ("+err.Error()+")")
			return "", false
		}
		if !privsep.Reachable(c, u) {
			os.Remove(c)
			tried = append(tried, dir+" (not searchable by "+u.Name+")")
			return "", false
		}
		return c, true
	}
	if usable(runDir) {
		if c, ok := try(runDir); ok {
			return c, "", nil
		}
	}
	dir, err := os.MkdirTemp("", "timesync-engine-")
	if err != nil {
		return "", "", err
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		os.Remove(dir)
		return "", "", err
	}
	if usable(dir) {
		if c, ok := try(dir); ok {
			return c, dir, nil
		}
	}
	os.Remove(dir)
	return "", "", fmt.Errorf("the engine's user %s cannot execute %s, nor a copy in %s: install timesync (the packages put it in /usr/bin), or put it where %s can reach it",
		u.Name, exe, strings.Join(tried, " or "), u.Name)
}
