//go:build unix

package privsep

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/timesync/timesync/internal/syncbuf"
	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/discipline"
)

type fixture struct {
	p       *Parent
	drv     *platform.Null
	log     *syncbuf.Buffer
	dir     string
	cfgPath string
	conn    *net.UnixConn // the engine's end, for raw frames
	rep     *net.UnixConn // the engine's end of the replies' socket (split), else conn
	// The parent's ends (split): the requests' socket, in the runtime's
	// poller, and the replies' descriptor, which must never be.
	parentConn *net.UnixConn
	parentRep  int
	port       int // the listen line's
	served     chan error
}

const testConfig = `# the test's configuration
server 127.0.0.11:12300 iburst
tinker panic 10
listen 127.0.0.1:%PORT%
driftfile %DIR%/drift
`

// newFixture starts a Parent serving one end of a socketpair.
func newFixture(t *testing.T) *fixture { return startFixture(t, false) }

// newSplitFixture starts a Parent answering on a second socketpair
// (ServeSplit), as the supervisor runs it.
func newSplitFixture(t *testing.T) *fixture { return startFixture(t, true) }

func startFixture(t *testing.T, split bool) *fixture {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "timesync.conf")
	port := freeUDPPort(t)
	text := strings.NewReplacer("%DIR%", dir, "%PORT%", strconv.Itoa(port)).Replace(testConfig)
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{port: port, drv: platform.NewNull(0), log: &syncbuf.Buffer{}, dir: dir, cfgPath: cfgPath, served: make(chan error, 1)}
	f.p = &Parent{
		Driver: f.drv, ConfigPath: cfgPath, Config: cfg,
		TokenPath: filepath.Join(dir, "confirm-token"), TokenGID: -1,
		Logger: slog.New(slog.NewTextHandler(f.log, nil)),
	}
	if err := f.p.Init(); err != nil {
		t.Fatal(err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine := fileConn(t, fds[0])
	f.conn = fileConn(t, fds[1])
	f.rep = f.conn
	if split {
		rfds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.SetNonblock(rfds[0], true); err != nil {
			t.Fatal(err)
		}
		f.rep = fileConn(t, rfds[1])
		// A parent answering on the wrong socket fails the test rather
		// than hang it.
		f.rep.SetReadDeadline(time.Now().Add(time.Minute))
		f.parentConn, f.parentRep = mine, rfds[0]
		go func() {
			err := f.p.ServeSplit(mine, rfds[0])
			syscall.Close(rfds[0])
			f.served <- err
		}()
	} else {
		go func() { f.served <- f.p.Serve(mine) }()
	}
	t.Cleanup(func() {
		f.conn.Close()
		if f.rep != f.conn {
			f.rep.Close()
		}
		select {
		case err := <-f.served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after the engine's end closed")
		}
	})
	return f
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func fileConn(t *testing.T, fd int) *net.UnixConn {
	t.Helper()
	f := os.NewFile(uintptr(fd), "sp")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.UnixConn)
}

// raw sends one frame's bytes and reads the reply.
func (f *fixture) raw(t *testing.T, frame []byte) Reply {
	t.Helper()
	if _, err := f.conn.Write(frame); err != nil {
		t.Fatal(err)
	}
	body, files, err := readFrameFDs(f.conn)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	closeAll(files)
	var r Reply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("reply %q: %v", body, err)
	}
	return r
}

func frame(body string) []byte {
	b := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	copy(b[4:], body)
	return b
}

func (f *fixture) remote(t *testing.T) *Remote {
	t.Helper()
	r, err := DialSplit(f.conn, f.rep, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) token(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(f.p.TokenPath)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestParentRefusesBadMessages: malformed, oversized, out-of-range and
// unknown messages are each refused with their code and logged; the
// clock and the files are untouched; the parent goes on answering.
func TestParentRefusesBadMessages(t *testing.T) {
	f := newFixture(t)
	before, _ := os.ReadFile(f.cfgPath)
	huge := make([]byte, 4)
	binary.BigEndian.PutUint32(huge, MaxFrame+1)
	huge = append(huge, bytes.Repeat([]byte{'x'}, MaxFrame+1)...)
	bigText, _ := json.Marshal(Request{V: 1, ID: 9, Op: OpSaveConfig, Args: mustJSON(ConfigText{Text: strings.Repeat("# pad\n", MaxConfigText/6+1)})})
	cases := []struct {
		name  string
		frame []byte
		code  string
	}{
		{"not JSON", frame("\x00\x01garbage"), CodeMalformed},
		{"empty frame", frame(""), CodeMalformed},
		{"JSON but not an object", frame(`[1,2,3]`), CodeMalformed},
		{"unknown field", frame(`{"v":1,"id":1,"op":"frequency","evil":true}`), CodeMalformed},
		{"trailing data", frame(`{"v":1,"id":1,"op":"frequency"}{"v":1}`), CodeMalformed},
		{"wrong version", frame(`{"v":2,"id":1,"op":"set_frequency","args":{"ppm":1}}`), CodeVersion},
		{"unknown op", frame(`{"v":1,"id":1,"op":"exec","args":{"cmd":"/bin/sh"}}`), CodeUnknown},
		{"unknown argument", frame(`{"v":1,"id":1,"op":"set_frequency","args":{"ppm":1,"force":true}}`), CodeMalformed},
		{"argument of the wrong type", frame(`{"v":1,"id":1,"op":"set_frequency","args":{"ppm":"fast"}}`), CodeMalformed},
		{"oversized frame", huge, CodeTooLarge},
		{"config text too large", frame(string(bigText)), CodeTooLarge},
		{"frequency out of range", frame(`{"v":1,"id":1,"op":"set_frequency","args":{"ppm":1e5}}`), CodeRange},
		{"negative frequency out of range", frame(`{"v":1,"id":1,"op":"set_frequency","args":{"ppm":-1e9}}`), CodeRange},
		{"sync status error negative", frame(`{"v":1,"id":1,"op":"set_sync_status","args":{"synced":true,"max_error_ns":-1,"est_error_ns":0}}`), CodeRange},
		{"sync status error beyond 16 s", frame(`{"v":1,"id":1,"op":"set_sync_status","args":{"synced":true,"max_error_ns":17000000000,"est_error_ns":0}}`), CodeRange},
		{"drift out of range", frame(`{"v":1,"id":1,"op":"save_drift","args":{"frequency_ppm":1e6,"skew_ppm":0}}`), CodeRange},
		{"negative skew", frame(`{"v":1,"id":1,"op":"save_drift","args":{"frequency_ppm":1,"skew_ppm":-1}}`), CodeRange},
		{"invalid config", frame(`{"v":1,"id":1,"op":"save_config","args":{"text":"server\nbogus directive\n"}}`), CodeInvalid},
		{"config moving the drift file", frame(`{"v":1,"id":1,"op":"save_config","args":{"text":"driftfile /etc/shadow\n"}}`), CodePermission},
		{"config changing the control group", frame(`{"v":1,"id":1,"op":"save_config","args":{"text":"driftfile ` + f.dir + `/drift\ncontrol-group wheel\n"}}`), CodePermission},
		{"listen on a port not configured", frame(`{"v":1,"id":1,"op":"listen_udp","args":{"network":"udp4","address":"127.0.0.1:4444"}}`), CodePermission},
		{"listen on a privileged port other than 123", frame(`{"v":1,"id":1,"op":"listen_udp","args":{"network":"udp4","address":"127.0.0.1:53"}}`), CodePermission},
		{"listen on tcp", frame(`{"v":1,"id":1,"op":"listen_udp","args":{"network":"tcp","address":"127.0.0.1:0"}}`), CodeRange},
		{"wrong token", frame(`{"v":1,"id":1,"op":"check_token","args":{"token":"0000"}}`), CodePermission},
		{"duplicate key", frame(`{"v":1,"id":1,"op":"frequency","op":"step","args":{"offset_ns":0}}`), CodeMalformed},
		{"differently cased key", frame(`{"v":1,"id":1,"OP":"frequency"}`), CodeMalformed},
		{"missing op", frame(`{"v":1,"id":1}`), CodeMalformed},
		{"missing argument", frame(`{"v":1,"id":1,"op":"step","args":{}}`), CodeMalformed},
		{"missing arguments", frame(`{"v":1,"id":1,"op":"set_frequency"}`), CodeMalformed},
		{"duplicate argument", frame(`{"v":1,"id":1,"op":"set_frequency","args":{"ppm":1,"ppm":2}}`), CodeMalformed},
	}
	for _, c := range cases {
		r := f.raw(t, c.frame)
		if r.OK || r.Code != c.code {
			t.Errorf("%s: reply %+v, want refused with code %q", c.name, r, c.code)
		}
		if r.Error == "" {
			t.Errorf("%s: refused without a reason", c.name)
		}
	}
	// A first step beyond the panic threshold is allowed (ntpd -g), so
	// the clock's first step is made here; the next beyond it is refused.
	if r := f.raw(t, frame(`{"v":1,"id":2,"op":"step","args":{"offset_ns":20000000000}}`)); !r.OK {
		t.Fatalf("first step refused: %+v", r)
	}
	for _, off := range []string{"11000000000", "-11000000000", "-9223372036854775808"} {
		if r := f.raw(t, frame(`{"v":1,"id":3,"op":"step","args":{"offset_ns":`+off+`}}`)); r.OK || r.Code != CodePermission {
			t.Errorf("step %s ns without a token: %+v, want refused (permission)", off, r)
		}
	}
	if r := f.raw(t, frame(`{"v":1,"id":3,"op":"step","args":{"offset_ns":11000000000,"token":"not-it"}}`)); r.OK || r.Code != CodePermission {
		t.Errorf("step with a wrong token: %+v, want refused", r)
	}
	// Nothing but the first step reached the clock or the files.
	if got := f.drv.Actions(); len(got) != 1 || got[0].Kind != platform.ActionStep || got[0].Offset != 20*time.Second {
		t.Errorf("driver actions %v, want only the first step", got)
	}
	after, _ := os.ReadFile(f.cfgPath)
	if !bytes.Equal(before, after) {
		t.Errorf("configuration changed:\n%s", after)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "drift")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("drift file written: %v", err)
	}
	// Each refusal was logged, and the parent still answers.
	if n := strings.Count(f.log.String(), "refused a request"); n != len(cases)+4 {
		t.Errorf("%d refusals logged, want %d:\n%s", n, len(cases)+4, f.log.String())
	}
	if r := f.raw(t, frame(`{"v":1,"id":7,"op":"frequency"}`)); !r.OK || r.ID != 7 {
		t.Errorf("after the refusals, frequency: %+v", r)
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestRemoteRoundTrip: the engine's Privileged over a real socketpair,
// and over two (ServeSplit: the replies, a descriptor among them, on a
// socket of their own).
func TestRemoteRoundTrip(t *testing.T) {
	t.Run("one socket", func(t *testing.T) { testRemoteRoundTrip(t, newFixture(t)) })
	t.Run("split", func(t *testing.T) { testRemoteRoundTrip(t, newSplitFixture(t)) })
}

func testRemoteRoundTrip(t *testing.T, f *fixture) {
	r := f.remote(t)
	if h := r.Hello(); h.Driver != "null" || h.MaxFrequency != platform.DefaultMaxFrequencyPPM || !h.SyncStatus || h.ConfigPath != f.cfgPath {
		t.Errorf("hello %+v", h)
	}
	drv := r.Driver()
	if err := drv.SetFrequency(12.5); err != nil {
		t.Fatal(err)
	}
	if ppm, err := drv.Frequency(); err != nil || ppm != 12.5 {
		t.Errorf("Frequency() = %v, %v; want 12.5", ppm, err)
	}
	// A slew in progress when the engine dies is ended: the clock goes
	// back to the base the engine last reported.
	if err := drv.(platform.BaseFrequencySetter).SetFrequencyBase(512.5, 12.5); err != nil {
		t.Fatal(err)
	}
	f.p.EngineGone()
	if ppm, _ := f.drv.Frequency(); ppm != 12.5 {
		t.Errorf("after the engine died mid-slew, frequency %v ppm, want the base 12.5", ppm)
	}
	// A sync status can ride on a frequency (one request per update).
	before := len(f.drv.Actions())
	if err := drv.(platform.StatusFrequencySetter).SetFrequencyBaseStatus(13, 12.75, platform.SyncStatus{MaxError: 3 * time.Millisecond, EstError: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if acts := f.drv.Actions()[before:]; len(acts) != 2 || acts[0].Kind != platform.ActionFrequency || acts[0].FrequencyPPM != 13 ||
		acts[1].Kind != platform.ActionSyncStatus || acts[1].MaxError != 3*time.Millisecond || acts[1].EstError != time.Millisecond {
		t.Errorf("frequency with a status did %+v, want the frequency then the status", acts)
	}
	if err := drv.(platform.StatusFrequencySetter).SetFrequencyBaseStatus(13, 12.75, platform.SyncStatus{MaxError: -1}); !errors.Is(err, platform.ErrOutOfRange) {
		t.Errorf("frequency with a negative error bound = %v, want ErrOutOfRange", err)
	}
	if err := drv.SetFrequency(1e5); !errors.Is(err, platform.ErrOutOfRange) {
		t.Errorf("SetFrequency(1e5) = %v, want ErrOutOfRange", err)
	}
	// (Not synchronized yet: a synchronized report would close the first
	// step's window, which the steps below use.)
	if err := drv.(platform.SyncStatusReporter).SetSyncStatus(false, 0, 0); err != nil {
		t.Error(err)
	}
	if _, err := r.LoadDrift(""); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadDrift with no file = %v, want ErrNotExist", err)
	}
	elsewhere := filepath.Join(f.dir, "elsewhere")
	if err := r.SaveDrift(elsewhere, discipline.Drift{FrequencyPPM: 3.25, SkewPPM: 0.5}); err != nil {
		t.Fatal(err)
	}
	if d, err := r.LoadDrift(""); err != nil || d.FrequencyPPM != 3.25 {
		t.Errorf("LoadDrift = %+v, %v", d, err)
	}
	// The path the engine names is ignored: the parent's own is written.
	if _, err := os.Stat(elsewhere); err == nil {
		t.Error("the engine chose where the drift file went")
	}
	if _, err := os.Stat(filepath.Join(f.dir, "drift")); err != nil {
		t.Errorf("the configured drift file was not written: %v", err)
	}

	c, err := r.LoadConfig(f.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddServer(config.Server{Address: "127.0.0.12", Port: 12300}); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveConfig(f.cfgPath, c); err != nil {
		t.Fatal(err)
	}
	saved, _ := os.ReadFile(f.cfgPath)
	if !strings.Contains(string(saved), "server 127.0.0.12:12300") || !strings.Contains(string(saved), "# the test's configuration") {
		t.Errorf("saved configuration lost the change or its comment:\n%s", saved)
	}
	if err := r.SaveConfig("/etc/passwd", c); err == nil {
		t.Error("SaveConfig to another path succeeded")
	}

	// listen_udp hands over a bound socket for a configured listen line.
	u, err := r.ListenUDP("udp4", net.UDPAddrFromAddrPort(mustAddrPort("127.0.0.1:"+strconv.Itoa(f.port))))
	if err != nil {
		t.Fatal(err)
	}
	if la := u.LocalAddr().(*net.UDPAddr); !la.IP.IsLoopback() || la.Port != f.port {
		t.Errorf("socket bound to %v", la)
	}
	u.Close()
	if _, err := r.ListenUDP("udp4", net.UDPAddrFromAddrPort(mustAddrPort("127.0.0.1:4444"))); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("ListenUDP on an unconfigured port = %v, want a permission error", err)
	}

	// Steps: the first of any size, then within the panic threshold (10 s),
	// beyond it only with the token, which then changes.
	if err := drv.Step(30 * time.Second); err != nil {
		t.Fatalf("first step: %v", err)
	}
	if err := drv.Step(2 * time.Second); err != nil {
		t.Fatalf("step within panic: %v", err)
	}
	if err := drv.Step(-20 * time.Second); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("step beyond panic without confirmation = %v, want permission error", err)
	}
	if err := r.ConfirmStep("wrong"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("ConfirmStep(wrong) = %v", err)
	}
	tok := f.token(t)
	if err := r.ConfirmStep(tok); err != nil {
		t.Fatal(err)
	}
	if err := drv.Step(-20 * time.Second); err != nil {
		t.Fatalf("confirmed step: %v", err)
	}
	if tok2 := f.token(t); tok2 == tok || tok2 == "" {
		t.Error("the token did not change after it allowed a step")
	}
	if err := drv.Step(-20 * time.Second); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("a second step with the used token = %v, want refused", err)
	}
	if st, _ := os.Stat(f.p.TokenPath); st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", st.Mode().Perm())
	}
	// A configuration lifting the panic threshold is saved, but the
	// parent's limit stays until it reads the file again (its restart);
	// one lowering it applies at once.
	c, _ = r.LoadConfig(f.cfgPath)
	c.Tinker.Panic = 0
	if err := r.SaveConfig(f.cfgPath, c); err != nil {
		t.Fatal(err)
	}
	if err := drv.Step(20 * time.Second); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("step of 20 s after 'tinker panic 0' was saved = %v, want refused", err)
	}
	c.Tinker.Panic = time.Second
	if err := r.SaveConfig(f.cfgPath, c); err != nil {
		t.Fatal(err)
	}
	if err := drv.Step(2 * time.Second); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("step of 2 s after 'tinker panic 1' was saved = %v, want refused", err)
	}
	want := []time.Duration{30 * time.Second, 2 * time.Second, -20 * time.Second}
	if got := f.drv.Steps(); !equalDurations(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRemoteLost: the engine learns once that the parent went away.
func TestRemoteLost(t *testing.T) {
	f := newFixture(t)
	lost := make(chan error, 2)
	r, err := DialSplit(f.conn, f.rep, func(err error) { lost <- err })
	if err != nil {
		t.Fatal(err)
	}
	f.conn.CloseRead()
	if err := r.Driver().SetFrequency(1); err == nil {
		t.Fatal("a call after the connection broke succeeded")
	}
	select {
	case err := <-lost:
		if !strings.Contains(err.Error(), "lost the privileged parent") {
			t.Errorf("lost with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("lost was not called")
	}
}

// A file in the token's place is replaced, never written through.
func TestTokenFileReplaced(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "victim")
	os.WriteFile(target, []byte("keep\n"), 0o644)
	tokPath := filepath.Join(dir, "confirm-token")
	if err := os.Symlink(target, tokPath); err != nil {
		t.Fatal(err)
	}
	p := &Parent{Driver: platform.NewNull(0), ConfigPath: filepath.Join(dir, "c.conf"), TokenPath: tokPath, TokenGID: -1,
		Logger: slog.New(slog.DiscardHandler)}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep\n" {
		t.Errorf("the token was written through a symbolic link: %q", b)
	}
	if fi, err := os.Lstat(tokPath); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file %v %v, want a regular file, mode 0600", fi, err)
	}
}

// The unlimited first step is only for the start: it is gone once the
// engine reported the clock synchronized, and after FirstStepWindow.
func TestFirstStepWindowCloses(t *testing.T) {
	f := newFixture(t)
	r := f.remote(t)
	if err := r.Driver().(platform.SyncStatusReporter).SetSyncStatus(true, time.Millisecond, time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if err := r.Driver().Step(time.Hour); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("a first step of 1 h after the clock was synchronized = %v, want refused", err)
	}

	g := newFixture(t)
	now := time.Unix(1_000_000, 0)
	g.p.Now = func() time.Time { return now }
	g.p.started = now
	now = now.Add(g.p.FirstStepWindow + time.Second)
	if err := g.remote(t).Driver().Step(time.Hour); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("a first step of 1 h after the window = %v, want refused", err)
	}
	if len(f.drv.Steps())+len(g.drv.Steps()) != 0 {
		t.Errorf("steps made: %v %v", f.drv.Steps(), g.drv.Steps())
	}
}

func TestLookupUser(t *testing.T) {
	u, _, err := LookupUser("65534:65533")
	if err != nil || u.UID != 65534 || u.GID != 65533 {
		t.Errorf("LookupUser(65534:65533) = %+v, %v", u, err)
	}
	if _, _, err := LookupUser("0"); err == nil {
		t.Error("LookupUser(0) accepted root")
	}
	if _, _, err := LookupUser("root"); err == nil {
		t.Error("LookupUser(root) accepted root")
	}
	if _, _, err := LookupUser("no-such-user-here"); err == nil {
		t.Error("an unknown user was accepted")
	}
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// The parent ends a routine slew when the engine asks it to (one request
// per correction, and no wake of the engine for the end); a later change
// of the frequency replaces that end; the engine's death ends it at once.
func TestParentEndsTheEngineSlew(t *testing.T) {
	f := newFixture(t)
	type armed struct {
		d       time.Duration
		f       func()
		stopped bool
	}
	var mu sync.Mutex
	var timers []*armed
	f.p.AfterFunc = func(d time.Duration, fn func()) func() bool {
		mu.Lock()
		defer mu.Unlock()
		a := &armed{d: d, f: fn}
		timers = append(timers, a)
		return func() bool { mu.Lock(); defer mu.Unlock(); was := !a.stopped; a.stopped = true; return was }
	}
	// A stopped monotonic clock: the end is armed exactly EndInNS after
	// the change (TestFrequencyChangeStamped moves it).
	f.p.Monotonic = func() (int64, bool) { return 5e9, true }
	fire := func(i int) {
		mu.Lock()
		fn := timers[i].f
		mu.Unlock()
		fn()
	}
	// snapshot copies the timers armed so far (the parent arms them from
	// its serving goroutine).
	snapshot := func() []armed {
		mu.Lock()
		defer mu.Unlock()
		var out []armed
		for _, a := range timers {
			out = append(out, *a)
		}
		return out
	}
	r := f.remote(t)
	drv := r.Driver().(platform.TimedFrequencySetter)
	if err := drv.SetFrequencyUntil(112, 12, 1500*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	if ppm, _ := f.drv.Frequency(); ppm != 112 || len(snapshot()) != 1 || snapshot()[0].d != 1500*time.Millisecond {
		t.Fatalf("slew: driver at %v ppm, %d timers; want 112 ppm and one timer of 1.5 s", ppm, len(snapshot()))
	}
	fire(0)
	if ppm, _ := f.drv.Frequency(); ppm != 12 {
		t.Errorf("after the parent's end: %v ppm, want the base 12", ppm)
	}
	// With a status; then replaced before its end: the stale end does
	// nothing.
	before := len(f.drv.Actions())
	if err := drv.SetFrequencyUntil(112, 12, time.Second, &platform.SyncStatus{Synced: true, MaxError: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if acts := f.drv.Actions()[before:]; len(acts) != 2 || acts[1].Kind != platform.ActionSyncStatus || !acts[1].Synced {
		t.Errorf("slew with a status did %+v, want the frequency then the status", acts)
	}
	if err := drv.SetFrequencyBase(13, 13); err != nil {
		t.Fatal(err)
	}
	if !snapshot()[1].stopped {
		t.Error("a new frequency left the old slew's end armed")
	}
	fire(1)
	if ppm, _ := f.drv.Frequency(); ppm != 13 {
		t.Errorf("a replaced slew's end set %v ppm, want 13 kept", ppm)
	}
	for _, d := range []time.Duration{0, -time.Second, 2 * time.Hour} {
		if err := drv.SetFrequencyUntil(112, 12, d, nil); !errors.Is(err, platform.ErrOutOfRange) {
			t.Errorf("a slew ending after %v: %v, want ErrOutOfRange", d, err)
		}
	}
	// The engine dies mid-slew: the base at once, the timer disarmed.
	if err := drv.SetFrequencyUntil(212, 12, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	f.p.EngineGone()
	if ts := snapshot(); len(ts) == 0 || !ts[len(ts)-1].stopped {
		t.Errorf("after the engine died: timers %+v; want the last stopped", ts)
	} else if ppm, _ := f.drv.Frequency(); ppm != 12 {
		t.Errorf("after the engine died: %v ppm, want 12", ppm)
	}
}

// The parent stamps each change of the frequency with the monotonic
// clock, read around the driver's call; the engine's driver reports how
// long ago that was (platform.ChangeStamper), and the slew's end is armed
// from the change, not from when the parent got round to arming it.
func TestFrequencyChangeStamped(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var reads []int64 // what the parent's clock reads next, in order
	f.p.Monotonic = func() (int64, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(reads) == 0 {
			return 0, false
		}
		v := reads[0]
		reads = reads[1:]
		return v, true
	}
	setReads := func(v ...int64) {
		mu.Lock()
		defer mu.Unlock()
		reads = v
	}
	var armedFor time.Duration
	f.p.AfterFunc = func(d time.Duration, fn func()) func() bool {
		mu.Lock()
		defer mu.Unlock()
		armedFor = d
		return func() bool { return true }
	}
	r := f.remote(t)
	var drv *remoteDriver
	switch d := r.Driver().(type) {
	case syncDriver:
		drv = d.remoteDriver
	case *remoteDriver:
		drv = d
	}
	engineNow := int64(0)
	drv.mono = func() (int64, bool) { return engineNow, engineNow != 0 }

	// Before and after the driver's call: 10 and 14 ms; the end is armed
	// at 15 ms.
	setReads(10e6, 14e6, 15e6)
	if err := drv.SetFrequencyUntil(112, 12, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if drv.applied != 12e6 {
		t.Errorf("stamp %d ns, want 12e6 (halfway through the driver's call)", drv.applied)
	}
	mu.Lock()
	if armedFor != time.Second-3*time.Millisecond {
		t.Errorf("end armed for %v, want 997ms (1 s after the change, 3 ms of it gone)", armedFor)
	}
	mu.Unlock()
	engineNow = 20e6
	if ago, ok := drv.SinceChange(); !ok || ago != 8*time.Millisecond {
		t.Errorf("SinceChange = %v, %v; want 8ms, true", ago, ok)
	}
	// A status alone leaves the stamp of the last frequency.
	if err := (syncDriver{drv}).SetSyncStatus(true, time.Millisecond, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if ago, ok := drv.SinceChange(); !ok || ago != 8*time.Millisecond {
		t.Errorf("after a status: SinceChange = %v, %v; want 8ms, true", ago, ok)
	}
	// No clock in the parent: no stamp, and the engine must guess.
	setReads()
	if err := drv.SetFrequencyBase(13, 13); err != nil {
		t.Fatal(err)
	}
	if ago, ok := drv.SinceChange(); ok {
		t.Errorf("unstamped change: SinceChange = %v, true; want false", ago)
	}
	// A refused change clears the stamp too.
	setReads(16e6, 18e6)
	if err := drv.SetFrequency(14); err != nil {
		t.Fatal(err)
	}
	if ago, ok := drv.SinceChange(); !ok || ago != 3*time.Millisecond {
		t.Fatalf("SinceChange = %v, %v; want 3ms, true", ago, ok)
	}
	if err := drv.SetFrequency(1e9); err == nil {
		t.Fatal("1e9 ppm accepted")
	}
	if _, ok := drv.SinceChange(); ok {
		t.Error("a refused change left a stamp")
	}
	// A stamp from the future (another clock) is not believed.
	setReads(30e6, 32e6)
	if err := drv.SetFrequency(14); err != nil {
		t.Fatal(err)
	}
	if ago, ok := drv.SinceChange(); ok {
		t.Errorf("stamp after the engine's now: SinceChange = %v, true; want false", ago)
	}
}
