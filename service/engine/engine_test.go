package engine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/ntp"
)

var base = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// response builds a server reply for a client at local time t1 whose clock
// is `offset` behind the server, with one-way delays out and back.
func response(t1 time.Time, offset, out, back time.Duration) *ntp.Response {
	t2 := t1.Add(out).Add(offset)
	t3 := t2.Add(10 * time.Microsecond)
	t4 := t3.Add(back).Add(-offset)
	return &ntp.Response{
		Version: 4, Stratum: 2, Leap: ntp.LeapNoWarning, Precision: time.Microsecond,
		RootDelay: time.Millisecond, RootDispersion: time.Millisecond,
		ReferenceTime: t2.Add(-time.Minute),
		Timestamps:    ntp.ProtocolTimestamps{ClientXmit: t1, ServerRecv: t2, ServerXmit: t3, ClientRecv: t4},
	}
}

func TestValidateOffsetAndDelay(t *testing.T) {
	r := response(base, 2500*time.Millisecond, 3*time.Millisecond, 1*time.Millisecond)
	s, err := Validate(r, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Asymmetry (3 ms out, 1 ms back) biases θ by +1 ms.
	if got, want := s.Offset, 2501*time.Millisecond; got != want {
		t.Errorf("offset: got %v, want %v", got, want)
	}
	if got, want := s.Delay, 4*time.Millisecond; got != want {
		t.Errorf("delay: got %v, want %v", got, want)
	}
}

func TestValidateRejects(t *testing.T) {
	mod := func(f func(r *ntp.Response)) *ntp.Response {
		r := response(base, time.Second, time.Millisecond, time.Millisecond)
		f(r)
		return r
	}
	tests := []struct {
		name string
		r    *ntp.Response
		want error
	}{
		{"kiss DENY", mod(func(r *ntp.Response) { r.Stratum = 0; r.KissCode = "DENY" }), ntp.ErrKissOfDeath},
		{"leap alarm", mod(func(r *ntp.Response) { r.Leap = ntp.LeapNotInSync }), ErrUnsynchronized},
		{"stratum 16", mod(func(r *ntp.Response) { r.Stratum = 16 }), ErrStratum},
		{"zero receive timestamp", mod(func(r *ntp.Response) { r.Timestamps.ServerRecv = ntpEra1 }), ErrBogusTimestamp},
		{"server in 1970", mod(func(r *ntp.Response) {
			r.Timestamps.ServerRecv = time.Unix(5, 0)
			r.Timestamps.ServerXmit = time.Unix(6, 0)
		}), ErrBogusTimestamp},
		{"transmit before receive", mod(func(r *ntp.Response) {
			r.Timestamps.ServerXmit = r.Timestamps.ServerRecv.Add(-time.Second)
		}), ErrBogusTimestamp},
		{"negative delay", mod(func(r *ntp.Response) {
			r.Timestamps.ClientRecv = r.Timestamps.ClientXmit.Add(-time.Millisecond)
		}), ErrNegativeDelay},
		{"root distance", mod(func(r *ntp.Response) { r.RootDispersion = 2 * time.Second }), ErrRootDistance},
		{"version 2", mod(func(r *ntp.Response) { r.Version = 2 }), ErrBadMode},
		{"reference time zero", mod(func(r *ntp.Response) { r.ReferenceTime = ntpEra1 }), ErrNoReference},
		{"reference after transmit", mod(func(r *ntp.Response) {
			r.ReferenceTime = r.Timestamps.ServerXmit.Add(time.Second)
		}), ErrBogusTimestamp},
		{"reference 2 days old", mod(func(r *ntp.Response) {
			r.ReferenceTime = r.Timestamps.ServerXmit.Add(-48 * time.Hour)
		}), ErrStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Validate(tt.r, ValidateOptions{})
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// The NTP era rolls over at 2036-02-07 06:28:16 UTC; offsets and delays
// computed across it must be right in both directions.
func TestValidateAcrossEraRollover(t *testing.T) {
	for _, tc := range []struct {
		name   string
		t1     time.Time
		offset time.Duration
	}{
		{"client before, server after", ntpEra1.Add(-3 * time.Second), 5 * time.Second},
		{"client after, server before", ntpEra1.Add(2 * time.Second), -4 * time.Second},
		{"both after", ntpEra1.Add(time.Hour), 250 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Validate(response(tc.t1, tc.offset, time.Millisecond, time.Millisecond), ValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if s.Offset != tc.offset {
				t.Errorf("offset: got %v, want %v", s.Offset, tc.offset)
			}
		})
	}
}

func TestKissCodes(t *testing.T) {
	for _, tc := range []struct {
		code         string
		drop, backof bool
		reason       string
	}{
		{"DENY", true, false, "denied access"},
		{"RSTR", true, false, "denied access"},
		{"RATE", false, true, "rate limited us"},
		{"INIT", false, false, "server not synchronized yet (INIT)"},
		{"STEP", false, false, "stepping its clock (STEP)"},
		{"ACST", false, false, "not usable right now (kiss-o'-death ACST)"},
	} {
		src := NewSource("127.0.0.1:123", false)
		r := response(base, 0, time.Millisecond, time.Millisecond)
		r.Stratum, r.KissCode = 0, ""
		r.ReferenceID = uint32(tc.code[0])<<24 | uint32(tc.code[1])<<16 | uint32(tc.code[2])<<8 | uint32(tc.code[3])
		src.Sent()
		if _, err := src.Received(r, nil, ValidateOptions{}); err == nil {
			t.Fatalf("%s: accepted a kiss-o'-death", tc.code)
		}
		if src.Denied() != tc.drop || src.RateLimited() != tc.backof {
			t.Errorf("%s: denied=%v rateLimited=%v, want %v %v", tc.code, src.Denied(), src.RateLimited(), tc.drop, tc.backof)
		}
		if st, why := src.Status(); st != StateKoD || !strings.Contains(why, tc.code) || !strings.Contains(why, tc.reason) {
			t.Errorf("%s: status %s %q, want kod naming the code and saying %q", tc.code, st, why, tc.reason)
		}
		if !tc.backof && strings.Contains(src.LastError().Error(), "rate") {
			t.Errorf("%s: error %q speaks of rate limiting", tc.code, src.LastError())
		}
	}
}

func TestReachRegister(t *testing.T) {
	src := NewSource("127.0.0.1:123", false)
	replies := []bool{true, false, true, true}
	for _, ok := range replies {
		src.Sent()
		if ok {
			if _, err := src.Received(response(base, 0, time.Millisecond, time.Millisecond), nil, ValidateOptions{}); err != nil {
				t.Fatal(err)
			}
		} else {
			src.Received(nil, ErrNoReply, ValidateOptions{})
		}
	}
	if got, want := src.Reach(), uint8(0b1011); got != want {
		t.Errorf("reach: got %04b, want %04b", got, want)
	}
}

func TestFilterBestIsLowestDelay(t *testing.T) {
	var f Filter
	for i, d := range []time.Duration{5, 2, 9, 3} {
		f.Add(Sample{Time: base.Add(time.Duration(i) * time.Second), Offset: time.Duration(i) * time.Millisecond, Delay: d * time.Millisecond})
	}
	best, ok := f.Best(base.Add(10 * time.Second))
	if !ok || best.Delay != 2*time.Millisecond || best.Offset != time.Millisecond {
		t.Errorf("got %+v, want the 2 ms sample", best)
	}
	for i := 0; i < 2*FilterSize; i++ {
		f.Add(Sample{Delay: time.Second})
	}
	if f.Len() != FilterSize {
		t.Errorf("len: got %d, want %d", f.Len(), FilterSize)
	}
}

func TestSelectRejectsFalseticker(t *testing.T) {
	ms := time.Millisecond
	cands := []Candidate{
		{Offset: 250 * ms, Distance: 3 * ms, Stratum: 2},
		{Offset: 251 * ms, Distance: 3 * ms, Stratum: 2},
		{Offset: 249 * ms, Distance: 2 * ms, Stratum: 2},
		{Offset: 2250 * ms, Distance: 3 * ms, Stratum: 1}, // 2 s off
		{Offset: 250 * ms, Distance: 4 * ms, Stratum: 2},
	}
	sel := Select(cands, 1)
	if !sel.OK {
		t.Fatalf("no selection: %s", sel.Why)
	}
	want := []State{StateSelected, StateSelected, StateSelected, StateFalseticker, StateSelected}
	for i := range want {
		if sel.States[i] != want[i] {
			t.Errorf("candidate %d: got %s, want %s", i, sel.States[i], want[i])
		}
	}
	if sel.Reasons[3] == "" {
		t.Error("falseticker has no reason")
	}
	if d := sel.Offset - 250*ms; d > ms || d < -ms {
		t.Errorf("combined offset %v, want 250ms ± 1ms", sel.Offset)
	}
	if sel.Best != 2 {
		t.Errorf("best: got %d, want 2 (lowest distance)", sel.Best)
	}
}

func TestSelectNoMajority(t *testing.T) {
	ms := time.Millisecond
	sel := Select([]Candidate{{Offset: 0, Distance: ms}, {Offset: time.Second, Distance: ms}}, 1)
	if sel.OK || sel.Why == "" {
		t.Errorf("two disagreeing sources: got OK=%v why=%q, want no selection", sel.OK, sel.Why)
	}
}

func TestSelectMinSources(t *testing.T) {
	ms := time.Millisecond
	cands := []Candidate{{Offset: 0, Distance: ms}, {Offset: ms / 2, Distance: ms}, {Offset: time.Second, Distance: ms}}
	if sel := Select(cands, 3); sel.OK {
		t.Error("minsources 3 with 2 agreeing: got OK")
	}
	if sel := Select(cands, 2); !sel.OK {
		t.Errorf("minsources 2 with 2 agreeing: %s", sel.Why)
	}
}

func TestFilterEstimateFavoursLowDelay(t *testing.T) {
	var f Filter
	ms := time.Millisecond
	// Two clean samples near +1 ms, two queued ones far off.
	for _, s := range []struct{ off, delay time.Duration }{
		{1100 * time.Microsecond, 2 * ms}, {900 * time.Microsecond, 2 * ms},
		{6 * ms, 12 * ms}, {-4 * ms, 12 * ms},
	} {
		f.Add(Sample{Time: base, Offset: s.off, Delay: s.delay})
	}
	got, _ := f.Estimate(base)
	if d := got.Offset - ms; d > 200*time.Microsecond || d < -200*time.Microsecond {
		t.Errorf("estimate %v, want about 1ms", got.Offset)
	}
	// Alike delays: all samples count, the estimate is their mean.
	f.Reset()
	for _, off := range []time.Duration{1 * ms, 2 * ms, 3 * ms, 4 * ms} {
		f.Add(Sample{Time: base, Offset: off, Delay: 2 * ms})
	}
	if got, _ := f.Estimate(base); got.Offset != 2500*time.Microsecond {
		t.Errorf("equal delays: estimate %v, want the mean 2.5ms", got.Offset)
	}
}
