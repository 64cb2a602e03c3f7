package privsep

// engine.go: the unprivileged side. Remote is the engine's Privileged
// (service.Privileged): every clock change and privileged write becomes
// a request to the parent. Requests are sent one at a time.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/timesync/timesync/platform"
	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/discipline"
)

// Remote talks to the parent: requests on conn, replies on rep (conn
// itself unless DialSplit gave another).
type Remote struct {
	mu     sync.Mutex
	conn   *net.UnixConn
	rep    *net.UnixConn
	id     uint64
	hello  Hello
	token  string // an administrator's confirmation, until a step uses it
	lost   func(error)
	lostMu sync.Once
}

// Dial greets the parent over conn (the engine's end of the socketpair);
// lost is called once if the parent goes away (the engine should then
// stop: a parent that died or closed the connection is not coming back).
func Dial(conn *net.UnixConn, lost func(error)) (*Remote, error) {
	return DialSplit(conn, conn, lost)
}

// DialSplit is Dial for a parent that answers on a socket of its own,
// replies (Parent.ServeSplit).
func DialSplit(conn, replies *net.UnixConn, lost func(error)) (*Remote, error) {
	r := &Remote{conn: conn, rep: replies, lost: lost}
	if err := r.call(OpHello, nil, &r.hello); err != nil {
		return nil, err
	}
	if r.hello.Version != Version {
		return nil, fmt.Errorf("privileged parent speaks protocol %d, this engine %d", r.hello.Version, Version)
	}
	return r, nil
}

// Hello reports what the parent said at the start.
func (r *Remote) Hello() Hello { return r.hello }

// call sends one request and waits for its reply; out receives the
// result. The parent's refusals are *RefusedError.
func (r *Remote) call(op string, a, out any) error {
	_, err := r.callFD(op, a, out)
	return err
}

func (r *Remote) callFD(op string, a, out any) (*os.File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.id++
	req := Request{V: Version, ID: r.id, Op: op}
	if a != nil {
		b, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		req.Args = b
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if err := writeFrame(quiet(r.conn), body); err != nil {
		return nil, r.fail(err)
	}
	body, files, err := readFrameFDs(r.rep)
	if err != nil {
		return nil, r.fail(err)
	}
	var rep Reply
	if err := json.Unmarshal(body, &rep); err != nil || rep.ID != req.ID {
		closeAll(files)
		if err == nil {
			err = fmt.Errorf("reply %d to request %d", rep.ID, req.ID)
		}
		return nil, r.fail(fmt.Errorf("privileged parent: bad reply: %w", err))
	}
	if !rep.OK {
		closeAll(files)
		return nil, &RefusedError{Op: op, Code: rep.Code, Msg: rep.Error}
	}
	if out != nil && len(rep.Result) > 0 {
		if err := json.Unmarshal(rep.Result, out); err != nil {
			closeAll(files)
			return nil, fmt.Errorf("privileged parent: reply to %s: %w", op, err)
		}
	}
	var f *os.File
	if len(files) > 0 {
		f = files[0]
		closeAll(files[1:])
	}
	return f, nil
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// fail reports a broken connection to the parent once.
func (r *Remote) fail(err error) error {
	err = fmt.Errorf("lost the privileged parent: %w", err)
	if r.lost != nil {
		r.lostMu.Do(func() { go r.lost(err) })
	}
	return err
}

// Driver returns the clock driver that asks the parent.
func (r *Remote) Driver() platform.Driver {
	d := &remoteDriver{r: r, mono: monotonicNS}
	if r.hello.SyncStatus {
		return syncDriver{d}
	}
	return d
}

// SaveConfig sends c's text; the parent parses and validates it again
// and saves it atomically at its own path (path must be that path).
func (r *Remote) SaveConfig(path string, c *config.Config) error {
	if path != r.hello.ConfigPath {
		return fmt.Errorf("the privileged parent saves only %s, not %s", r.hello.ConfigPath, path)
	}
	return mapRefusal(r.call(OpSaveConfig, ConfigText{Text: string(c.Format())}, nil))
}

// LoadConfig returns the configuration the parent holds.
func (r *Remote) LoadConfig(path string) (*config.Config, error) {
	if path != r.hello.ConfigPath {
		return nil, fmt.Errorf("the privileged parent holds only %s, not %s", r.hello.ConfigPath, path)
	}
	var t ConfigText
	if err := r.call(OpLoadConfig, nil, &t); err != nil {
		return nil, err
	}
	return config.Parse(path, strings.NewReader(t.Text))
}

// SaveDrift asks the parent to write the drift file (its own path).
func (r *Remote) SaveDrift(_ string, d discipline.Drift) error {
	return mapRefusal(r.call(OpSaveDrift, DriftArgs{FrequencyPPM: d.FrequencyPPM, SkewPPM: d.SkewPPM}, nil))
}

// LoadDrift asks the parent for the drift file's contents.
func (r *Remote) LoadDrift(_ string) (discipline.Drift, error) {
	var a DriftArgs
	if err := r.call(OpLoadDrift, nil, &a); err != nil {
		return discipline.Drift{}, mapRefusal(err)
	}
	return discipline.Drift{FrequencyPPM: a.FrequencyPPM, SkewPPM: a.SkewPPM}, nil
}

// ConfirmStep checks an administrator's confirmation token with the
// parent and keeps it for the step it allows.
func (r *Remote) ConfirmStep(token string) error {
	if err := r.call(OpCheckToken, TokenArgs{Token: token}, nil); err != nil {
		return mapRefusal(err)
	}
	r.mu.Lock()
	r.token = token
	r.mu.Unlock()
	return nil
}

// ListenUDP asks the parent for a socket bound to laddr (serve.Options.ListenUDP).
func (r *Remote) ListenUDP(network string, laddr *net.UDPAddr) (*net.UDPConn, error) {
	f, err := r.callFD(OpListenUDP, ListenArgs{Network: network, Address: laddr.AddrPort().String()}, nil)
	if err != nil {
		return nil, mapRefusal(err)
	}
	if f == nil {
		return nil, errors.New("privileged parent sent no socket")
	}
	defer f.Close()
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, err
	}
	u, ok := c.(*net.UDPConn)
	if !ok {
		c.Close()
		return nil, errors.New("privileged parent sent something other than a UDP socket")
	}
	return u, nil
}

// Close does nothing: the parent keeps the clock and gives it back when
// it stops.
func (r *Remote) Close() error { return nil }

// mapRefusal turns the parent's refusals into the errors callers test for.
func mapRefusal(err error) error {
	var re *RefusedError
	if !errors.As(err, &re) {
		return err
	}
	switch re.Code {
	case CodeRange:
		return fmt.Errorf("%w: %w", platform.ErrOutOfRange, err)
	case CodePermission:
		return fmt.Errorf("%w: %w", fs.ErrPermission, err)
	case CodeUnsupported:
		return fmt.Errorf("%w: %w", platform.ErrUnsupported, err)
	case CodeNotExist:
		return fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return err
}

// remoteDriver is platform.Driver over the parent.
type remoteDriver struct {
	r *Remote
	// applied is when the parent made the last frequency change this
	// driver asked for (SetFrequencyResult), 0 when unknown.
	applied int64
	// mono reads the clock of those stamps (monotonicNS; tests fake it).
	mono func() (int64, bool)
}

// setFrequency sends a frequency change and keeps the parent's stamp of
// when it was made.
func (d *remoteDriver) setFrequency(a FrequencyArgs) error {
	d.applied = 0
	var res SetFrequencyResult
	if err := d.r.call(OpSetFrequency, a, &res); err != nil {
		return mapRefusal(err)
	}
	d.applied = res.AppliedMonoNS
	return nil
}

// SinceChange implements platform.ChangeStamper.
func (d *remoteDriver) SinceChange() (time.Duration, bool) {
	if d.applied == 0 {
		return 0, false
	}
	now, ok := d.mono()
	if !ok || now < d.applied {
		return 0, false
	}
	return time.Duration(now - d.applied), true
}

func (d *remoteDriver) Name() string          { return d.r.hello.Driver + " (via the privileged parent)" }
func (d *remoteDriver) MaxFrequency() float64 { return d.r.hello.MaxFrequency }

func (d *remoteDriver) Frequency() (float64, error) {
	var f FrequencyResult
	err := d.r.call(OpFrequency, nil, &f)
	return f.PPM, mapRefusal(err)
}

func (d *remoteDriver) SetFrequency(ppm float64) error {
	return d.setFrequency(FrequencyArgs{PPM: ppm})
}

// SetFrequencyBase implements platform.BaseFrequencySetter.
func (d *remoteDriver) SetFrequencyBase(ppm, basePPM float64) error {
	return d.setFrequency(FrequencyArgs{PPM: ppm, BasePPM: &basePPM})
}

// SetFrequencyUntil implements platform.TimedFrequencySetter: the parent
// ends the slew. A status goes with it only from a driver that reports
// one (syncDriver).
func (d *remoteDriver) SetFrequencyUntil(ppm, basePPM float64, dur time.Duration, st *platform.SyncStatus) error {
	ns := int64(dur)
	a := FrequencyArgs{PPM: ppm, BasePPM: &basePPM, EndInNS: &ns}
	if st != nil && d.r.hello.SyncStatus {
		sa := syncArgs(*st)
		a.Sync = &sa
	}
	return d.setFrequency(a)
}

func (d *remoteDriver) Step(offset time.Duration) error {
	d.r.mu.Lock()
	tok := d.r.token
	d.r.mu.Unlock()
	// The token stays: the parent replaces it once it allowed a step
	// with it, so it never serves twice.
	err := d.r.call(OpStep, StepArgs{OffsetNS: int64(offset), Token: tok}, nil)
	return mapRefusal(err)
}

type syncDriver struct{ *remoteDriver }

func (d syncDriver) SetSyncStatus(synced bool, maxError, estError time.Duration) error {
	return mapRefusal(d.r.call(OpSetSyncStatus, syncArgs(platform.SyncStatus{Synced: synced, MaxError: maxError, EstError: estError}), nil))
}

// SetFrequencyBaseStatus implements platform.StatusFrequencySetter: the
// status rides on the frequency's request.
func (d syncDriver) SetFrequencyBaseStatus(ppm, basePPM float64, st platform.SyncStatus) error {
	a := syncArgs(st)
	return d.setFrequency(FrequencyArgs{PPM: ppm, BasePPM: &basePPM, Sync: &a})
}

func syncArgs(st platform.SyncStatus) SyncStatusArgs {
	return SyncStatusArgs{Synced: st.Synced, MaxErrorNS: int64(st.MaxError), EstErrorNS: int64(st.EstError)}
}
