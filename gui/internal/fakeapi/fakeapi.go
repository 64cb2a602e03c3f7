// Package fakeapi is a control API for the GUI's tests and for trying
// the windows without a service: the real control.Server (its routes,
// strict decoding, validation answers and watch stream) over an
// in-memory Backend, behind a front that records every request and can
// refuse changes with the service's 403 or fail a route. It listens on a
// Unix socket of its own, so the GUI talks to it through the real
// client.
package fakeapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/control"
)

// Call is one request the fake received.
type Call struct {
	Method, Path string
	Query        string
	Body         string
}

func (c Call) String() string {
	s := c.Method + " " + c.Path
	if c.Body != "" {
		s += " " + c.Body
	}
	return s
}

// API is a running fake.
type API struct {
	// Socket is the path the client connects to.
	Socket string

	mu      sync.Mutex
	calls   []Call
	deny    string // non-empty: writes get 403 with this message
	fail    map[string]failure
	backend *Backend
	hub     *control.Hub
	srv     *control.Server
	front   *http.Server
	inner   net.Listener
	outer   net.Listener
}

type failure struct {
	code int
	msg  string
}

// Backend is the in-memory service behind the fake.
type Backend struct {
	mu       sync.Mutex
	status   control.Status
	cfg      *config.Config
	version  int
	rec      *control.Recorder
	hub      *control.Hub
	group    string
	syncs    []bool
	OnChange func()
}

// New starts a fake with cfg (nil: one server 192.0.2.1 iburst) and st,
// listening in dir (Unix socket paths are short: keep dir short); now is
// the service's wall clock for history ranges (nil: time.Now).
func New(dir string, st control.Status, cfg *config.Config, now func() time.Time) (*API, error) {
	if cfg == nil {
		cfg = &config.Config{Servers: []config.Server{{Address: "192.0.2.1", IBurst: true}}, Tinker: config.DefaultTinker()}
	}
	hub := control.NewHub()
	b := &Backend{status: st, cfg: cfg.Clone(), rec: control.NewRecorder(), hub: hub, group: "timesync"}
	a := &API{backend: b, hub: hub, fail: map[string]failure{}}
	a.srv = control.NewServer(control.Options{Backend: b, Hub: hub, Now: now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	b.publish()
	var err error
	innerPath := filepath.Join(dir, "i.sock")
	a.Socket = filepath.Join(dir, "c.sock")
	if a.inner, err = net.Listen("unix", innerPath); err != nil {
		return nil, err
	}
	go a.srv.Serve(a.inner)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "timesync"})
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", innerPath)
		}},
		FlushInterval: -1, // the watch stream is passed on at once
		ErrorLog:      nil,
	}
	a.front = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		a.mu.Lock()
		a.calls = append(a.calls, Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(bytes.TrimSpace(body))})
		deny := a.deny
		f, failing := a.fail[r.Method+" "+r.URL.Path]
		a.mu.Unlock()
		switch {
		case failing:
			writeErr(w, f.code, f.msg)
		case deny != "" && r.Method != http.MethodGet:
			writeErr(w, http.StatusForbidden, deny)
		default:
			proxy.ServeHTTP(w, r)
		}
	})}
	if a.outer, err = net.Listen("unix", a.Socket); err != nil {
		a.inner.Close()
		return nil, err
	}
	go a.front.Serve(a.outer)
	return a, nil
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"error\":%q}\n", msg)
}

// Close stops the fake (ending its watch streams) and removes its
// sockets.
func (a *API) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a.srv.Shutdown(ctx)
	a.front.Close()
	a.outer.Close()
	a.inner.Close()
	os.Remove(a.Socket)
}

// Backend returns the in-memory service.
func (a *API) Backend() *Backend { return a.backend }

// Calls returns the requests so far, in order.
func (a *API) Calls() []Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Call(nil), a.calls...)
}

// Writes returns the requests so far other than GETs.
func (a *API) Writes() []Call {
	var w []Call
	for _, c := range a.Calls() {
		if c.Method != http.MethodGet {
			w = append(w, c)
		}
	}
	return w
}

// ResetCalls forgets the requests so far.
func (a *API) ResetCalls() {
	a.mu.Lock()
	a.calls = nil
	a.mu.Unlock()
}

// DenyWrites makes every change answer 403 with the message the service
// gives an unprivileged user ("" to allow again).
func (a *API) DenyWrites(deny bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.deny = ""
	if deny {
		a.deny = `permission denied: only root or members of group "timesync" may change settings (you are uid 1000 (alice)); try again with sudo`
	}
}

// Fail makes "METHOD PATH" answer code with msg (code 0: stop failing).
func (a *API) Fail(route string, code int, msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if code == 0 {
		delete(a.fail, route)
		return
	}
	a.fail[route] = failure{code, msg}
}

// SetStatus replaces the status and publishes it to the watchers.
func (b *Backend) SetStatus(st control.Status) {
	b.mu.Lock()
	b.status = st
	b.mu.Unlock()
	b.publish()
}

// Recorder returns the history recorder (add points to it).
func (b *Backend) Recorder() *control.Recorder { return b.rec }

// Syncs returns the confirm flag of every POST /v1/sync so far.
func (b *Backend) Syncs() []bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]bool(nil), b.syncs...)
}

func (b *Backend) publish() {
	b.hub.Publish(control.EventStatus, b.Status(), "")
	b.hub.Publish(control.EventConfig, b.Config(), "")
}

// Status implements control.Backend.
func (b *Backend) Status() control.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status
}

// History implements control.Backend.
func (b *Backend) History(from, to time.Time, maxPoints int) control.History {
	return b.rec.Query(from, to, maxPoints)
}

// Config implements control.Backend.
func (b *Backend) Config() control.ConfigInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.info()
}

func (b *Backend) info() control.ConfigInfo {
	c := b.cfg.Clone()
	return control.ConfigInfo{Path: "/etc/timesync/timesync.conf", Config: c, Text: string(c.Format()), Version: b.version, Warnings: c.Warnings()}
}

// Modify implements control.Backend: fn on a copy, validated whole.
func (b *Backend) Modify(fn func(*config.Config) error) (control.ConfigInfo, error) {
	b.mu.Lock()
	c := b.cfg.Clone()
	if err := fn(c); err != nil {
		b.mu.Unlock()
		return control.ConfigInfo{}, err
	}
	if err := c.Validate(); err != nil {
		b.mu.Unlock()
		var pe *config.ParseError
		if errors.As(err, &pe) || errors.Is(err, config.ErrDuplicate) {
			return control.ConfigInfo{}, err
		}
		return control.ConfigInfo{}, fmt.Errorf("%w: %w", control.ErrConflict, err)
	}
	b.cfg = c
	b.version++
	info := b.info()
	b.mu.Unlock()
	b.publish()
	if b.OnChange != nil {
		b.OnChange()
	}
	return info, nil
}

// Sync implements control.Backend.
func (b *Backend) Sync(confirm bool) (control.SyncResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.syncs = append(b.syncs, confirm)
	res := control.SyncResult{Burst: true}
	if confirm && b.status.PendingStepSeconds != nil {
		res.Confirmed = true
	}
	return res, nil
}

// ControlGroup implements control.Backend.
func (b *Backend) ControlGroup() string { return b.group }
