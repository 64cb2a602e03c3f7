package gui

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/timesync/timesync/gui/internal/fakeapi"
	"github.com/timesync/timesync/service/config"
	"github.com/timesync/timesync/service/control"
	"github.com/timesync/timesync/service/control/client"
)

// now is the tests' wall clock: no test depends on the real date.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fptr(v float64) *float64 { return &v }

func tptr(t time.Time) *time.Time { return &t }

// States of the service the windows are shown in.
var (
	stSynced = control.Status{
		State: "synchronized", OffsetSeconds: 0.000412, OffsetErrorSeconds: 0.00005, FrequencyPPM: -12.345, SkewPPM: 0.02,
		Reference: "127.0.0.11:12300", Stratum: 3, LastSync: tptr(now.Add(-12 * time.Second)), RootDistanceSeconds: 0.0021, Updates: 40,
		Sources: []control.Source{
			{Address: "127.0.0.11:12300", Name: "time.example", State: "selected", OffsetSeconds: 0.000401, DelaySeconds: 0.0021, JitterSeconds: 0.00011, Stratum: 2, PollSeconds: 64, Reach: 0o377, Samples: 8, LastSampleSeconds: fptr(12), LastOffsetSeconds: 0.0004},
			{Address: "127.0.0.12:12300", State: "candidate", OffsetSeconds: 0.000634, DelaySeconds: 0.0032, JitterSeconds: 0.00021, Stratum: 2, PollSeconds: 64, Reach: 0o377, Samples: 8, LastSampleSeconds: fptr(30)},
			{Address: "127.0.0.13:12300", State: "falseticker", OffsetSeconds: 3.25, DelaySeconds: 0.0024, JitterSeconds: 0.0003, Stratum: 2, PollSeconds: 64, Reach: 0o177, Samples: 7, LastSampleSeconds: fptr(40)},
		},
	}
	stUnsynced = control.Status{
		State: "unsynchronized", ReasonCode: control.ReasonNoReply, Reason: "no reply from any server", Stratum: 16,
		Sources: []control.Source{
			{Address: "192.0.2.1:123", State: "unreachable", Reason: "no reply", PollSeconds: 64, Reach: 0},
		},
	}
	stPanic = control.Status{
		State: "unsynchronized", ReasonCode: control.ReasonPanic, Reason: "offset past the panic threshold", Stratum: 16,
		OffsetSeconds: 0, PendingStepSeconds: fptr(3601.5), Reference: "",
		Sources: []control.Source{
			{Address: "127.0.0.11:12300", State: "candidate", OffsetSeconds: 3601.5, DelaySeconds: 0.002, Stratum: 2, PollSeconds: 16, Reach: 0o17, LastSampleSeconds: fptr(3)},
		},
	}
)

type harness struct {
	api    *fakeapi.API
	ui     *UI
	client *client.Client
	tests  []string
	elev   []Elevation
	auto   *memAutostart
}

type memAutostart struct{ on bool }

func (m *memAutostart) Enabled() bool     { return m.on }
func (m *memAutostart) Set(on bool) error { m.on = on; return nil }

type fakeTester struct {
	h   *harness
	res TestResult
	err error
}

func (f fakeTester) Test(_ context.Context, hp string) (TestResult, error) {
	f.h.tests = append(f.h.tests, hp)
	return f.res, f.err
}

func newHarness(t *testing.T, st control.Status, cfg *config.Config) *harness {
	t.Helper()
	test.NewTempApp(t)
	dir, err := os.MkdirTemp("", "gui")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	api, err := fakeapi.New(dir, st, cfg, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.Close)
	h := &harness{api: api, client: client.New(api.Socket), auto: &memAutostart{}}
	t.Cleanup(h.client.Close)
	h.ui = New(Deps{
		App:    fyne.CurrentApp(),
		Client: h.client,
		Tester: fakeTester{h: h, res: TestResult{OffsetSeconds: 0.0012, DelaySeconds: 0.0004, Stratum: 2}},
		Elevate: func(e Elevation) error {
			h.elev = append(h.elev, e)
			return nil
		},
		Autostart:     h.auto,
		LocalNetworks: func() []string { return []string{"192.168.1.0/24"} },
		Now:           func() time.Time { return now },
		Location:      time.UTC,
		Synchronous:   true,
	})
	return h
}

// history fills the fake's recorder with an hour of updates and samples.
func (h *harness) history() {
	rec := h.api.Backend().Recorder()
	for i := 0; i <= 60; i++ {
		t := now.Add(-time.Hour + time.Duration(i)*time.Minute)
		off := 0.002*float64(60-i)/60 + 0.0002*float64(i%3-1)
		rec.AddUpdate(t, off, -12.0-0.5*float64(60-i)/60)
		rec.AddSample("127.0.0.11:12300", t, off+0.0001, 0.002)
		if i%2 == 0 {
			rec.AddSample("127.0.0.12:12300", t.Add(20*time.Second), off+0.0003, 0.003)
		}
	}
}

func writes(api *fakeapi.API) []string {
	var s []string
	for _, c := range api.Writes() {
		s = append(s, c.String())
	}
	return s
}

func TestStatusWindowGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   control.Status
		down bool
	}{
		{"synchronized", stSynced, false},
		{"unsynchronized", stUnsynced, false},
		{"panic", stPanic, false},
		{"unreachable", control.Status{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.st, nil)
			if tc.name == "synchronized" {
				h.history()
			}
			if tc.down {
				h.api.Close()
			}
			s := h.ui.ShowStatus()
			test.AssertRendersToImage(t, "status_"+tc.name+".png", s.win.Canvas())
		})
	}
}

func TestSettingsWindowGolden(t *testing.T) {
	cfg := &config.Config{
		Servers:  []config.Server{{Address: "192.0.2.1", IBurst: true}, {Address: "time.example", Port: 12300, Prefer: true, MinPoll: 4, MaxPoll: 8}},
		Pools:    []config.Pool{{Name: "pool.example", IBurst: true, MaxSources: 4}},
		Restrict: []config.Restrict{{Default: true, KoD: true, Limited: true, NoModify: true, NoQuery: true}, {Addr: netipPrefix("192.168.0.0/16"), NoModify: true}},
		Tinker:   config.DefaultTinker(),
	}
	for _, tab := range []int{0, 1, 2} {
		t.Run([]string{"servers", "restrict", "advanced"}[tab], func(t *testing.T) {
			h := newHarness(t, stSynced, cfg)
			s := h.ui.ShowSettings()
			s.tabs.SelectIndex(tab)
			if tab == 1 {
				s.query.SetText("192.168.1.20")
				test.Tap(s.queryBtn)
			}
			test.AssertRendersToImage(t, "settings_"+[]string{"servers", "restrict", "advanced"}[tab]+".png", s.win.Canvas())
		})
	}
	t.Run("denied", func(t *testing.T) {
		h := newHarness(t, stSynced, cfg)
		h.api.DenyWrites(true)
		s := h.ui.ShowSettings()
		s.address.SetText("192.0.2.50")
		test.Tap(s.add)
		test.AssertRendersToImage(t, "settings_denied.png", s.win.Canvas())
	})
	t.Run("invalid", func(t *testing.T) {
		h := newHarness(t, stSynced, cfg)
		s := h.ui.ShowSettings()
		s.address.SetText("192.0.2.60")
		s.minpoll.SetSelected(pollOption(12))
		s.maxpoll.SetSelected(pollOption(8))
		test.Tap(s.add)
		test.AssertRendersToImage(t, "settings_invalid.png", s.win.Canvas())
	})
}

func TestSyncNowAndSetClock(t *testing.T) {
	h := newHarness(t, stPanic, nil)
	s := h.ui.ShowStatus()
	if !s.setClock.Visible() {
		t.Fatal("Set the clock now is hidden with a step held past the panic threshold")
	}
	test.Tap(s.syncNow)
	test.Tap(s.setClock)
	got := writes(h.api)
	want := []string{`POST /v1/sync {"confirm":false}`, `POST /v1/sync {"confirm":true}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got calls\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := h.api.Backend().Syncs(), []bool{false, true}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("backend saw syncs %v, want %v", got, want)
	}
	if got := s.result.Text; !strings.Contains(got, "set at the next measurement") {
		t.Errorf("after Set the clock now the window says %q", got)
	}

	h2 := newHarness(t, stSynced, nil)
	if s2 := h2.ui.ShowStatus(); s2.setClock.Visible() {
		t.Error("Set the clock now is shown with no step held")
	}
}

func TestServerEdits(t *testing.T) {
	cfg := &config.Config{Servers: []config.Server{{Address: "192.0.2.1", IBurst: true}, {Address: "192.0.2.2"}}, Tinker: config.DefaultTinker()}
	h := newHarness(t, stSynced, cfg)
	s := h.ui.ShowSettings()

	// Add a server with options.
	s.address.SetText("192.0.2.3:12300")
	s.prefer.SetChecked(true)
	test.Tap(s.add)
	// Add a pool.
	s.kind.SetSelected("pool")
	s.address.SetText("pool.example")
	s.maxsources.SetText("3")
	test.Tap(s.add)
	// Remove the second server.
	s.list.Select(1)
	test.Tap(s.remove)
	// Move the (new) second server up.
	s.list.Select(1)
	test.Tap(s.up)
	// Test what the form holds.
	s.list.Select(0)
	test.Tap(s.test)

	got := writes(h.api)
	want := []string{
		`POST /v1/servers {"server":{"address":"192.0.2.3","port":12300,"iburst":true,"prefer":true,"minpoll":6,"maxpoll":10}}`,
		`POST /v1/servers {"pool":{"name":"pool.example","port":0,"iburst":true,"maxsources":3}}`,
		`DELETE /v1/servers {"address":"192.0.2.2"}`,
	}
	if len(got) != 4 || strings.Join(got[:3], "\n") != strings.Join(want, "\n") || !strings.HasPrefix(got[3], "PUT /v1/config ") {
		t.Fatalf("got calls\n%s\nwant\n%s\nPUT /v1/config …", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c := h.api.Backend().Config().Config
	var order []string
	for _, sv := range c.Servers {
		order = append(order, sv.HostPort())
	}
	if got, want := strings.Join(order, " "), "192.0.2.3:12300 192.0.2.1:123"; got != want {
		t.Errorf("servers after the edits: got %s, want %s", got, want)
	}
	if len(h.tests) != 1 || h.tests[0] != "192.0.2.3:12300" {
		t.Errorf("Test queried %v, want [192.0.2.3:12300]", h.tests)
	}
	if got := s.testResult.Text; !strings.Contains(got, "offset +1.2 ms") || !strings.Contains(got, "stratum 2") {
		t.Errorf("test result shows %q", got)
	}
}

func TestTestShowsErrorInWords(t *testing.T) {
	h := newHarness(t, stSynced, nil)
	h.ui.d.Tester = fakeTester{h: h, err: errors.New("no answer within 5 s (is UDP port 123 blocked?)")}
	s := h.ui.ShowSettings()
	s.address.SetText("192.0.2.99")
	test.Tap(s.test)
	if got := s.testResult.Text; got != "192.0.2.99:123: no answer within 5 s (is UDP port 123 blocked?)" {
		t.Errorf("got %q", got)
	}
	if w := writes(h.api); len(w) != 0 {
		t.Errorf("Test called the service: %v", w)
	}
}

func TestAccessDeniedExplainsAndElevates(t *testing.T) {
	h := newHarness(t, stSynced, nil)
	h.api.DenyWrites(true)
	s := h.ui.ShowSettings()
	s.address.SetText("192.0.2.7")
	test.Tap(s.add)
	if !s.denied.Box.Visible() {
		t.Fatal("a 403 shows no explanation")
	}
	if got := s.denied.Text.Text; !strings.Contains(got, `member of the group "timesync"`) || !strings.Contains(got, "administrator") {
		t.Errorf("explanation %q names neither the group nor administrators", got)
	}
	test.Tap(s.denied.Button)
	if len(h.elev) != 1 {
		t.Fatalf("elevation ran %d times, want 1", len(h.elev))
	}
	if got, want := strings.Join(h.elev[0].Args, " "), "servers add 192.0.2.7 iburst"; got != want {
		t.Errorf("elevated command: got %q, want %q", got, want)
	}
	if h.elev[0].Socket != h.api.Socket {
		t.Errorf("elevated command goes to socket %q, want %q", h.elev[0].Socket, h.api.Socket)
	}

	// Sync now in the status window too.
	st := h.ui.ShowStatus()
	test.Tap(st.syncNow)
	if !st.denied.Box.Visible() {
		t.Error("a 403 on Sync now shows no explanation")
	}
}

func TestElevatorCommands(t *testing.T) {
	el := Elevation{Args: []string{"servers", "add", "192.0.2.7", "iburst"}, Socket: "/run/timesync/control.sock"}
	e := Elevator{Self: "/usr/bin/timesync-gui", Timesync: "/usr/bin/timesync"}
	for _, tc := range []struct{ goos, want string }{
		{"linux", "pkexec /usr/bin/timesync servers add 192.0.2.7 iburst --socket /run/timesync/control.sock"},
		{"darwin", `osascript -e do shell script "'/usr/bin/timesync' 'servers' 'add' '192.0.2.7' 'iburst' '--socket' '/run/timesync/control.sock'" with administrator privileges`},
		{"windows", "powershell -NoProfile -NonInteractive -Command Start-Process -Verb RunAs -Wait -WindowStyle Hidden -FilePath '/usr/bin/timesync' -ArgumentList 'servers','add','192.0.2.7','iburst','--socket','/run/timesync/control.sock'"},
	} {
		e.GOOS = tc.goos
		if got := strings.Join(e.Command(el, ""), " "); got != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.goos, got, tc.want)
		}
	}
	e.GOOS = "linux"
	if got, want := strings.Join(e.Command(Elevation{Config: &config.Config{}}, "/tmp/c.json"), " "), "pkexec /usr/bin/timesync-gui --put-config /tmp/c.json"; got != want {
		t.Errorf("config: got %q, want %q", got, want)
	}
}

func TestValidationErrorNextToField(t *testing.T) {
	h := newHarness(t, stSynced, nil)
	s := h.ui.ShowSettings()
	s.address.SetText("192.0.2.8")
	s.minpoll.SetSelected(pollOption(12))
	s.maxpoll.SetSelected(pollOption(8))
	test.Tap(s.add)
	if got := s.errs["minpoll"].Text; !strings.Contains(got, "minpoll 12 is greater than maxpoll 8") || !s.errs["minpoll"].Visible() {
		t.Errorf("minpoll error: got %q (visible %v)", got, s.errs["minpoll"].Visible())
	}
	for _, f := range []string{"address", "maxpoll"} {
		if s.errs[f].Visible() {
			t.Errorf("%s shows an error too: %q", f, s.errs[f].Text)
		}
	}
	// A bad host name lands next to the address.
	s.minpoll.SetSelected(pollOption(6))
	s.maxpoll.SetSelected(pollOption(10))
	s.address.SetText("bad_host!")
	test.Tap(s.add)
	if got := s.errs["address"].Text; !strings.Contains(got, "not a valid host name") {
		t.Errorf("address error: got %q", got)
	}
	if s.errs["minpoll"].Visible() {
		t.Error("the old minpoll error is still shown")
	}
	// Advanced: a negative threshold.
	s.tabs.SelectIndex(2)
	s.step.SetText("-1")
	test.Tap(s.apply)
	if got := s.errs["step"].Text; got == "" {
		t.Errorf("no error next to the step threshold (general: %q)", s.advErr.Text)
	}
}

func TestRestrictEditsAndPresets(t *testing.T) {
	h := newHarness(t, stSynced, nil)
	s := h.ui.ShowSettings()
	s.tabs.SelectIndex(1)
	s.target.SetText("10.0.0.0/8")
	s.flags["noquery"].SetChecked(true)
	s.flags["limited"].SetChecked(true)
	test.Tap(s.ruleAdd)
	s.ruleList.Select(0)
	test.Tap(s.ruleRemove)
	test.Tap(s.presetNone)
	got := writes(h.api)
	if len(got) != 3 || !strings.HasPrefix(got[0], `POST /v1/restrict {"default":false,"addr":"10.0.0.0/8","ignore":false,"kod":false,"limited":true`) ||
		got[1] != `DELETE /v1/restrict {"target":"10.0.0.0/8"}` || !strings.HasPrefix(got[2], "PUT /v1/config ") {
		t.Fatalf("got calls\n%s", strings.Join(got, "\n"))
	}
	c := h.api.Backend().Config().Config
	if len(c.Restrict) != 1 || !c.Restrict[0].Default || !c.Restrict[0].Ignore {
		t.Errorf("after 'serve nobody' the rules are %v", c.Restrict)
	}
	test.Tap(s.presetLAN)
	c = h.api.Backend().Config().Config
	var texts []string
	for _, r := range c.Restrict {
		texts = append(texts, r.String())
	}
	want := "restrict default kod limited nomodify noquery nopeer noserve notrap|restrict 127.0.0.1 kod limited nomodify noquery nopeer notrap|restrict ::1 kod limited nomodify noquery nopeer notrap|restrict 192.168.1.0 mask 255.255.255.0 kod limited nomodify noquery nopeer notrap"
	if got := strings.Join(texts, "|"); got != want {
		t.Errorf("after 'serve my local network':\ngot  %s\nwant %s", got, want)
	}
}

func TestWhatApplies(t *testing.T) {
	info := &control.ConfigInfo{Config: &config.Config{Restrict: []config.Restrict{
		{Default: true, Ignore: true},
		{Addr: netipPrefix("192.168.0.0/16"), NoQuery: true},
		{Addr: netipPrefix("192.168.1.0/24"), NoServe: true},
	}}}
	for _, tc := range []struct{ addr, want string }{
		{"192.168.1.5", "192.168.1.5: restrict 192.168.1.0 mask 255.255.255.0 noserve\nThe rule for 192.168.1.0/24 is the most specific of those that contain 192.168.1.5 (also: 192.168.0.0/16). It is not served time. (Serving is off: see Advanced.)"},
		{"192.168.7.5", "192.168.7.5: restrict 192.168.0.0 mask 255.255.0.0 noquery\nOnly the rule for 192.168.0.0/16 contains 192.168.7.5. It is served time. (Serving is off: see Advanced.)"},
		{"10.1.1.1", "10.1.1.1: restrict default ignore\nNo address rule contains 10.1.1.1, so the default rule applies. Its packets are ignored. (Serving is off: see Advanced.)"},
		{"::ffff:192.168.1.9", "192.168.1.9: restrict 192.168.1.0 mask 255.255.255.0 noserve\nThe rule for 192.168.1.0/24 is the most specific of those that contain 192.168.1.9 (also: 192.168.0.0/16). It is not served time. (Serving is off: see Advanced.)"},
		{"nonsense", "nonsense is not an IP address."},
	} {
		if got := WhatApplies(info, tc.addr); got != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.addr, got, tc.want)
		}
	}
}

func TestStatusFollowsUpdates(t *testing.T) {
	h := newHarness(t, stUnsynced, nil)
	s := h.ui.ShowStatus()
	if got := s.line.Text; !strings.HasPrefix(got, "Not synchronized") {
		t.Errorf("line %q", got)
	}
	h.ui.Apply(modelUpdate(&stSynced, nil))
	if got, want := s.line.Text, "Synchronized · +412.0 µs · time.example (stratum 2)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	h.ui.Apply(modelUpdate(nil, errors.New("gone")))
	if got := s.line.Text; got != "Service not reachable" {
		t.Errorf("got %q", got)
	}
	if !s.syncNow.Disabled() {
		t.Error("Sync now enabled while the service is unreachable")
	}
}

func TestAutostartCheck(t *testing.T) {
	h := newHarness(t, stSynced, nil)
	s := h.ui.ShowSettings()
	s.autostart.SetChecked(true)
	if !h.auto.on {
		t.Error("checking 'start at login' did not enable it")
	}
	s.autostart.SetChecked(false)
	if h.auto.on {
		t.Error("unchecking did not disable it")
	}
	var _ = widget.NewLabel
}
