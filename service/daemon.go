package service

// daemon.go: the service itself. It builds, from the configuration file,
// the poll loop (service/loop) with its clock, querier and drift file,
// records history, serves the control API (service/control), and takes
// every configuration change through one door (Modify): validated as a
// whole, saved atomically with its comments, applied to the running loop
// without a restart, announced to watchers.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beevik/ntp"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/platform/osclock"
	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/conflicts"
	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/control/socket"
	"github.com/timesync/timesync/service/discipline"
	"github.com/timesync/timesync/service/engine"
	"github.com/timesync/timesync/service/loop"
	"github.com/timesync/timesync/service/ntpclient"
	"github.com/timesync/timesync/service/wake"
)

// Options configures a Daemon. Only ConfigPath matters in production;
// the rest are defaults or seams for tests.
type Options struct {
	// ConfigPath is the configuration file; "" means
	// config.DefaultPath(). A missing file means the defaults (it is
	// created at the first change).
	ConfigPath string
	// SocketPath is where the control API listens; "" means
	// control.DefaultSocketPath().
	SocketPath string
	// Listener, if set, is used instead of listening on SocketPath.
	Listener net.Listener
	// DryRun measures and reports but never changes the clock: the null
	// driver steers a virtual clock that the measurements are taken
	// against (virtualNow), as chronyd -x does; no drift file is written.
	DryRun bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	// NewDriver opens the OS clock driver (default osclock.New);
	// NewNullDriver the one used with DryRun (default osclock.NewNull).
	NewDriver     func() (platform.Driver, error)
	NewNullDriver func() (platform.Driver, error)
	// Privileged, if set, replaces the in-process Privileged over the
	// driver (NewDriver is then not called).
	Privileged Privileged
	// Querier performs the NTP exchanges (default ntpclient.Querier).
	Querier engine.Querier
	// Resolve looks up a host name (default the system resolver).
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Conflicts finds other time services (default conflicts.Detect);
	// ConflictInterval is how often it looks again (default 30 min).
	Conflicts        func(ctx context.Context) []conflicts.Conflict
	ConflictInterval time.Duration
	// WakeRead reads the clocks for the wake and clock-jump watch
	// (default wake.Read): at the first answer of every round of
	// exchanges, and, while no poll is due within WakeInterval, on a timer
	// WakeInterval after the last look (default 1 min; negative: no
	// watch).
	WakeRead     func() wake.Reading
	WakeInterval time.Duration
	// Now is the wall clock for history and event times (default
	// time.Now).
	Now func() time.Time
	// BurstInterval spaces the requests of a burst (default 2 s).
	BurstInterval time.Duration
	// Settled, if set, is called once (on a goroutine of its own, which
	// Stop does not wait for) when start-up is over: at the end of the
	// first round after which the clock has been corrected at least once
	// and no burst is under way (loop.Settled). The engine, or the one
	// process, collects its start-up garbage then (idlegc.Collect). A
	// service that never corrects the clock (no server answers, or a step
	// past the panic threshold awaits confirmation) never calls it: its
	// garbage is collected at idlegc's limit, as before.
	Settled func()
}

// Daemon is the running service.
type Daemon struct {
	opt  Options
	log  *slog.Logger
	priv Privileged
	clk  *platform.Clock
	hub  *control.Hub
	rec  *control.Recorder
	srv  *control.Server
	ln   net.Listener

	// cfgMu is the configuration's one door: Modify holds it from the
	// copy to the announcement.
	cfgMu   sync.Mutex
	cfg     *config.Config
	version int

	mu         sync.Mutex // guards what follows
	lp         *loop.Loop // nil until a server is known
	targets    map[string]target
	unresolved []string // "name: why", for the status
	conflicts  []conflicts.Conflict
	lastSample map[string]sampleInfo
	updates    int // loop updates already recorded in the history
	tinker     config.Tinker
	retry      *time.Timer
	retryDelay time.Duration
	stopped    bool
	ntp        *ntpclient.Client // the production exchanges' sockets; nil until used
	settled    atomic.Bool       // Options.Settled has been called

	// wakeLooks asks the wake watch to look at the clocks (nil without
	// a watch; set before the first exchange); the wake timer does so when no
	// poll is due within WakeInterval (lookForWake, armWake).
	wakeLooks chan time.Time
	wakeMu    sync.Mutex
	wakeStop  func() bool // stops the wake timer; nil until first armed (guarded by wakeMu)
	wakeArmed bool        // the wake timer is running (guarded by wakeMu)
	lastLook  time.Time   // the wake watch's last look (guarded by wakeMu)

	refreshMu sync.Mutex // serialises status snapshots for events
	applyMu   sync.Mutex // serialises apply

	serving serving // NTP server and metrics endpoint (serving.go)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// target is one address the loop polls, and where it came from.
type target struct {
	srv  loop.Server
	name string // the host or pool name, "" for an address
}

type sampleInfo struct {
	at            time.Time
	offset, delay time.Duration
}

// New loads the configuration and prepares the service; Start runs it.
func New(opt Options) (*Daemon, error) {
	if opt.ConfigPath == "" {
		opt.ConfigPath = config.DefaultPath()
	}
	if opt.SocketPath == "" {
		opt.SocketPath = control.DefaultSocketPath()
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.NewDriver == nil {
		opt.NewDriver = osclock.New
	}
	if opt.NewNullDriver == nil {
		opt.NewNullDriver = func() (platform.Driver, error) {
			n, err := osclock.NewNull()
			if err != nil {
				opt.Logger.Debug("null driver starts from 0 ppm", "err", err)
			}
			return n, nil
		}
	}
	if opt.Resolve == nil {
		opt.Resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if opt.Conflicts == nil {
		opt.Conflicts = conflicts.Detect
	}
	if opt.ConflictInterval <= 0 {
		opt.ConflictInterval = 30 * time.Minute
	}
	if opt.WakeRead == nil {
		opt.WakeRead = wake.Read
	}
	if opt.WakeInterval == 0 {
		// Every look wakes the idle process: at 10 s the watch alone
		// cost 1.5–2.6 ms of CPU a minute here (two paired one-minute
		// rounds), as much as all of chronyd; a resume or a jump is
		// still answered within a minute.
		opt.WakeInterval = time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}

	load := config.Load
	if opt.Privileged != nil {
		load = opt.Privileged.LoadConfig
	}
	cfg, err := load(opt.ConfigPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		opt.Logger.Warn("no configuration file; using the defaults (it is written at the first change)", "path", opt.ConfigPath)
		cfg = config.Default()
	case err != nil:
		return nil, err
	}
	for _, w := range cfg.Warnings() {
		opt.Logger.Warn("configuration: " + w)
	}

	priv := opt.Privileged
	if priv == nil {
		newDriver := opt.NewDriver
		if opt.DryRun {
			newDriver = opt.NewNullDriver
		}
		drv, err := newDriver()
		if err != nil {
			return nil, fmt.Errorf("cannot use the system clock: %w", err)
		}
		priv = NewPrivileged(drv)
	}
	clk, err := platform.NewClock(priv.Driver(), platform.ClockOptions{Logger: opt.Logger})
	if err != nil {
		priv.Close()
		return nil, fmt.Errorf("cannot use the system clock: %w", err)
	}
	if opt.Querier == nil {
		q := ntpclient.Querier{}
		if opt.DryRun {
			q.GetSystemTime = virtualNow(clk)
		}
		opt.Querier = q
	}
	d := &Daemon{
		opt:        opt,
		log:        opt.Logger,
		priv:       priv,
		clk:        clk,
		hub:        control.NewHub(),
		rec:        control.NewRecorder(),
		cfg:        cfg,
		targets:    map[string]target{},
		lastSample: map[string]sampleInfo{},
		tinker:     cfg.Tinker,
	}
	d.srv = control.NewServer(control.Options{Backend: d, Hub: d.hub, Logger: opt.Logger, Now: opt.Now})
	return d, nil
}

// virtualNow is the clock a dry run measures: the real clock plus every
// correction the null driver was asked for, as chronyd -x keeps a
// virtual clock. The real clock is never changed, so without this the
// measurements would keep showing an offset the discipline believes it
// has corrected, and the status would make no sense.
func virtualNow(c *platform.Clock) func() time.Time {
	return func() time.Time {
		now := time.Now()
		applied, ok := c.AppliedAt(now)
		if !ok {
			return now
		}
		return now.Add(time.Duration(applied * float64(time.Second)))
	}
}

// Start listens on the control socket, starts polling and the watches.
func (d *Daemon) Start() error {
	ln := d.opt.Listener
	if ln == nil {
		var err error
		if ln, err = socket.Listen(d.opt.SocketPath); err != nil {
			// Nothing was changed; give the clock back (Windows' own
			// adjustment) before the process exits.
			d.priv.Close()
			return err
		}
	}
	d.ln = ln
	d.ctx, d.cancel = context.WithCancel(context.Background())
	if d.opt.WakeInterval > 0 {
		d.wakeLooks = make(chan time.Time, 1)
	}
	d.apply()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.srv.Serve(ln); err != nil {
			d.log.Error("control API stopped", "err", err)
		}
	}()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.watchConflicts()
	}()
	if d.opt.WakeInterval > 0 {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.watchWake()
		}()
	}
	d.publishConfig()
	d.refresh()
	mode := "disciplining the clock"
	if d.opt.DryRun {
		mode = "dry run: measuring only, the clock is never changed"
	}
	d.log.Info("timesync service started", "config", d.opt.ConfigPath, "socket", ln.Addr().String(), "mode", mode)
	return nil
}

// Stop ends the control API (removing the socket), stops polling (the
// drift file is saved) and gives the clock back. It waits for requests
// in progress until ctx is done.
func (d *Daemon) Stop(ctx context.Context) error {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return nil
	}
	d.stopped = true
	if d.retry != nil {
		d.retry.Stop()
	}
	lp := d.lp
	d.mu.Unlock()
	if d.cancel != nil {
		d.cancel()
	}
	d.wakeMu.Lock()
	if d.wakeStop != nil {
		d.wakeStop()
	}
	d.wakeMu.Unlock()
	err := d.srv.Shutdown(ctx)
	if lp != nil {
		lp.Stop()
	}
	d.mu.Lock()
	nc := d.ntp
	d.mu.Unlock()
	if nc != nil {
		nc.Close()
	}
	d.stopServing()
	d.wg.Wait()
	if cerr := d.priv.Close(); cerr != nil && err == nil {
		err = cerr
	}
	d.log.Info("timesync service stopped")
	return err
}

// Run starts the service and stops it when ctx is done.
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return d.Stop(sctx)
}

// SocketAddr reports where the control API listens.
func (d *Daemon) SocketAddr() string {
	if d.ln == nil {
		return d.opt.SocketPath
	}
	return d.ln.Addr().String()
}

// ---- configuration: the one door ----

// Modify implements control.Backend: fn edits a copy; the result is
// validated as a whole (an invalid one is rejected with ErrConflict and
// the file's line named, and nothing changes), saved atomically keeping
// the file's comments, applied to the running service and announced to
// watchers. The save comes before the application so that a change that
// cannot be made durable is not made at all: the running service never
// differs from its file.
func (d *Daemon) Modify(fn func(*config.Config) error) (control.ConfigInfo, error) {
	d.cfgMu.Lock()
	next := d.cfg.Clone()
	if err := fn(next); err != nil {
		d.cfgMu.Unlock()
		return control.ConfigInfo{}, err
	}
	if err := next.Validate(); err != nil {
		d.cfgMu.Unlock()
		return control.ConfigInfo{}, fmt.Errorf("%w: the configuration would be invalid; nothing was changed in %s: %w", control.ErrConflict, d.opt.ConfigPath, err)
	}
	if err := d.priv.SaveConfig(d.opt.ConfigPath, next); err != nil {
		d.cfgMu.Unlock()
		if errors.Is(err, fs.ErrPermission) {
			// The privileged parent refused (privilege separation).
			return control.ConfigInfo{}, fmt.Errorf("%w: permission denied: nothing was changed: %w", control.ErrForbidden, err)
		}
		return control.ConfigInfo{}, fmt.Errorf("nothing was changed: %w", err)
	}
	d.cfg = next
	d.version++
	info := d.configInfoLocked()
	d.cfgMu.Unlock()

	d.log.Info("configuration changed", "version", info.Version)
	d.apply()
	d.publishConfig()
	d.refresh()
	return info, nil
}

// Config implements control.Backend.
func (d *Daemon) Config() control.ConfigInfo {
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	return d.configInfoLocked()
}

func (d *Daemon) configInfoLocked() control.ConfigInfo {
	c := d.cfg.Clone()
	return control.ConfigInfo{
		Path:     d.opt.ConfigPath,
		Config:   c,
		Text:     string(c.Format()),
		Warnings: c.Warnings(),
		Version:  d.version,
	}
}

// ControlGroup implements control.Backend.
func (d *Daemon) ControlGroup() string {
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	return d.cfg.ControlGroup
}

func (d *Daemon) publishConfig() {
	if _, err := d.hub.Publish(control.EventConfig, d.Config(), ""); err != nil {
		d.log.Error("publishing the configuration", "err", err)
	}
}

// apply makes the running service follow the configuration in force:
// the loop polls what it names (names resolved; those that do not resolve
// are retried later), with its minsources and tinker thresholds. Calls
// are serialised and each reads the latest configuration, so a late
// retry can never bring back an older one.
func (d *Daemon) apply() {
	// Last, with no lock held: the servers polled may have changed.
	defer d.armWake()
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	d.cfgMu.Lock()
	cfg := d.cfg.Effective()
	d.cfgMu.Unlock()
	d.applyServing(cfg)
	want, unresolved := d.resolve(cfg)

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	d.unresolved = unresolved
	d.scheduleRetry(len(unresolved) > 0)

	if d.lp != nil && cfg.Tinker != d.tinker {
		// Applied to the running discipline: its measurements and
		// frequency estimate are kept.
		d.log.Info("tinker thresholds changed", "step", cfg.Tinker.Step, "stepout", cfg.Tinker.Stepout, "panic", cfg.Tinker.Panic)
		d.lp.SetTinker(cfg.Tinker.Step, cfg.Tinker.Stepout, cfg.Tinker.Panic)
	}
	d.tinker = cfg.Tinker

	if d.lp == nil {
		if len(want) == 0 {
			return
		}
		var servers []loop.Server
		for _, a := range sortedKeys(want) {
			servers = append(servers, want[a].srv)
		}
		lp, err := loop.New(d.loopOptions(cfg, servers))
		if err != nil {
			d.log.Error("starting the poll loop", "err", err)
			return
		}
		d.lp, d.targets = lp, want
		lp.Start()
		return
	}
	d.lp.SetMinSources(cfg.MinSources)
	for a, t := range d.targets {
		if w, ok := want[a]; !ok || w.srv != t.srv {
			if err := d.lp.RemoveServer(a); err != nil {
				d.log.Error("removing a server", "server", a, "err", err)
			}
			delete(d.targets, a)
			if d.ntp != nil {
				d.ntp.Forget(a)
			}
			d.log.Info("server removed", "server", a)
		}
	}
	for _, a := range sortedKeys(want) {
		if _, ok := d.targets[a]; ok {
			continue
		}
		if err := d.lp.AddServer(want[a].srv); err != nil {
			d.log.Error("adding a server", "server", a, "err", err)
			continue
		}
		d.targets[a] = want[a]
		d.log.Info("server added", "server", a)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// loopOptions builds the loop's options from cfg.
func (d *Daemon) loopOptions(cfg *config.Config, servers []loop.Server) loop.Options {
	dc := discipline.DefaultConfig()
	dc.Step, dc.Stepout, dc.Panic = cfg.Tinker.Step, cfg.Tinker.Stepout, cfg.Tinker.Panic
	dc.Logger = d.log
	if cfg.DriftFile != "" {
		if dr, err := d.priv.LoadDrift(cfg.DriftFile); err == nil {
			dc.Drift = &dr
		} else if !errors.Is(err, fs.ErrNotExist) {
			d.log.Warn("drift file not used", "err", err)
		}
	}
	opt := loop.Options{
		Servers:       servers,
		Exchanger:     exchanger{d: d, inner: d.exchangerLocked()},
		Clock:         d.clk,
		Discipline:    dc,
		MinSources:    cfg.MinSources,
		Logger:        d.log,
		BurstInterval: d.opt.BurstInterval,

		UpdateInterval: loop.DefaultUpdateInterval,
		UpdateDeadband: loop.DefaultUpdateDeadband,
	}
	if cfg.DriftFile != "" && !d.opt.DryRun {
		opt.Drift = driftStore{d.priv, cfg.DriftFile}
	}
	return opt
}

// exchangerLocked is what performs the loop's exchanges: for the
// production querier, an ntpclient.Client with the same settings (one
// socket per server kept open between polls, the idle service's main
// cost otherwise); any other querier (tests) runs blocking in a goroutine
// per exchange. Called with d.mu held.
func (d *Daemon) exchangerLocked() loop.Exchanger {
	q, ok := d.opt.Querier.(ntpclient.Querier)
	if !ok {
		return loop.Blocking{Querier: d.opt.Querier}
	}
	if d.ntp == nil {
		d.ntp = &ntpclient.Client{Timeout: q.Timeout, Dialer: q.Dialer, GetSystemTime: q.GetSystemTime}
	}
	return d.ntp
}

// driftStore saves the drift file through the privileged door.
type driftStore struct {
	p    Privileged
	path string
}

func (s driftStore) Save(dr discipline.Drift) error { return s.p.SaveDrift(s.path, dr) }

// resolveTimeout bounds the lookups of one apply.
const resolveTimeout = 5 * time.Second

// resolve turns cfg's servers and pools into the addresses to poll. An
// address reached twice is polled once.
func (d *Daemon) resolve(cfg *config.Config) (map[string]target, []string) {
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	want := map[string]target{}
	var unresolved []string
	lookup := func(host string, n int) ([]netip.Addr, error) {
		if a, err := netip.ParseAddr(host); err == nil {
			return []netip.Addr{a.Unmap()}, nil
		}
		addrs, err := d.opt.Resolve(ctx, host)
		if err == nil && len(addrs) == 0 {
			err = errors.New("no addresses")
		}
		if err != nil {
			var de *net.DNSError
			if errors.As(err, &de) && de.IsNotFound {
				err = errors.New("no such host")
			}
			return nil, err
		}
		return addrs[:min(n, len(addrs))], nil
	}
	for _, s := range cfg.Servers {
		addrs, err := lookup(s.Address, 1)
		if err != nil {
			unresolved = append(unresolved, fmt.Sprintf("%s: %v", s.Address, err))
			continue
		}
		a := netip.AddrPortFrom(addrs[0].Unmap(), uint16(s.Port)).String()
		if _, dup := want[a]; dup {
			continue
		}
		t := target{srv: loop.Server{Address: a, MinPoll: s.MinPoll, MaxPoll: s.MaxPoll, IBurst: s.IBurst, Prefer: s.Prefer}}
		if _, err := netip.ParseAddr(s.Address); err != nil {
			t.name = s.Address
		}
		want[a] = t
	}
	for _, p := range cfg.Pools {
		addrs, err := lookup(p.Name, p.MaxSources)
		if err != nil {
			unresolved = append(unresolved, fmt.Sprintf("%s: %v", p.Name, err))
			continue
		}
		for _, ad := range addrs {
			a := netip.AddrPortFrom(ad.Unmap(), uint16(p.Port)).String()
			if _, dup := want[a]; !dup {
				want[a] = target{srv: loop.Server{Address: a, IBurst: p.IBurst}, name: p.Name}
			}
		}
	}
	return want, unresolved
}

// scheduleRetry arranges for names that did not resolve to be tried
// again: after 1 min, doubling up to 30 min. Called with d.mu held.
func (d *Daemon) scheduleRetry(need bool) {
	if d.retry != nil {
		d.retry.Stop()
		d.retry = nil
	}
	if !need {
		d.retryDelay = 0
		return
	}
	d.retryDelay = min(max(2*d.retryDelay, time.Minute), 30*time.Minute)
	d.retry = time.AfterFunc(d.retryDelay, func() {
		d.apply()
		d.refresh()
	})
}

// ---- exchanges, history and events ----

// exchanger wraps the loop's exchanges to record each raw sample and to
// refresh the status once the loop has taken the answer in.
type exchanger struct {
	d     *Daemon
	inner loop.Exchanger
}

func (e exchanger) Exchange(address string, done func(*ntp.Response, error)) {
	e.inner.Exchange(address, func(r *ntp.Response, err error) {
		done(r, err)
		e.d.exchanged(address, r, err)
	})
}

func (d *Daemon) exchanged(address string, r *ntp.Response, err error) {
	if err == nil && r != nil && r.Validate() == nil {
		now := d.opt.Now()
		d.mu.Lock()
		d.lastSample[address] = sampleInfo{at: now, offset: r.ClockOffset, delay: r.RTT}
		d.mu.Unlock()
		d.rec.AddSample(address, now, r.ClockOffset.Seconds(), r.RTT.Seconds())
	}
	// The wake watch looks at the clocks at a round's first answer, not at
	// each of its answers, which come within milliseconds of each other:
	// at the first, so that a resume it finds can allow its step before
	// the round's update (made at the last answer).
	if d.wakeLooks != nil {
		if d.lookDue() {
			d.lookForWake()
		} else {
			d.armWake() // in case the look just taken found a poll near
		}
	}
	// The status is refreshed (and an event sent to every watcher, each
	// a wake-up of the tray and of an open status window) once a round of
	// polls is over, not after each of its answers.
	d.mu.Lock()
	lp := d.lp
	d.mu.Unlock()
	if lp != nil && lp.RoundOpen() {
		return
	}
	d.refresh()
	if d.opt.Settled != nil && lp != nil && !d.settled.Load() && lp.Settled() && d.settled.CompareAndSwap(false, true) {
		go d.opt.Settled()
	}
}

// refresh records a new clock update in the history, hands the NTP
// server (when serving) our synchronization, and publishes the status if
// it changed. While nobody watches and nothing is served, the status is
// not built at all: only the way to build it is kept, for the first
// watcher to come (control.Hub.PublishLazy).
func (d *Daemon) refresh() {
	d.refreshMu.Lock()
	defer d.refreshMu.Unlock()
	d.mu.Lock()
	lp := d.lp
	d.mu.Unlock()
	var n int
	var last time.Time
	var off time.Duration
	var freqPPM float64
	if lp != nil {
		n, last, off, freqPPM = lp.Updates()
	}
	d.mu.Lock()
	newUpdate := n > d.updates
	if n < d.updates { // a new loop
		newUpdate = n > 0
	}
	d.updates = n
	d.mu.Unlock()
	if newUpdate {
		at := d.opt.Now()
		if !last.IsZero() {
			at = last.Round(0).UTC()
		}
		d.rec.AddUpdate(at, off.Seconds(), freqPPM)
	}
	fn := d.statusEvent
	watched := d.hub.Subscribers() > 0
	if srv := d.server(); srv != nil || watched {
		st := d.Status()
		if srv != nil {
			srv.SetSync(syncState(st, d.opt.Now()))
		}
		if watched {
			fn = func() (any, string) { return st, statusKey(st) }
		}
	}
	if _, err := d.hub.PublishLazy(control.EventStatus, fn); err != nil {
		d.log.Error("publishing the status", "err", err)
	}
}

// statusEvent is the status as the hub publishes it, built now. The hub
// calls it with its lock released (with it held only for a watcher who
// came while values were published faster than it could build them):
// Status takes none of the locks held by those who publish (refreshMu,
// the hub's own).
func (d *Daemon) statusEvent() (any, string) {
	st := d.Status()
	return st, statusKey(st)
}

// statusKey is the status without what changes by itself with time
// (ages, the growing error bound): events are sent only when the rest
// changes.
func statusKey(st control.Status) string {
	st.RootDistanceSeconds = 0
	st.Server = nil // counters move with every packet served
	st.Sources = slices.Clone(st.Sources)
	for i := range st.Sources {
		st.Sources[i].LastSampleSeconds = nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%+v", st)
	if st.LastSync != nil {
		b.WriteString(st.LastSync.String())
	}
	if st.PendingStepSeconds != nil {
		b.WriteString(strconv.FormatFloat(*st.PendingStepSeconds, 'g', -1, 64))
	}
	return b.String()
}

// History implements control.Backend.
func (d *Daemon) History(from, to time.Time, maxPoints int) control.History {
	return d.rec.Query(from, to, maxPoints)
}

// SyncToken implements control.TokenSyncer: where a privileged parent
// holds the clock, confirming a step needs the token it gave
// administrators.
func (d *Daemon) SyncToken(confirm bool, token string) (control.SyncResult, error) {
	if sc, ok := d.priv.(StepConfirmer); ok && confirm {
		if err := sc.ConfirmStep(token); err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return control.SyncResult{}, fmt.Errorf("%w: permission denied: confirming a step needs the confirmation token that the service's privileged part keeps for root and the control group (timesync sync --confirm reads it): %w", control.ErrForbidden, err)
			}
			return control.SyncResult{}, err
		}
	}
	return d.Sync(confirm)
}

// Sync implements control.Backend.
func (d *Daemon) Sync(confirm bool) (control.SyncResult, error) {
	d.mu.Lock()
	lp := d.lp
	d.mu.Unlock()
	if lp == nil {
		return control.SyncResult{}, fmt.Errorf("%w: no time server is configured or resolvable; add one with 'timesync servers add'", control.ErrConflict)
	}
	var res control.SyncResult
	if confirm {
		if err := lp.ConfirmStep(); err != nil {
			return control.SyncResult{}, fmt.Errorf("%w: %w", control.ErrConflict, err)
		}
		res.Confirmed = true
	}
	lp.SyncNow()
	res.Burst = true
	d.refresh()
	return res, nil
}

// ---- conflicts and wake ----

func (d *Daemon) watchConflicts() {
	look := func() {
		cs := d.opt.Conflicts(d.ctx)
		d.mu.Lock()
		changed := !slices.Equal(cs, d.conflicts)
		d.conflicts = cs
		d.mu.Unlock()
		if changed {
			for _, c := range cs {
				d.log.Warn("another time service is active", "service", c.Name, "pid", c.PID, "what", c.Line)
			}
			d.refresh()
		}
	}
	look()
	t := time.NewTicker(d.opt.ConflictInterval)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
			look()
		}
	}
}

// watchWake answers a resume from sleep or a clock changed behind our
// back with a burst and by allowing one step.
func (d *Daemon) watchWake() {
	w := wake.NewWatcher()
	steps := d.clk.Steps()
	w.Run(d.ctx, d.wakeLooks, d.opt.WakeRead, func(e wake.Event) {
		if e.Kind == wake.ClockJumped {
			if n := d.clk.Steps(); n != steps {
				steps = n // our own step
				return
			}
		}
		d.log.Warn("re-measuring: "+e.String(), "event", e.Kind)
		d.mu.Lock()
		lp := d.lp
		d.mu.Unlock()
		if lp != nil {
			allowStep(lp)
			lp.SyncNow()
		}
	})
}

// lookDue reports whether an exchange that just ended should have the
// wake watch look: unless a look was taken less than lookSpacing ago (by
// an answer of the same round). Each look reads a clock with a system
// call. A due look is claimed here, under the lock, so that two answers
// of one round ending at the same instant do not both look.
func (d *Daemon) lookDue() bool {
	d.wakeMu.Lock()
	defer d.wakeMu.Unlock()
	now := time.Now()
	if !d.lastLook.IsZero() && now.Sub(d.lastLook) < d.lookSpacing() {
		return false
	}
	d.lastLook = now
	return true
}

// lookSpacing separates one round's answers from the next round's: half
// the burst interval (the shortest time between rounds), at most 1 s.
func (d *Daemon) lookSpacing() time.Duration {
	if d.opt.BurstInterval <= 0 {
		return time.Second
	}
	return min(d.opt.BurstInterval/2, time.Second)
}

// lookForWake has the wake watch look at the clocks now. It is called at
// the first answer of every round of exchanges (lookDue), and by the wake
// timer, which armWake keeps running only while no poll is due within
// WakeInterval: while polls come more often, the watch rides on the
// wake-ups they cause anyway. (A timer pushed back at every exchange, as
// before, still woke the idle process once per interval: the runtime
// wakes for a timer when it was first due, however often it was moved
// since.)
func (d *Daemon) lookForWake() {
	if d.ctx.Err() != nil {
		return // stopped: the timer is not armed again
	}
	now := time.Now()
	d.wakeMu.Lock()
	d.lastLook = now
	d.wakeMu.Unlock()
	select {
	case d.wakeLooks <- now:
	default: // a look is pending already
	}
	d.armWake()
}

// wakeFired is the wake timer's function.
func (d *Daemon) wakeFired() {
	d.wakeMu.Lock()
	d.wakeArmed = false
	d.wakeMu.Unlock()
	d.lookForWake()
}

// armWake starts the wake timer unless a poll is due within WakeInterval
// (whose answer will look) or the timer runs already.
func (d *Daemon) armWake() {
	if d.wakeLooks == nil || d.ctx.Err() != nil {
		return
	}
	d.mu.Lock()
	lp := d.lp
	d.mu.Unlock()
	if lp != nil {
		if in, ok := lp.NextPollIn(); ok && in <= d.opt.WakeInterval {
			return
		}
	}
	d.wakeMu.Lock()
	defer d.wakeMu.Unlock()
	switch {
	case d.ctx.Err() != nil: // stopped meanwhile (Stop stops the timer under wakeMu)
		return
	case d.wakeArmed:
	default:
		// A kernel timer on Linux: platform/timer_linux.go.
		d.wakeStop = platform.RealTimers{}.AfterFunc(d.opt.WakeInterval, d.wakeFired)
	}
	d.wakeArmed = true
}

// allowStep lets the loop's next correction step, once.
func allowStep(lp *loop.Loop) { lp.AllowStep() }
