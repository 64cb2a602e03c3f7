package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/timesync/timesync/internal/strictjson"
	"github.com/timesync/timesync/service/config"
)

// Backend is what the service offers the API. The daemon implements it;
// every change goes through Modify, the configuration's one door.
type Backend interface {
	// Status returns a snapshot.
	Status() Status
	// History returns what was recorded between from and to, at most
	// about maxPoints points a series.
	History(from, to time.Time, maxPoints int) History
	// Config returns the configuration in force.
	Config() ConfigInfo
	// Modify applies fn to a copy of the configuration, validates the
	// result as a whole, applies it to the running service and saves it.
	// An invalid result is rejected whole (wrapping ErrConflict or a
	// config sentinel error) and changes nothing.
	Modify(fn func(*config.Config) error) (ConfigInfo, error)
	// Sync starts a burst to every server; with confirm it first allows
	// the correction held past the panic threshold.
	Sync(confirm bool) (SyncResult, error)
	// ControlGroup is the group whose members may change settings.
	ControlGroup() string
}

// Sentinel errors a Backend wraps to choose the status code.
var (
	// ErrConflict: the request is well formed but conflicts with the
	// configuration or the state (409).
	ErrConflict = errors.New("conflict")
	// ErrBadRequest: the request itself is wrong (400).
	ErrBadRequest = errors.New("bad request")
	// ErrForbidden: the caller lacks what the change needs (403).
	ErrForbidden = errors.New("forbidden")
)

// TokenSyncer is implemented by a Backend whose step confirmations need
// the confirmation token (privilege separation): the token comes from
// the request's ConfirmTokenHeader.
type TokenSyncer interface {
	SyncToken(confirm bool, token string) (SyncResult, error)
}

// ConfirmTokenHeader carries the confirmation token with POST /v1/sync.
const ConfirmTokenHeader = "Timesync-Confirm-Token"

// MaxBodyBytes bounds a request body; larger ones get 413.
const MaxBodyBytes = 1 << 20

// drainBytes is how much of an oversized body is read and discarded
// before answering 413, so that an ordinary client that is still sending
// sees the answer rather than a broken pipe. Beyond it the connection is
// closed.
const drainBytes = 16 << 20

// Server serves the control API.
type Server struct {
	b   Backend
	hub *Hub
	log *slog.Logger
	hs  *http.Server
	mux map[string][]route // path → routes for it
	// now is the wall clock for history ranges (tests inject it).
	now func() time.Time
	// identify finds a connection's peer (peerOf; tests inject one).
	identify func(net.Conn) (*Peer, error)
	// watchWriteTimeout bounds one write to a watch stream.
	watchWriteTimeout time.Duration
}

// WatchWriteTimeout is how long a watch stream may take to accept one
// write before it is closed (a client that stopped reading).
const WatchWriteTimeout = 10 * time.Second

// Options configures a Server.
type Options struct {
	Backend Backend
	// Hub carries the events /v1/watch streams (required).
	Hub *Hub
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// NewServer returns a server for b.
func NewServer(opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &Server{b: opt.Backend, hub: opt.Hub, log: opt.Logger, now: opt.Now, mux: map[string][]route{}, identify: peerOf, watchWriteTimeout: WatchWriteTimeout}
	for _, r := range routes {
		s.mux[r.path] = append(s.mux[r.path], r)
	}
	s.hs = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(opt.Logger.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, peerKey{}, &connPeer{conn: c, identify: s.identify})
		},
	}
	return s
}

type peerKey struct{}

// Serve accepts connections on ln until Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	err := s.hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, ends every watch stream and waits for the
// requests in progress until ctx is done; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.hub.closeAll()
	err := s.hs.Shutdown(ctx)
	if err != nil {
		s.hs.Close()
	}
	return err
}

// httpError is an error with its status code.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, a ...any) error {
	return &httpError{code, fmt.Sprintf(format, a...)}
}

// ServeHTTP finds the route, checks the peer's permission and runs the
// handler; every failure is answered as {"error": "…"}, with "field"
// when a *config.FieldError in it names the member of the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	err := s.serve(w, r)
	if err == nil {
		return
	}
	code := statusOf(err)
	if code >= 500 {
		s.log.Error("control API", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Debug("control API", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	}
	// ErrConflict and ErrForbidden only pick the status code; their
	// words are no news to the reader ("conflict: nothing to confirm" reads as the reason code
	// of that name).
	msg := strings.TrimPrefix(err.Error(), ErrConflict.Error()+": ")
	body := ErrorBody{Error: strings.TrimPrefix(msg, ErrForbidden.Error()+": ")}
	if fe := (*config.FieldError)(nil); errors.As(err, &fe) {
		body.Field = fe.Field
	}
	writeJSON(w, code, body)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) error {
	rs, ok := s.mux[r.URL.Path]
	if !ok {
		return errorf(http.StatusNotFound, "no such endpoint %s (the API's paths start with /v1/; see 'timesync help')", r.URL.Path)
	}
	i := slices.IndexFunc(rs, func(rt route) bool { return rt.method == r.Method })
	if i < 0 {
		var allow []string
		for _, rt := range rs {
			allow = append(allow, rt.method)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return errorf(http.StatusMethodNotAllowed, "%s does not accept %s (allowed: %s)", r.URL.Path, r.Method, strings.Join(allow, ", "))
	}
	rt := rs[i]
	switch perms[rt.method+" "+rt.path] {
	case permRead:
	case permWrite:
		cp, _ := r.Context().Value(peerKey{}).(*connPeer)
		if cp == nil {
			return errorf(http.StatusForbidden, "permission denied: the caller cannot be identified")
		}
		p, err := cp.get()
		if err != nil {
			return errorf(http.StatusForbidden, "permission denied: the caller cannot be identified (%v)", err)
		}
		group := s.b.ControlGroup()
		if !p.mayWrite(group) {
			who := "root"
			if group != "" {
				who += " or members of group " + strconv.Quote(group)
			}
			return errorf(http.StatusForbidden, "permission denied: only %s may change settings (you are %s); try again with sudo", who, p)
		}
		s.log.Info("control API change", "method", r.Method, "path", r.URL.Path, "peer", p.String(), "pid", p.PID)
	default:
		// Not in the permission table: nobody may use it.
		return errorf(http.StatusForbidden, "permission denied: %s %s has no permission entry", r.Method, r.URL.Path)
	}
	return rt.handle(s, w, r)
}

// statusOf maps an error to its HTTP status.
func statusOf(err error) int {
	var he *httpError
	var pe *config.ParseError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.code
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, config.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrConflict), errors.Is(err, config.ErrDuplicate), errors.Is(err, config.ErrAmbiguous), errors.As(err, &pe):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// decode reads r's body into v strictly: at most MaxBodyBytes; unknown
// fields, keys in another case than the field's, keys given twice and
// anything after the value are errors. An empty body is
// allowed only if emptyOK.
func decode(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) error {
	if r.ContentLength > MaxBodyBytes {
		io.CopyN(io.Discard, r.Body, drainBytes)
		return errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is larger than the limit of %d bytes", r.ContentLength, MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			io.CopyN(io.Discard, r.Body, drainBytes)
			return errorf(http.StatusRequestEntityTooLarge, "request body is larger than the limit of %d bytes", MaxBodyBytes)
		}
		return errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil
		}
		return errorf(http.StatusBadRequest, "the request needs a JSON body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "malformed JSON body: %s", jsonErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf(http.StatusBadRequest, "malformed JSON body: unexpected data after the JSON value")
	}
	// encoding/json matches keys whatever their case, keeps the last of
	// a key given twice and takes null for an empty request: none of it
	// is what the client meant to send.
	if err := strictjson.Check(body, v, false); err != nil {
		return errorf(http.StatusBadRequest, "malformed JSON body: %v", err)
	}
	return nil
}

// jsonErr words a decoding error for people.
func jsonErr(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%v (at byte %d)", se, se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q: %s is not a %s", te.Field, te.Value, te.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON value is cut short"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// noBody refuses a body on a request that takes none.
func noBody(w http.ResponseWriter, r *http.Request) error {
	var v struct{}
	return decode(w, r, &v, true)
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.b.Status())
	return nil
}

func (s *Server) getSources(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Sources []Source `json:"sources"`
	}{s.b.Status().Sources})
	return nil
}

// noQuery refuses query parameters on routes that take none.
func noQuery(r *http.Request) error {
	if r.URL.RawQuery != "" {
		return errorf(http.StatusBadRequest, "%s takes no query parameters", r.URL.Path)
	}
	return nil
}

// History query limits.
const (
	defaultHistoryRange  = 24 * time.Hour
	defaultHistoryPoints = 1000
	maxHistoryPoints     = 20000
)

// getHistory: ?from=RFC3339&to=RFC3339 or ?range=DURATION (default 24h
// back from now), &points=N (default 1000).
func (s *Server) getHistory(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k := range q {
		if k != "from" && k != "to" && k != "range" && k != "points" {
			return errorf(http.StatusBadRequest, "unknown query parameter %q (use from, to, range, points)", k)
		}
	}
	to := s.now()
	if v := q.Get("to"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return errorf(http.StatusBadRequest, "to: %q is not an RFC 3339 time", v)
		}
		to = t
	}
	from := to.Add(-defaultHistoryRange)
	if v := q.Get("range"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return errorf(http.StatusBadRequest, "range: %q is not a positive duration such as 24h", v)
		}
		from = to.Add(-d)
	}
	if v := q.Get("from"); v != "" {
		if q.Get("range") != "" {
			return errorf(http.StatusBadRequest, "give from or range, not both")
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return errorf(http.StatusBadRequest, "from: %q is not an RFC 3339 time", v)
		}
		from = t
	}
	if !from.Before(to) {
		return errorf(http.StatusBadRequest, "from must be before to")
	}
	points := defaultHistoryPoints
	if v := q.Get("points"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxHistoryPoints {
			return errorf(http.StatusBadRequest, "points: %q is not a number from 1 to %d", v, maxHistoryPoints)
		}
		points = n
	}
	writeJSON(w, http.StatusOK, s.b.History(from, to, points))
	return nil
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.b.Config())
	return nil
}

// putConfig replaces the whole configuration.
func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) error {
	var c config.Config
	if err := decode(w, r, &c, false); err != nil {
		return err
	}
	admin := false
	if cp, _ := r.Context().Value(peerKey{}).(*connPeer); cp != nil {
		if p, err := cp.get(); err == nil {
			admin = p.Admin
		}
	}
	info, err := s.b.Modify(func(old *config.Config) error {
		// The drift file is a path the privileged service writes, and
		// the control group decides who may write: a member of the group
		// who is not an administrator may change neither.
		if !admin && (c.DriftFile != old.DriftFile || c.ControlGroup != old.ControlGroup) {
			return errorf(http.StatusForbidden, "permission denied: only root (an administrator) may change the drift file or the control group")
		}
		c.KeepLayout(old)
		*old = *c.Clone()
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (s *Server) getServers(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	c := s.b.Config().Config
	writeJSON(w, http.StatusOK, Servers{Servers: nonNil(c.Servers), Pools: nonNil(c.Pools)})
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) postServers(w http.ResponseWriter, r *http.Request) error {
	var req ServerAdd
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	if (req.Server == nil) == (req.Pool == nil) {
		return errorf(http.StatusBadRequest, `give exactly one of "server" and "pool"`)
	}
	info, err := s.b.Modify(func(c *config.Config) error {
		if req.Server != nil {
			return asBadInput(config.InField("server", c.AddServer(*req.Server)))
		}
		return asBadInput(config.InField("pool", c.AddPool(*req.Pool)))
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Servers{Servers: nonNil(info.Config.Servers), Pools: nonNil(info.Config.Pools)})
	return nil
}

func (s *Server) deleteServers(w http.ResponseWriter, r *http.Request) error {
	var req ServerRemove
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	if (req.Address == "") == (req.Pool == "") {
		return errorf(http.StatusBadRequest, `give exactly one of "address" and "pool"`)
	}
	info, err := s.b.Modify(func(c *config.Config) error {
		if req.Address != "" {
			return asBadInput(c.RemoveServer(req.Address))
		}
		return asBadInput(c.RemovePool(req.Pool))
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Servers{Servers: nonNil(info.Config.Servers), Pools: nonNil(info.Config.Pools)})
	return nil
}

// asBadInput marks an editing error that is not about the present
// configuration (not a duplicate, missing or ambiguous entry) as the
// request's fault.
func asBadInput(err error) error {
	if err == nil || errors.Is(err, config.ErrDuplicate) || errors.Is(err, config.ErrNotFound) || errors.Is(err, config.ErrAmbiguous) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrBadRequest, err)
}

// RestrictView lists c's rules as GET /v1/restrict answers.
func RestrictView(c *config.Config) Restrict {
	v := Restrict{Rules: []Rule{}, Serving: len(c.Listen) > 0}
	for _, r := range c.Restrict {
		v.Rules = append(v.Rules, Rule{Text: r.String(), Restrict: r})
	}
	def := c.RestrictFor(netip.Addr{}) // an invalid address gets the default rule
	v.Default = Rule{Text: def.String(), Restrict: def}
	return v
}

func (s *Server) getRestrict(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, RestrictView(s.b.Config().Config))
	return nil
}

func (s *Server) postRestrict(w http.ResponseWriter, r *http.Request) error {
	var rule config.Restrict
	if err := decode(w, r, &rule, false); err != nil {
		return err
	}
	info, err := s.b.Modify(func(c *config.Config) error { return asBadInput(c.SetRestrict(rule)) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, RestrictView(info.Config))
	return nil
}

func (s *Server) deleteRestrict(w http.ResponseWriter, r *http.Request) error {
	var req RestrictRemove
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	rule, err := config.ParseRestrict(strings.Fields(req.Target)...)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	info, err := s.b.Modify(func(c *config.Config) error { return c.RemoveRestrict(rule) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, RestrictView(info.Config))
	return nil
}

func (s *Server) postSync(w http.ResponseWriter, r *http.Request) error {
	var req SyncRequest
	if err := decode(w, r, &req, true); err != nil {
		return err
	}
	var res SyncResult
	var err error
	if ts, ok := s.b.(TokenSyncer); ok {
		res, err = ts.SyncToken(req.Confirm, r.Header.Get(ConfirmTokenHeader))
	} else {
		res, err = s.b.Sync(req.Confirm)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
