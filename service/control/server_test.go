package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/control/socket"
)

func TestEveryRouteHasAPermission(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range routes {
		key := r.method + " " + r.path
		if seen[key] {
			t.Errorf("route %s listed twice", key)
		}
		seen[key] = true
		if p := perms[key]; p != permRead && p != permWrite {
			t.Errorf("route %s has no permission entry", key)
		}
	}
	for key := range perms {
		if !seen[key] {
			t.Errorf("permission entry %s has no route", key)
		}
	}
	// Every change is a write.
	for _, r := range routes {
		if r.method != "GET" && perms[r.method+" "+r.path] != permWrite {
			t.Errorf("%s %s changes something but is not permWrite", r.method, r.path)
		}
	}
}

// fakeBackend is a Backend over a Config in memory.
type fakeBackend struct {
	mu      sync.Mutex
	cfg     *config.Config
	version int
	syncs   int
	group   string
}

func (f *fakeBackend) Status() Status { return Status{State: "synchronized", Sources: []Source{}} }
func (f *fakeBackend) History(from, to time.Time, n int) History {
	return History{From: from, To: to, System: []SystemPoint{}, Sources: map[string][]SamplePoint{}}
}
func (f *fakeBackend) Config() ConfigInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return ConfigInfo{Config: f.cfg.Clone(), Version: f.version}
}
func (f *fakeBackend) Modify(fn func(*config.Config) error) (ConfigInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.cfg.Clone()
	if err := fn(n); err != nil {
		return ConfigInfo{}, err
	}
	if err := n.Validate(); err != nil {
		return ConfigInfo{}, fmt.Errorf("%w: %w", ErrConflict, err)
	}
	f.cfg = n
	f.version++
	return ConfigInfo{Config: n.Clone(), Version: f.version}, nil
}
func (f *fakeBackend) Sync(confirm bool) (SyncResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if confirm {
		return SyncResult{}, fmt.Errorf("%w: nothing to confirm", ErrConflict)
	}
	f.syncs++
	return SyncResult{Burst: true}, nil
}
func (f *fakeBackend) ControlGroup() string { return f.group }

// serve starts a server on a real socket; peer decides who connects.
func serve(t *testing.T, peer *Peer) (*fakeBackend, *Hub, string) {
	t.Helper()
	path := testSocketPath(t)
	ln, err := socket.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("test.conf", strings.NewReader("server 192.0.2.1 iburst\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBackend{cfg: cfg}
	hub := NewHub()
	s := NewServer(Options{Backend: b, Hub: hub, Logger: slog.New(slog.DiscardHandler)})
	if peer != nil {
		s.identify = func(net.Conn) (*Peer, error) { return peer, nil }
	}
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return b, hub, path
}

func httpClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return socket.Connect(ctx, path)
	}}}
}

func do(t *testing.T, c *http.Client, method, path string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://timesync"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestBadRequests(t *testing.T) {
	b, _, path := serve(t, &Peer{UID: 0, Admin: true})
	c := httpClient(path)
	huge := bytes.Repeat([]byte(" "), 10<<20)
	tests := []struct {
		name, method, path string
		body               io.Reader
		code               int
		want               string
	}{
		{"malformed JSON", "POST", "/v1/servers", strings.NewReader(`{"server": {`), 400, "malformed JSON"},
		{"unknown field", "POST", "/v1/servers", strings.NewReader(`{"server": {"address": "192.0.2.7"}, "colour": 1}`), 400, `unknown field "colour"`},
		{"nested unknown field", "POST", "/v1/servers", strings.NewReader(`{"server": {"address": "192.0.2.7", "burst": true}}`), 400, `unknown field "burst"`},
		{"trailing data", "POST", "/v1/sync", strings.NewReader(`{"confirm": false} {}`), 400, "after the JSON value"},
		{"key in another case", "POST", "/v1/sync", strings.NewReader(`{"Confirm": true}`), 400, `unknown field "Confirm" (the field is "confirm"`},
		{"null body", "POST", "/v1/sync", strings.NewReader(`null`), 400, "not a JSON object"},
		{"key given twice", "POST", "/v1/sync", strings.NewReader(`{"confirm": false, "confirm": true}`), 400, `field "confirm" given twice`},
		{"nested key in another case", "POST", "/v1/servers", strings.NewReader(`{"server": {"Address": "192.0.2.7"}}`), 400, `unknown field "server.Address"`},
		{"tinker key given twice", "PUT", "/v1/config", strings.NewReader(`{"tinker": {"panic_seconds": 0, "panic_seconds": 1000}}`), 400, `given twice`},
		{"wrong type", "POST", "/v1/sync", strings.NewReader(`{"confirm": "yes"}`), 400, "confirm"},
		{"10 MB body", "POST", "/v1/servers", bytes.NewReader(huge), 413, "larger than the limit"},
		{"10 MB chunked body", "POST", "/v1/servers", io.MultiReader(bytes.NewReader(huge)), 413, "larger than the limit"},
		{"unknown path", "GET", "/v1/nothing", nil, 404, "no such endpoint"},
		{"root path", "GET", "/", nil, 404, "no such endpoint"},
		{"wrong method", "DELETE", "/v1/status", nil, 405, "does not accept DELETE"},
		{"no body", "POST", "/v1/servers", nil, 400, "needs a JSON body"},
		{"both server and pool", "POST", "/v1/servers", strings.NewReader(`{"server": {"address": "192.0.2.7"}, "pool": {"name": "x.example"}}`), 400, "exactly one"},
		{"invalid address", "POST", "/v1/servers", strings.NewReader(`{"server": {"address": "not a host"}}`), 400, "not a valid"},
		{"minpoll over maxpoll", "POST", "/v1/servers", strings.NewReader(`{"server": {"address": "192.0.2.8", "minpoll": 9, "maxpoll": 7}}`), 400, "greater than maxpoll"},
		{"pool maxsources", "POST", "/v1/servers", strings.NewReader(`{"pool": {"name": "x.example", "maxsources": 99}}`), 400, "maxsources"},
		{"duplicate", "POST", "/v1/servers", strings.NewReader(`{"server": {"address": "192.0.2.1"}}`), 409, "already configured"},
		{"restrict unmasked", "POST", "/v1/restrict", strings.NewReader(`{"addr": "10.0.0.1/8"}`), 400, "outside the mask"},
		{"config minpoll", "PUT", "/v1/config", strings.NewReader(`{"servers": [{"address": "192.0.2.1"}, {"address": "192.0.2.2", "minpoll": 40}], "tinker": {"step_seconds": 0.128, "stepout_seconds": 900, "panic_seconds": 1000}}`), 409, "out of range"},
		{"remove missing", "DELETE", "/v1/servers", strings.NewReader(`{"address": "192.0.2.99"}`), 404, "not configured"},
		{"confirm nothing", "POST", "/v1/sync", strings.NewReader(`{"confirm": true}`), 409, "nothing to confirm"},
		{"query on status", "GET", "/v1/status?x=1", nil, 400, "no query"},
		{"bad history range", "GET", "/v1/history?range=-1h", nil, 400, "range"},
	}
	// The member of the request the error concerns (none for the rest).
	wantField := map[string]string{
		"invalid address":      "server.address",
		"minpoll over maxpoll": "server.minpoll",
		"pool maxsources":      "pool.maxsources",
		"duplicate":            "server.address",
		"restrict unmasked":    "addr",
		"config minpoll":       "servers[1].minpoll",
	}
	for _, tt := range tests {
		code, body := do(t, c, tt.method, tt.path, tt.body)
		var eb ErrorBody
		if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error == "" {
			t.Errorf("%s: body %q is not {\"error\": …}", tt.name, body)
		}
		if code != tt.code || !strings.Contains(eb.Error, tt.want) {
			t.Errorf("%s: got %d %q, want %d containing %q", tt.name, code, eb.Error, tt.code, tt.want)
		}
		if want := wantField[tt.name]; eb.Field != want {
			t.Errorf("%s: field %q, want %q", tt.name, eb.Field, want)
		}
	}
	// The service still answers, and nothing was changed.
	if code, _ := do(t, c, "GET", "/v1/status", nil); code != 200 {
		t.Errorf("status after the bad requests: %d", code)
	}
	if b.version != 0 || len(b.cfg.Servers) != 1 {
		t.Errorf("configuration changed by bad requests: version %d, %d servers", b.version, len(b.cfg.Servers))
	}
	// And the good ones work.
	if code, body := do(t, c, "POST", "/v1/servers", strings.NewReader(`{"server": {"address": "192.0.2.7", "iburst": true}}`)); code != 200 {
		t.Errorf("add: %d %s", code, body)
	}
	if code, body := do(t, c, "POST", "/v1/sync", nil); code != 200 || b.syncs != 1 {
		t.Errorf("sync with no body: %d %s, %d syncs", code, body, b.syncs)
	}
}

func TestReadersCannotWrite(t *testing.T) {
	for _, tt := range []struct {
		name  string
		peer  *Peer
		group string
		write bool
	}{
		{"root", &Peer{UID: 0, Admin: true}, "", true},
		{"nobody", &Peer{UID: 65534, GID: 65534, User: "nobody"}, "", false},
		{"nobody with a group", &Peer{UID: 65534, GID: 65534, User: "nobody"}, "no-such-group-for-test", false},
	} {
		b, _, path := serve(t, tt.peer)
		b.group = tt.group
		c := httpClient(path)
		for _, r := range routes {
			if r.path == "/v1/watch" {
				continue
			}
			body := `{}`
			code, resp := do(t, c, r.method, r.path, strings.NewReader(body))
			if perms[r.method+" "+r.path] == permWrite && !tt.write {
				if code != 403 || !strings.Contains(resp, "permission denied") || !strings.Contains(resp, "nobody") {
					t.Errorf("%s: %s %s: got %d %s, want 403 naming the user", tt.name, r.method, r.path, code, resp)
				}
			} else if code == 403 {
				t.Errorf("%s: %s %s: 403 %s", tt.name, r.method, r.path, resp)
			}
		}
		if !tt.write && (b.version != 0 || b.syncs != 0) {
			t.Errorf("%s: a reader changed something", tt.name)
		}
	}
}

func TestWatchSendsOnlyChanges(t *testing.T) {
	_, hub, path := serve(t, nil)
	hub.Publish(EventStatus, Status{State: "syncing"}, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://timesync/v1/watch", nil)
	resp, err := httpClient(path).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	lines := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			for _, l := range strings.Split(string(buf[:n]), "\n") {
				if strings.HasPrefix(l, "data: ") {
					lines <- l
				}
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	next := func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
		return ""
	}
	if l := next(); !strings.Contains(l, `"syncing"`) {
		t.Errorf("first event %q, want the latest status", l)
	}
	for range 3 {
		if sent, _ := hub.Publish(EventStatus, Status{State: "syncing"}, ""); sent {
			t.Error("an unchanged status was published")
		}
	}
	hub.Publish(EventStatus, Status{State: "synchronized"}, "")
	if l := next(); !strings.Contains(l, `"synchronized"`) {
		t.Errorf("event %q, want the new status", l)
	}
	select {
	case l := <-lines:
		t.Errorf("extra event %q", l)
	case <-time.After(100 * time.Millisecond):
	}
}

// A watcher that stops reading is dropped once a write cannot finish
// within the write timeout; the others are unaffected.
func TestWatchDropsClientThatStopsReading(t *testing.T) {
	path := testSocketPath(t)
	ln, err := socket.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := config.Parse("test.conf", strings.NewReader("server 192.0.2.1\n"))
	hub := NewHub()
	s := NewServer(Options{Backend: &fakeBackend{cfg: cfg}, Hub: hub, Logger: slog.New(slog.DiscardHandler)})
	s.watchWriteTimeout = 200 * time.Millisecond
	go s.Serve(ln)
	defer s.Shutdown(context.Background())

	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.UnixConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET /v1/watch HTTP/1.1\r\nHost: timesync\r\n\r\n")
	deadline := time.Now().Add(5 * time.Second)
	for hub.Subscribers() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the watch did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Large, changing events fill the socket buffers of a client that
	// never reads.
	big := strings.Repeat("x", 256<<10)
	for i := 0; hub.Subscribers() != 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("a client that stopped reading still holds its stream after %d events", i)
		}
		hub.Publish(EventStatus, fmt.Sprintf("%d %s", i, big), "")
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHubSlowSubscriberGetsLatest(t *testing.T) {
	h := NewHub()
	s := h.subscribe()
	for i := range 1000 {
		h.Publish(EventStatus, i, "")
	}
	h.Publish(EventConfig, "c", "")
	evs := s.take()
	if len(evs) != 2 || string(evs[0].Data) != "999" || string(evs[1].Data) != `"c"` {
		t.Errorf("got %d events %v, want the latest status then the config", len(evs), evs)
	}
	h.unsubscribe(s)
	if h.Subscribers() != 0 {
		t.Error("subscriber not removed")
	}
}

// A member of control-group who is not an administrator may change the
// servers but not the drift file (a path the privileged service writes)
// nor the control group itself.
func TestGroupMemberCannotChangeDriftFileOrGroup(t *testing.T) {
	g, err := user.LookupGroup("nogroup")
	if err != nil {
		t.Skip("no group 'nogroup' on this machine")
	}
	gid, _ := strconv.Atoi(g.Gid)
	b, _, path := serve(t, &Peer{UID: 65534, GID: gid, User: "nobody"})
	b.group = "nogroup"
	c := httpClient(path)
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"servers", `{"servers":[{"address":"192.0.2.2","port":123}]}`, http.StatusOK},
		{"drift file", `{"servers":[{"address":"192.0.2.1","port":123}],"drift_file":"/etc/shadow"}`, http.StatusForbidden},
		{"control group", `{"servers":[{"address":"192.0.2.1","port":123}],"control_group":"users"}`, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := b.Config().Config
			var m map[string]any
			data, _ := json.Marshal(cur)
			json.Unmarshal(data, &m)
			var over map[string]any
			json.Unmarshal([]byte(tc.body), &over)
			for k, v := range over {
				m[k] = v
			}
			body, _ := json.Marshal(m)
			code, resp := do(t, c, http.MethodPut, "/v1/config", bytes.NewReader(body))
			if code != tc.want {
				t.Errorf("PUT /v1/config changing %s: %d %s, want %d", tc.name, code, resp, tc.want)
			}
		})
	}
	if got := b.Config().Config.DriftFile; got == "/etc/shadow" {
		t.Errorf("drift file changed to %s by a non-administrator", got)
	}
}
