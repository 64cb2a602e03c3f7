package privsep

// parent.go: the privileged side. It holds the clock driver, the
// configuration and drift file paths and the confirmation token, and
// answers the engine's requests after checking each one. It never reads
// the network and never parses anything but these frames and, before
// saving it, the configuration text.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/discipline"
	"github.com/timesync/timesync/service/discipline/driftfile"
)

// NTPPort is the only port below 1024 the parent binds for the engine.
const NTPPort = 123

// maxKernelError bounds set_sync_status's error estimates.
const maxKernelError = platform.MaxSyncError

// Parent answers the engine. Set the exported fields, call Init, then
// Serve each engine connection in turn.
type Parent struct {
	// Driver changes the clock (the null driver for a dry run).
	Driver platform.Driver
	// ConfigPath is the configuration file; Config what it held at start
	// (config.Default() when it was missing).
	ConfigPath string
	Config     *config.Config
	// DryRun: the drift file is never written (as in-process).
	DryRun bool
	// TokenPath is where the confirmation token is written for
	// administrators (mode 0640, group TokenGID when ≥ 0); "" means no
	// token: steps beyond the panic threshold are always refused.
	TokenPath string
	TokenGID  int
	// Logger receives every refusal (default slog.Default()).
	Logger *slog.Logger
	// ListenUDP binds a socket for the engine (default net.ListenUDP).
	ListenUDP func(network string, laddr *net.UDPAddr) (*net.UDPConn, error)
	// OnHello, if set, is called when an engine greets the parent (it is
	// up and talking).
	OnHello func()
	// FirstStepWindow bounds how long after the start the first step may
	// exceed the panic threshold without a token (ntpd -g; default 1 h).
	// The window also closes at the first step and once the engine
	// reports the clock synchronized.
	FirstStepWindow time.Duration
	// Now is the parent's clock for that window (default time.Now).
	Now func() time.Time
	// AfterFunc arms the timer that ends a slew the engine asked the
	// parent to end (FrequencyArgs.EndInNS); default
	// platform.RealTimers' (a kernel timer on Linux).
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Monotonic reads the clock the engine's Timers run on, in
	// nanoseconds (default: CLOCK_MONOTONIC on Linux, CLOCK_UPTIME_RAW on
	// macOS, none elsewhere): a frequency's reply says
	// when the driver made it (SetFrequencyResult).
	Monotonic func() (ns int64, ok bool)

	mu       sync.Mutex
	cfg      *config.Config
	panicAt  time.Duration // the step limit: only ever tightened at run time (0: none)
	base     *float64      // the engine's base frequency, when it slews
	endStop  func() bool   // stops the timer ending the engine's slew, if armed
	endGen   uint64        // which slew that timer ends
	token    string
	stepped  bool      // a step was made, or the clock was synchronized: no more unlimited first step
	started  time.Time // Init, for FirstStepWindow
	requests uint64
	refused  uint64
}

// Init writes the first confirmation token.
func (p *Parent) Init() error {
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	if p.ListenUDP == nil {
		p.ListenUDP = net.ListenUDP
	}
	if p.Config == nil {
		p.Config = config.Default()
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.AfterFunc == nil {
		p.AfterFunc = platform.RealTimers{}.AfterFunc
	}
	if p.Monotonic == nil {
		p.Monotonic = monotonicNS
	}
	if p.FirstStepWindow <= 0 {
		p.FirstStepWindow = time.Hour
	}
	p.started = p.Now()
	p.cfg = p.Config
	p.panicAt = p.Config.Effective().Tinker.Panic
	if p.TokenPath != "" {
		return p.rotateToken()
	}
	return nil
}

// EngineGone is called when the engine died: a slew it started and can
// no longer end is ended, leaving the clock at the disciplined base
// frequency it last reported.
func (p *Parent) EngineGone() {
	p.mu.Lock()
	base := p.base
	p.base = nil
	p.stopEndLocked()
	p.mu.Unlock()
	if base == nil {
		return
	}
	cur, err := p.Driver.Frequency()
	if err != nil || cur == *base {
		return
	}
	if err := p.Driver.SetFrequency(*base); err != nil {
		p.Logger.Error("ending the dead engine's slew", "err", err)
		return
	}
	p.Logger.Info("ended the dead engine's slew: the clock keeps the disciplined frequency", "ppm", *base, "was", cur)
}

// maxEndIn bounds the slews the parent ends (FrequencyArgs.EndInNS): the
// engine asks only for short, routine ones.
const maxEndIn = time.Hour

// stopEndLocked disarms the end of the engine's slew, if one is armed.
func (p *Parent) stopEndLocked() {
	p.endGen++
	if p.endStop != nil {
		p.endStop()
		p.endStop = nil
	}
}

// endSlew ends the engine's slew gen, setting its base frequency, unless
// a later request replaced it.
func (p *Parent) endSlew(gen uint64, base float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen != p.endGen {
		return
	}
	p.endStop = nil
	if err := p.Driver.SetFrequency(base); err != nil {
		p.Logger.Error("ending the engine's slew", "err", err)
	}
}

// Counts reports how many requests were answered and how many refused.
func (p *Parent) Counts() (requests, refused uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests, p.refused
}

// RemoveToken removes the token file (at exit).
func (p *Parent) RemoveToken() {
	if p.TokenPath != "" {
		os.Remove(p.TokenPath)
	}
}

// rotateToken makes a new token and writes it where administrators (and
// the control group) can read it. Called with p.mu held or before Serve.
// The first time (before Serve) any file in its place is removed and the
// token created afresh, so that nobody else's file is ever written to;
// later it is rewritten in place (the parent may no longer hold
// CAP_CHOWN to set its group again), only if it is still root's.
func (p *Parent) rotateToken() error {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	tok := hex.EncodeToString(b[:])
	mode := fs.FileMode(0o600)
	if p.TokenGID >= 0 {
		mode = 0o640
	}
	flags := os.O_WRONLY | os.O_TRUNC | syscallNoFollow
	if p.token == "" {
		if err := os.Remove(p.TokenPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("confirmation token: %w", err)
		}
		flags |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(p.TokenPath, flags, mode)
	if err != nil {
		return fmt.Errorf("confirmation token: %w", err)
	}
	fail := func(err error) error {
		f.Close()
		return fmt.Errorf("confirmation token: %w", err)
	}
	if owner, ok := fileOwner(f); ok && owner != uint32(os.Geteuid()) {
		return fail(fmt.Errorf("%s belongs to uid %d, not to this process", p.TokenPath, owner))
	}
	if p.token == "" {
		if p.TokenGID >= 0 {
			if err := f.Chown(os.Geteuid(), p.TokenGID); err != nil {
				return fail(fmt.Errorf("giving %s to the control group: %w", p.TokenPath, err))
			}
		}
		if err := f.Chmod(mode); err != nil {
			return fail(err)
		}
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("confirmation token: %w", err)
	}
	p.token = tok
	return nil
}

// tokenOK reports whether tok is the current token (constant time).
func (p *Parent) tokenOK(tok string) bool {
	return p.token != "" && len(tok) == len(p.token) && subtle.ConstantTimeCompare([]byte(tok), []byte(p.token)) == 1
}

// Serve answers requests on conn until it is closed or fails; the
// replies go back on conn.
func (p *Parent) Serve(conn *net.UnixConn) error {
	return p.serve(conn, func(body []byte, fd *os.File) error {
		if fd != nil {
			return writeFrameFD(conn, body, fd)
		}
		return writeFrame(quiet(conn), body)
	})
}

// ServeSplit answers requests read from conn with replies written to
// replies, the parent's end of a second socket to the engine, a
// descriptor kept out of the runtime's poller (rawio.WriteFD; ServeSplit
// makes it non-blocking). The runtime would register it for writing as
// well as reading, and then wake the parent's poller each time the
// engine reads a reply; one socket both ways cost the idle service a
// wake-up of the parent for nothing after every request. An engine that
// leaves a socket's worth of replies unread for a second fails the
// protocol: ServeSplit returns an error. The caller closes replies after
// ServeSplit returns.
func (p *Parent) ServeSplit(conn *net.UnixConn, replies int) error {
	if err := setNonblock(replies); err != nil {
		return fmt.Errorf("the replies' socket: %w", err)
	}
	return p.serve(conn, func(body []byte, fd *os.File) error {
		var rights []int
		if fd != nil {
			rights = []int{int(fd.Fd())}
		}
		return writeFrameRaw(replies, body, rights)
	})
}

func (p *Parent) serve(conn *net.UnixConn, reply func(body []byte, fd *os.File) error) error {
	// A frame comes in one write: read through a buffer, its length and
	// body take one system call, not two.
	in := bufio.NewReaderSize(quiet(conn), 4096)
	for {
		body, err := readFrame(in)
		var rep Reply
		var fd *os.File
		switch {
		case errors.Is(err, ErrTooLarge):
			rep = p.refuse(Request{}, CodeTooLarge, fmt.Sprintf("a frame larger than %d bytes", MaxFrame))
		case err != nil:
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) {
				return nil
			}
			return err
		default:
			rep, fd = p.Handle(body)
		}
		out, err := encodeReply(rep)
		if err != nil {
			return err
		}
		err = reply(out, fd)
		if fd != nil {
			fd.Close()
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
				return nil // the engine is gone
			}
			return err
		}
	}
}

// Handle answers one request frame. A returned file is sent with the
// reply (and then closed by the caller).
func (p *Parent) Handle(body []byte) (Reply, *os.File) {
	var req Request
	if len(body) == 0 {
		return p.refuse(req, CodeMalformed, "an empty frame"), nil
	}
	if r, ok := fastRequest(body); ok {
		req = r
	} else if err := decodeStrict(body, &req); err != nil {
		return p.refuse(req, CodeMalformed, "not a request: "+err.Error()), nil
	}
	if req.V != Version {
		return p.refuse(req, CodeVersion, fmt.Sprintf("protocol version %d; this parent speaks %d", req.V, Version)), nil
	}
	p.mu.Lock()
	p.requests++
	p.mu.Unlock()
	res, fd, err := p.do(req)
	if err != nil {
		var r *RefusedError
		if errors.As(err, &r) {
			return p.refuse(req, r.Code, r.Msg), nil
		}
		return p.refuse(req, CodeFailed, err.Error()), nil
	}
	rep := Reply{ID: req.ID, OK: true}
	// Result is only ever written by these two (appendReply copies it as
	// it is).
	if r, ok := res.(SetFrequencyResult); ok {
		rep.Result = appendSetFrequencyResult(nil, r)
	} else if res != nil {
		b, err := json.Marshal(res)
		if err != nil {
			return p.refuse(req, CodeFailed, err.Error()), nil
		}
		rep.Result = b
	}
	return rep, fd
}

func (p *Parent) refuse(req Request, code, msg string) Reply {
	p.mu.Lock()
	p.refused++
	p.mu.Unlock()
	op := clip(req.Op)
	if len(msg) > 512 {
		msg = msg[:512] + "…" // a configuration's errors can be long
	}
	level := slog.LevelWarn
	if code == CodeNotExist {
		level = slog.LevelDebug // no drift file yet: an answer, not a refusal
	}
	p.Logger.Log(context.Background(), level, "privileged parent refused a request from the engine", "op", op, "id", req.ID, "code", code, "why", msg)
	return Reply{ID: req.ID, Error: msg, Code: code}
}

func refusedf(code, format string, a ...any) error {
	return &RefusedError{Code: code, Msg: fmt.Sprintf(format, a...)}
}

// args decodes req's arguments strictly into v.
func args(req Request, v any) error {
	if err := decodeStrict(req.Args, v); err != nil {
		return refusedf(CodeMalformed, "arguments of %s: %v", req.Op, err)
	}
	return nil
}

func (p *Parent) do(req Request) (any, *os.File, error) {
	switch req.Op {
	case OpHello:
		if err := args(req, &struct{}{}); err != nil {
			return nil, nil, err
		}
		if p.OnHello != nil {
			p.OnHello()
		}
		_, sync := p.Driver.(platform.SyncStatusReporter)
		return Hello{Version: Version, Driver: p.Driver.Name(), MaxFrequency: p.Driver.MaxFrequency(),
			SyncStatus: sync, DryRun: p.DryRun, ConfigPath: p.ConfigPath, ConfirmTokens: p.TokenPath != ""}, nil, nil

	case OpFrequency:
		if err := args(req, &struct{}{}); err != nil {
			return nil, nil, err
		}
		ppm, err := p.Driver.Frequency()
		if err != nil {
			return nil, nil, err
		}
		return FrequencyResult{PPM: ppm}, nil, nil

	case OpSetFrequency:
		a, ok := fastFrequencyArgs(req.Args)
		if !ok {
			a = FrequencyArgs{} // nothing of the scanner's attempt
			if err := args(req, &a); err != nil {
				return nil, nil, err
			}
		}
		max := p.Driver.MaxFrequency()
		if math.IsNaN(a.PPM) || math.Abs(a.PPM) > max {
			return nil, nil, refusedf(CodeRange, "frequency %v ppm is beyond ±%v ppm", a.PPM, max)
		}
		if a.BasePPM != nil && (math.IsNaN(*a.BasePPM) || math.Abs(*a.BasePPM) > max) {
			return nil, nil, refusedf(CodeRange, "base frequency %v ppm is beyond ±%v ppm", *a.BasePPM, max)
		}
		if a.EndInNS != nil && (a.BasePPM == nil || *a.EndInNS <= 0 || *a.EndInNS > int64(maxEndIn)) {
			return nil, nil, refusedf(CodeRange, "a slew's end needs a base frequency and a time within (0, %v]", maxEndIn)
		}
		if a.Sync != nil {
			if err := p.checkSyncStatus(*a.Sync); err != nil {
				return nil, nil, err
			}
		}
		p.mu.Lock()
		// Whatever this request sets replaces the slew the parent was
		// to end.
		p.stopEndLocked()
		p.mu.Unlock()
		before, ok1 := p.Monotonic()
		if err := driverErr(p.Driver.SetFrequency(a.PPM)); err != nil {
			return nil, nil, err
		}
		after, ok2 := p.Monotonic()
		var res SetFrequencyResult
		if ok1 && ok2 && after >= before {
			res.AppliedMonoNS = before + (after-before)/2
		}
		p.mu.Lock()
		p.base = a.BasePPM
		if a.EndInNS != nil {
			p.endGen++
			gen, base := p.endGen, *a.BasePPM
			// The end is due EndInNS after the change, not after this
			// line: the engine's history has it there.
			in := time.Duration(*a.EndInNS)
			if now, ok := p.Monotonic(); ok && res.AppliedMonoNS != 0 {
				in -= time.Duration(now - res.AppliedMonoNS)
			}
			if in < 0 {
				in = 0
			}
			p.endStop = p.AfterFunc(in, func() { p.endSlew(gen, base) })
		}
		p.mu.Unlock()
		if a.Sync != nil {
			// The frequency is set: the answer must say so. The status
			// comes again with the next update.
			if err := p.setSyncStatus(*a.Sync); err != nil {
				p.Logger.Error("reporting the sync status with a frequency", "err", err)
			}
		}
		return res, nil, nil

	case OpStep:
		var a StepArgs
		if err := args(req, &a); err != nil {
			return nil, nil, err
		}
		return nil, nil, p.step(a)

	case OpSetSyncStatus:
		var a SyncStatusArgs
		if err := args(req, &a); err != nil {
			return nil, nil, err
		}
		if err := p.checkSyncStatus(a); err != nil {
			return nil, nil, err
		}
		return nil, nil, p.setSyncStatus(a)

	case OpLoadDrift:
		if err := args(req, &struct{}{}); err != nil {
			return nil, nil, err
		}
		path := p.driftPath()
		if path == "" {
			return nil, nil, refusedf(CodeNotExist, "no drift file is configured")
		}
		d, err := driftfile.Read(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, refusedf(CodeNotExist, "%v", err)
		}
		if err != nil {
			return nil, nil, err
		}
		return DriftArgs{FrequencyPPM: d.FrequencyPPM, SkewPPM: d.SkewPPM}, nil, nil

	case OpSaveDrift:
		var a DriftArgs
		if err := args(req, &a); err != nil {
			return nil, nil, err
		}
		if p.DryRun {
			return nil, nil, refusedf(CodePermission, "a dry run never writes the drift file")
		}
		path := p.driftPath()
		if path == "" {
			return nil, nil, refusedf(CodePermission, "no drift file is configured")
		}
		max := p.Driver.MaxFrequency()
		if !finite(a.FrequencyPPM) || !finite(a.SkewPPM) || math.Abs(a.FrequencyPPM) > max || a.SkewPPM < 0 || a.SkewPPM > max {
			return nil, nil, refusedf(CodeRange, "drift %v ppm (skew %v ppm) is beyond ±%v ppm", a.FrequencyPPM, a.SkewPPM, max)
		}
		return nil, nil, driftfile.File{Path: path}.Save(discipline.Drift{FrequencyPPM: a.FrequencyPPM, SkewPPM: a.SkewPPM})

	case OpLoadConfig:
		if err := args(req, &struct{}{}); err != nil {
			return nil, nil, err
		}
		p.mu.Lock()
		text := string(p.cfg.Format())
		p.mu.Unlock()
		return ConfigText{Text: text}, nil, nil

	case OpSaveConfig:
		var a ConfigText
		if err := args(req, &a); err != nil {
			return nil, nil, err
		}
		return nil, nil, p.saveConfig(a.Text)

	case OpCheckToken:
		var a TokenArgs
		if err := args(req, &a); err != nil {
			return nil, nil, err
		}
		p.mu.Lock()
		ok := p.tokenOK(a.Token)
		p.mu.Unlock()
		if !ok {
			return nil, nil, refusedf(CodePermission, "wrong or missing confirmation token (it is in %s, readable by root and the control group)", p.TokenPath)
		}
		return nil, nil, nil

	case OpListenUDP:
		var a ListenArgs
		if err := args(req, &a); err != nil {
			return nil, nil, err
		}
		f, err := p.listen(a)
		return nil, f, err
	}
	return nil, nil, refusedf(CodeUnknown, "no such operation %q", clip(req.Op))
}

// step checks a step against the panic threshold (as read from the file
// at start, or tighter if a saved configuration lowered it): a larger one
// needs the current confirmation token (which is then replaced), except
// the first step since the parent started, if it comes before the clock
// was reported synchronized and within FirstStepWindow (ntpd -g: a machine
// whose RTC lost the time must not wait for an administrator; an engine
// taken over later must not have that step).
// checkSyncStatus refuses a sync status the kernel would not take, or one
// this driver cannot report.
func (p *Parent) checkSyncStatus(a SyncStatusArgs) error {
	if a.MaxErrorNS < 0 || a.EstErrorNS < 0 || a.MaxErrorNS > int64(maxKernelError) || a.EstErrorNS > int64(maxKernelError) {
		return refusedf(CodeRange, "error estimates %v and %v must lie within 0 and %v", time.Duration(a.MaxErrorNS), time.Duration(a.EstErrorNS), maxKernelError)
	}
	if _, ok := p.Driver.(platform.SyncStatusReporter); !ok {
		return refusedf(CodeUnsupported, "the %s driver cannot report a sync status", p.Driver.Name())
	}
	return nil
}

// setSyncStatus reports a sync status checked by checkSyncStatus.
func (p *Parent) setSyncStatus(a SyncStatusArgs) error {
	r := p.Driver.(platform.SyncStatusReporter)
	if err := driverErr(r.SetSyncStatus(a.Synced, time.Duration(a.MaxErrorNS), time.Duration(a.EstErrorNS))); err != nil {
		return err
	}
	if a.Synced {
		p.mu.Lock()
		p.stepped = true // synchronized: the first correction is long made
		p.mu.Unlock()
	}
	return nil
}

func (p *Parent) step(a StepArgs) error {
	off := time.Duration(a.OffsetNS)
	abs := off
	if abs < 0 {
		abs = -abs
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	panicAt := p.panicAt
	confirmed := false
	first := !p.stepped && p.Now().Sub(p.started) < p.FirstStepWindow
	if panicAt > 0 && (abs > panicAt || abs < 0) && !first {
		if !p.tokenOK(a.Token) {
			return refusedf(CodePermission, "a step of %v is beyond the panic threshold of %v and carries no valid confirmation token", off, panicAt)
		}
		confirmed = true
	}
	if err := driverErr(p.Driver.Step(off)); err != nil {
		return err
	}
	p.stepped = true
	if confirmed {
		p.Logger.Warn("stepped the clock beyond the panic threshold, as confirmed by an administrator", "offset", off)
		if err := p.rotateToken(); err != nil {
			p.Logger.Error("replacing the confirmation token", "err", err)
			p.token = "" // never accepted twice
		}
	}
	return nil
}

// saveConfig parses text again, refuses what only a root edit of the
// file may change, and saves it atomically.
func (p *Parent) saveConfig(text string) error {
	if len(text) > MaxConfigText {
		return refusedf(CodeTooLarge, "a configuration of %d bytes (at most %d)", len(text), MaxConfigText)
	}
	c, err := config.Parse(p.ConfigPath, strings.NewReader(text))
	if err != nil {
		return refusedf(CodeInvalid, "%v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.DriftFile != p.cfg.DriftFile {
		return refusedf(CodePermission, "the drift file can be changed only by editing %s as root and restarting the service", p.ConfigPath)
	}
	if c.ControlGroup != p.cfg.ControlGroup {
		return refusedf(CodePermission, "the control group can be changed only by editing %s as root and restarting the service", p.ConfigPath)
	}
	if err := config.Save(p.ConfigPath, c); err != nil {
		return err
	}
	p.cfg = c
	// The engine may tighten the step limit, never loosen it: a higher
	// panic threshold (or none) saved through it takes effect when the
	// parent next reads the file, at its restart.
	if np := c.Effective().Tinker.Panic; np > 0 && (p.panicAt == 0 || np < p.panicAt) {
		p.panicAt = np
	}
	return nil
}

// listen binds a UDP socket named by a listen line of the configuration
// in force. Ports below 1024 other than NTP's are never bound.
func (p *Parent) listen(a ListenArgs) (*os.File, error) {
	if a.Network != "udp4" && a.Network != "udp6" && a.Network != "udp" {
		return nil, refusedf(CodeRange, "network %q (want udp4 or udp6)", clip(a.Network))
	}
	ap, err := netip.ParseAddrPort(a.Address)
	if err != nil {
		return nil, refusedf(CodeMalformed, "address %q: %v", clip(a.Address), err)
	}
	if ap.Port() < 1024 && ap.Port() != NTPPort {
		return nil, refusedf(CodePermission, "port %d: only NTP's port %d is bound below 1024", ap.Port(), NTPPort)
	}
	p.mu.Lock()
	listen := p.cfg.Effective().Listen
	p.mu.Unlock()
	if !slices.ContainsFunc(listen, func(l string) bool { return sameListen(l, ap) }) {
		return nil, refusedf(CodePermission, "%s is not a listen address of the configuration", ap)
	}
	c, err := p.ListenUDP(a.Network, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	f, err := c.File()
	if err != nil {
		return nil, err
	}
	return f, nil
}

// sameListen reports whether the listen line l names ap.
func sameListen(l string, ap netip.AddrPort) bool {
	lp, err := netip.ParseAddrPort(l)
	if err != nil {
		return false
	}
	return lp.Port() == ap.Port() && lp.Addr().Unmap() == ap.Addr().Unmap() && lp.Addr().Zone() == ap.Addr().Zone()
}

func (p *Parent) driftPath() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.DriftFile
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// driverErr keeps a driver's refusal recognisable across the socket.
func driverErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, platform.ErrOutOfRange):
		return refusedf(CodeRange, "%v", err)
	case errors.Is(err, platform.ErrPermission):
		return refusedf(CodePermission, "%v", err)
	case errors.Is(err, platform.ErrUnsupported):
		return refusedf(CodeUnsupported, "%v", err)
	}
	return err
}
