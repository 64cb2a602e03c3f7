// Package client is the Go client of the control API (service/control):
// the CLI's status, sources, servers, restrict and sync commands and the
// tray app use it. It speaks HTTP + JSON over the local socket or pipe,
// turns error answers into *Error values (IsAccessDenied, IsNotFound,
// IsConflict, IsBadRequest), and a service that is not there into an
// error for which IsNotRunning reports true, with a hint for the user.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/control/socket"
)

// Hint is appended to the error when the service cannot be reached.
const Hint = "is the timesync service running? try 'timesync service status'"

// DefaultTimeout bounds a request whose context has no deadline (not
// Watch).
const DefaultTimeout = 10 * time.Second

// Error is an error answer of the service.
type Error struct {
	// Status is the HTTP status (400, 403, 404, 405, 409, 413, 500).
	Status int
	// Message is the service's words.
	Message string
	// Field is the member of the request the error concerns
	// ("servers[1].minpoll", "server.address"; see control.ErrorBody),
	// "" when the service named none.
	Field string
}

// FieldOf returns the member of the request that the service's error
// err concerns, "" when it named none (or err is no answer of the
// service).
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

func (e *Error) Error() string { return e.Message }

// ErrNotRunning is wrapped by the error of any call when nothing listens
// at the socket.
var ErrNotRunning = errors.New("cannot reach the timesync service")

// IsNotRunning reports whether err means the service could not be
// reached at all.
func IsNotRunning(err error) bool { return errors.Is(err, ErrNotRunning) }

// IsAccessDenied reports whether the service refused the change because
// the caller may only read (403).
func IsAccessDenied(err error) bool { return statusIs(err, http.StatusForbidden) }

// IsNotFound reports a 404: no such entry (or endpoint).
func IsNotFound(err error) bool { return statusIs(err, http.StatusNotFound) }

// IsConflict reports a 409: the change conflicts with the configuration
// (a duplicate, an invalid result) or the state.
func IsConflict(err error) bool { return statusIs(err, http.StatusConflict) }

// IsBadRequest reports a 400: the request was malformed.
func IsBadRequest(err error) bool { return statusIs(err, http.StatusBadRequest) }

func statusIs(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == code
}

// Client talks to the service at one socket path.
type Client struct {
	path string
	hc   *http.Client
}

// New returns a client for the socket at path; "" means
// control.DefaultSocketPath() ($TIMESYNC_SOCKET, else the OS's path).
func New(path string) *Client {
	if path == "" {
		path = control.DefaultSocketPath()
	}
	c := &Client{path: path}
	c.hc = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return socket.Connect(ctx, path)
		},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}}
	return c
}

// Path reports the socket path.
func (c *Client) Path() string { return c.path }

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// do sends a request with body (nil: none) and decodes a 200 answer into
// out (nil: discarded).
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	return c.doHeader(ctx, method, path, nil, body, out)
}

func (c *Client) doHeader(ctx context.Context, method, path string, hdr http.Header, body, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	resp, err := c.sendHeader(ctx, method, path, hdr, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("reading the service's answer to %s %s: %w", method, path, err)
	}
	return nil
}

// send sends a request and returns a 200 response; any other status
// becomes an *Error.
func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	return c.sendHeader(ctx, method, path, nil, body)
}

func (c *Client) sendHeader(ctx context.Context, method, path string, hdr http.Header, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://timesync"+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, socket.ErrNotRunning) {
			return nil, fmt.Errorf("%w (nothing listens at %s); %s", ErrNotRunning, c.path, Hint)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		return nil, fmt.Errorf("talking to the timesync service at %s: %w; %s", c.path, unwrapURL(err), Hint)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	var eb control.ErrorBody
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
		eb.Error = fmt.Sprintf("the service answered %s", resp.Status)
	}
	return nil, &Error{Status: resp.StatusCode, Message: eb.Error, Field: eb.Field}
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Status returns the service's status.
func (c *Client) Status(ctx context.Context) (*control.Status, error) {
	var st control.Status
	return &st, c.do(ctx, "GET", "/v1/status", nil, &st)
}

// Sources returns the time sources' lines.
func (c *Client) Sources(ctx context.Context) ([]control.Source, error) {
	var v struct {
		Sources []control.Source `json:"sources"`
	}
	err := c.do(ctx, "GET", "/v1/sources", nil, &v)
	return v.Sources, err
}

// HistoryQuery selects a range of the history: From..To (zero To: now;
// zero From: To − Range, Range defaulting to 24 h) with at most about
// Points points a series (0: the service's default, 1000).
type HistoryQuery struct {
	From, To time.Time
	Range    time.Duration
	Points   int
}

// History returns the recorded offsets, frequencies and samples.
func (c *Client) History(ctx context.Context, q HistoryQuery) (*control.History, error) {
	v := url.Values{}
	if !q.From.IsZero() {
		v.Set("from", q.From.Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.Format(time.RFC3339))
	}
	if q.Range > 0 && q.From.IsZero() {
		v.Set("range", q.Range.String())
	}
	if q.Points > 0 {
		v.Set("points", strconv.Itoa(q.Points))
	}
	path := "/v1/history"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var h control.History
	return &h, c.do(ctx, "GET", path, nil, &h)
}

// Config returns the configuration in force.
func (c *Client) Config(ctx context.Context) (*control.ConfigInfo, error) {
	var ci control.ConfigInfo
	return &ci, c.do(ctx, "GET", "/v1/config", nil, &ci)
}

// SetConfig replaces the whole configuration (comments of the file are
// kept where the directives remain).
func (c *Client) SetConfig(ctx context.Context, cfg *config.Config) (*control.ConfigInfo, error) {
	var ci control.ConfigInfo
	return &ci, c.do(ctx, "PUT", "/v1/config", cfg, &ci)
}

// Servers lists the configured servers and pools.
func (c *Client) Servers(ctx context.Context) (*control.Servers, error) {
	var s control.Servers
	return &s, c.do(ctx, "GET", "/v1/servers", nil, &s)
}

// AddServer adds a server; the running service starts polling it.
func (c *Client) AddServer(ctx context.Context, s config.Server) (*control.Servers, error) {
	var out control.Servers
	return &out, c.do(ctx, "POST", "/v1/servers", control.ServerAdd{Server: &s}, &out)
}

// AddPool adds a pool.
func (c *Client) AddPool(ctx context.Context, p config.Pool) (*control.Servers, error) {
	var out control.Servers
	return &out, c.do(ctx, "POST", "/v1/servers", control.ServerAdd{Pool: &p}, &out)
}

// RemoveServer removes the server at "HOST[:PORT]".
func (c *Client) RemoveServer(ctx context.Context, address string) (*control.Servers, error) {
	var out control.Servers
	return &out, c.do(ctx, "DELETE", "/v1/servers", control.ServerRemove{Address: address}, &out)
}

// RemovePool removes the pool called name.
func (c *Client) RemovePool(ctx context.Context, name string) (*control.Servers, error) {
	var out control.Servers
	return &out, c.do(ctx, "DELETE", "/v1/servers", control.ServerRemove{Pool: name}, &out)
}

// Restrict lists the access rules.
func (c *Client) Restrict(ctx context.Context) (*control.Restrict, error) {
	var r control.Restrict
	return &r, c.do(ctx, "GET", "/v1/restrict", nil, &r)
}

// SetRestrict adds a rule or replaces the one for the same address.
func (c *Client) SetRestrict(ctx context.Context, r config.Restrict) (*control.Restrict, error) {
	var out control.Restrict
	return &out, c.do(ctx, "POST", "/v1/restrict", r, &out)
}

// RemoveRestrict removes the rule for target ("default", "ADDRESS",
// "ADDRESS/BITS" or "ADDRESS mask MASK").
func (c *Client) RemoveRestrict(ctx context.Context, target string) (*control.Restrict, error) {
	var out control.Restrict
	return &out, c.do(ctx, "DELETE", "/v1/restrict", control.RestrictRemove{Target: target}, &out)
}

// Sync asks for a burst of measurements now; with confirm, the
// correction held past the panic threshold is allowed first.
func (c *Client) Sync(ctx context.Context, confirm bool) (*control.SyncResult, error) {
	var r control.SyncResult
	var hdr http.Header
	if confirm {
		// Where the service is split in two, its privileged part allows
		// the step only with the token it keeps for administrators; a
		// caller who cannot read it is refused with an explanation.
		if tok, err := os.ReadFile(control.ConfirmTokenPath(c.path)); err == nil {
			hdr = http.Header{control.ConfirmTokenHeader: {strings.TrimSpace(string(tok))}}
		}
	}
	return &r, c.doHeader(ctx, "POST", "/v1/sync", hdr, control.SyncRequest{Confirm: confirm}, &r)
}

// maxEventBytes bounds one event's data.
const maxEventBytes = 4 << 20

// Watch follows the service's changes: f is called with each event
// ("status" with a control.Status, "config" with a control.ConfigInfo),
// first with the latest of each, then whenever something changes. It
// returns when ctx is done (nil), f returns an error (that error), or
// the stream ends (an error: the service stopped).
func (c *Client) Watch(ctx context.Context, f func(control.Event) error) error {
	resp, err := c.send(ctx, "GET", "/v1/watch", nil)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) && deadlinePassed(ctx) {
			// The caller ended the watch before it began. (The dialer
			// can fail on the deadline itself a moment before the
			// context's timer marks it done.)
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxEventBytes)
	var ev control.Event
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Kind != "" {
				ev.Data = data
				if err := f(ev); err != nil {
					return err
				}
			}
			ev, data = control.Event{}, nil
		case strings.HasPrefix(line, "id: "):
			ev.ID, _ = strconv.ParseUint(line[4:], 10, 64)
		case strings.HasPrefix(line, "event: "):
			ev.Kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, line[6:]...)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("watching the timesync service: %w", err)
	}
	return fmt.Errorf("the timesync service ended the watch (stopped?)")
}

// deadlinePassed reports whether ctx has a deadline and it has passed.
func deadlinePassed(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}
