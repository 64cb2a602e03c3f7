package privsep

import (
	"encoding/json"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/timesync/timesync/platform"
)

// engineFrame is a request as Remote.callFD writes it.
func engineFrame(t testing.TB, id uint64, op string, a any) []byte {
	t.Helper()
	req := Request{V: Version, ID: id, Op: op}
	if a != nil {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		req.Args = b
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func f64(v float64) *float64 { return &v }
func i64(v int64) *int64     { return &v }

var engineArgs = []FrequencyArgs{
	{PPM: 0},
	{PPM: -12.345678901234567},
	{PPM: 499.99, BasePPM: f64(-3.25e-7), EndInNS: i64(999_999_999)},
	{PPM: 1e-300, BasePPM: f64(0), Sync: &SyncStatusArgs{Synced: true, MaxErrorNS: 1 << 40, EstErrorNS: 12345}},
	{PPM: -500, BasePPM: f64(math.MaxFloat64), EndInNS: i64(math.MinInt64), Sync: &SyncStatusArgs{MaxErrorNS: math.MinInt64, EstErrorNS: math.MaxInt64}},
}

// The frames the engine writes for set_frequency take the fast path, with
// the values decodeStrict finds, and so do its other ops' envelopes.
func TestFastEngineFrames(t *testing.T) {
	for i, a := range engineArgs {
		body := engineFrame(t, uint64(i)*1e17+1, OpSetFrequency, a)
		req, ok := fastRequest(body)
		if !ok {
			t.Fatalf("%s: not taken by the fast path", body)
		}
		var want Request
		if err := decodeStrict(body, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(req, want) {
			t.Fatalf("%s: fast %+v, decodeStrict %+v", body, req, want)
		}
		got, ok := fastFrequencyArgs(req.Args)
		if !ok {
			t.Fatalf("%s: arguments not taken by the fast path", req.Args)
		}
		var wantArgs FrequencyArgs
		if err := decodeStrict(req.Args, &wantArgs); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, wantArgs) || !reflect.DeepEqual(got, a) {
			t.Fatalf("%s: fast %+v, decodeStrict %+v, sent %+v", req.Args, got, wantArgs, a)
		}
	}
	for _, body := range [][]byte{
		engineFrame(t, 7, OpHello, struct{}{}),
		engineFrame(t, 8, OpFrequency, nil),
		engineFrame(t, 9, OpLoadDrift, nil),
	} {
		if _, ok := fastRequest(body); !ok {
			t.Errorf("%s: not taken by the fast path", body)
		}
	}
	// A configuration's text has escapes (its newlines): decodeStrict's.
	if body := engineFrame(t, 10, OpSaveConfig, ConfigText{Text: "server a\n"}); func() bool { _, ok := fastRequest(body); return ok }() {
		t.Errorf("%s: taken by the fast path", body)
	}
}

// Anything outside the subset goes to decodeStrict: the scanner never
// refuses, and never accepts what decodeStrict would refuse.
func TestFastFallsBack(t *testing.T) {
	requests := []string{
		``, `{}`, `null`, `[]`,
		` {"v":1,"id":1,"op":"frequency"}`,
		`{"v":1, "id":1,"op":"frequency"}`,
		`{"v":1,"id":1,"op":"frequency"} `,
		`{"v":1,"id":1,"op":"frequency"}{}`,
		`{"v":1,"id":1,"op":"frequency"`,
		`{"v":1,"id":1,"op":"fr\u0065quency"}`,
		`{"v":1,"id":1,"op":"frequency","v":1}`,
		`{"V":1,"id":1,"op":"frequency"}`,
		`{"v":1,"id":1,"op":"frequency","x":0}`,
		`{"v":1,"id":1}`,
		`{"id":1,"op":"frequency"}`,
		`{"v":1.0,"id":1,"op":"frequency"}`,
		`{"v":1,"id":1e0,"op":"frequency"}`,
		`{"v":1,"id":-1,"op":"frequency"}`,
		`{"v":1,"id":-0,"op":"frequency"}`,
		`{"v":1,"id":18446744073709551616,"op":"frequency"}`,
		`{"v":1,"id":01,"op":"frequency"}`,
		`{"v":1,"id":1,"op":null}`,
		`{"v":1,"id":1,"op":"frequency","args":null}`,
		`{"v":1,"id":1,"op":"frequency","args":{"a":}}`,
		`{"v":1,"id":1,"op":"frequency","args":[1,]}`,
		"{\"v\":1,\"id\":1,\"op\":\"fr\xffquency\"}",
		"{\"v\":1,\"id\":1,\"op\":\"fr\tquency\"}",
	}
	for _, s := range requests {
		if _, ok := fastRequest([]byte(s)); ok {
			t.Errorf("request %q taken by the fast path", s)
		}
	}
	args := []string{
		``, `{}`, `null`,
		`{"ppm":1,"ppm":1}`,
		`{"PPM":1}`,
		`{"ppm":1,"extra":1}`,
		`{"ppm":"1"}`,
		`{"ppm":1e400}`,
		`{"ppm":.5}`,
		`{"ppm":1.}`,
		`{"ppm":+1}`,
		`{"ppm":--1}`,
		`{"ppm":1,"base_ppm":null}`,
		`{"ppm":1,"end_in_ns":1.5}`,
		`{"ppm":1,"end_in_ns":9223372036854775808}`,
		`{"ppm":1,"sync":{"synced":true,"max_error_ns":1}}`,
		`{"ppm":1,"sync":{"synced":true,"max_error_ns":1,"est_error_ns":1,"synced":false}}`,
		`{"ppm":1,"sync":{"synced":1,"max_error_ns":1,"est_error_ns":1}}`,
		`{"ppm":1,"sync":{"synced":truex,"max_error_ns":1,"est_error_ns":1}}`,
		`{"ppm":1} `,
	}
	for _, s := range args {
		if _, ok := fastFrequencyArgs([]byte(s)); ok {
			t.Errorf("arguments %q taken by the fast path", s)
		}
	}
}

// Each key given twice, and each required key left out, at both depths,
// go to decodeStrict (which refuses them); so does deep nesting.
func TestFastFallsBackPerKey(t *testing.T) {
	const args = `{"ppm":1.5,"base_ppm":1,"sync":{"synced":true,"max_error_ns":2,"est_error_ns":3},"end_in_ns":4}`
	if _, ok := fastFrequencyArgs([]byte(args)); !ok {
		t.Fatalf("%s: not taken by the fast path", args)
	}
	frame := `{"v":1,"id":7,"op":"set_frequency","args":` + args + `}`
	if _, ok := fastRequest([]byte(frame)); !ok {
		t.Fatalf("%s: not taken by the fast path", frame)
	}
	members := map[string]string{ // key: the member as written in args or frame
		"ppm": `"ppm":1.5`, "base_ppm": `"base_ppm":1`, "end_in_ns": `"end_in_ns":4`,
		"sync":   `"sync":{"synced":true,"max_error_ns":2,"est_error_ns":3}`,
		"synced": `"synced":true`, "max_error_ns": `"max_error_ns":2`, "est_error_ns": `"est_error_ns":3`,
		"v": `"v":1`, "id": `"id":7`, "op": `"op":"set_frequency"`, "args": `"args":` + args,
	}
	required := map[string]bool{"ppm": true, "synced": true, "max_error_ns": true, "est_error_ns": true, "v": true, "id": true, "op": true}
	for key, m := range members {
		in, fast := args, func(b string) bool { _, ok := fastFrequencyArgs([]byte(b)); return ok }
		if key == "v" || key == "id" || key == "op" || key == "args" {
			in, fast = frame, func(b string) bool { _, ok := fastRequest([]byte(b)); return ok }
		}
		if !strings.Contains(in, m) {
			t.Fatalf("%s not in %s", m, in)
		}
		// Twice: the member, then a comma and the member again.
		twice := strings.Replace(in, m, m+","+m, 1)
		if fast(twice) {
			t.Errorf("%s: %q twice taken by the fast path", twice, key)
		}
		if var1 := strings.Replace(twice, `"`+key+`"`, `"`+strings.ToUpper(key[:1])+key[1:]+`"`, 1); fast(var1) {
			t.Errorf("%s: %q in another case taken by the fast path", var1, key)
		}
		if required[key] {
			without := strings.Replace(strings.Replace(in, m+",", "", 1), ","+m, "", 1)
			if strings.Contains(without, m) {
				t.Fatalf("%s still in %s", m, without)
			}
			if fast(without) {
				t.Errorf("%s: without %q taken by the fast path", without, key)
			}
			var st any = &FrequencyArgs{}
			if in == frame {
				st = &Request{}
			}
			if err := decodeStrict([]byte(without), st); err == nil {
				t.Errorf("%s: decodeStrict takes it without %q", without, key)
			}
		}
	}
	nested := func(n int) string {
		return `{"v":1,"id":1,"op":"hello","args":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
	}
	if _, ok := fastRequest([]byte(nested(maxDepth))); !ok {
		t.Errorf("arguments nested %d deep not taken by the fast path", maxDepth)
	}
	for _, n := range []int{maxDepth + 1, 10001} {
		if _, ok := fastRequest([]byte(nested(n))); ok {
			t.Errorf("arguments nested %d deep taken by the fast path", n)
		}
	}
}

// A refusal made after the fast path is the one decodeStrict makes: the
// parent refuses a duplicated key in set_frequency's arguments.
func TestFastRefusalsUnchanged(t *testing.T) {
	p := &Parent{Driver: platform.NewNull(0), Logger: slog.New(slog.DiscardHandler)}
	rep, _ := p.Handle([]byte(`{"v":1,"id":5,"op":"set_frequency","args":{"ppm":1,"ppm":2}}`))
	if rep.OK || rep.Code != CodeMalformed || rep.ID != 5 {
		t.Fatalf("reply %+v, want a malformed refusal of request 5", rep)
	}
	rep, _ = p.Handle([]byte(`{"v":1,"id":6,"op":"set_frequency","args":{"ppm":1e9}}`))
	if rep.OK || rep.Code != CodeRange {
		t.Fatalf("reply %+v, want a range refusal", rep)
	}
}

// The replies written by hand are json.Marshal's, byte for byte.
func TestAppendReply(t *testing.T) {
	hello, err := json.Marshal(Hello{Version: 1, Driver: "null <&>", ConfigPath: "/etc/a&b/\u2028x\"y\"", MaxFrequency: 500})
	if err != nil {
		t.Fatal(err)
	}
	var replies []Reply
	for _, r := range []SetFrequencyResult{{}, {AppliedMonoNS: 1}, {AppliedMonoNS: -7}, {AppliedMonoNS: math.MaxInt64}} {
		replies = append(replies, Reply{ID: 3, OK: true, Result: appendSetFrequencyResult(nil, r)})
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(appendSetFrequencyResult(nil, r)); got != string(b) {
			t.Errorf("result %+v: %s, json.Marshal %s", r, got, b)
		}
	}
	replies = append(replies, Reply{}, Reply{ID: math.MaxUint64}, Reply{ID: 1, OK: true}, Reply{ID: 2, OK: true, Result: hello})
	for _, rep := range replies {
		got, ok := appendReply(nil, rep)
		if !ok {
			t.Fatalf("%+v: not written by hand", rep)
		}
		want, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%+v:\n got %s\nwant %s", rep, got, want)
		}
	}
	if _, ok := appendReply(nil, Reply{ID: 1, Error: "no", Code: CodeFailed}); ok {
		t.Error("a refusal written by hand")
	}
}

// FuzzFastRequest: whatever the scanner takes, decodeStrict takes too,
// with the same value.
func FuzzFastRequest(f *testing.F) {
	for i, a := range engineArgs {
		b, err := json.Marshal(a)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(engineFrame(f, uint64(i), OpSetFrequency, a), b)
	}
	f.Add([]byte(`{"v":1,"id":1,"op":"x","args":[{"a":[]},"b",true,-0.5e+3]}`), []byte(`{"ppm":1,"ppm":2}`))
	f.Fuzz(func(t *testing.T, body, args []byte) {
		req, ok := fastRequest(body)
		sameAsStrict(t, body, ok, req, &Request{})
		a, ok := fastFrequencyArgs(args)
		sameAsStrict(t, args, ok, a, &FrequencyArgs{})
	})
}

// sameAsStrict fails t if the fast path took data (ok) and decodeStrict
// refuses it or decodes it into want as something other than got.
func sameAsStrict[T any](t *testing.T, data []byte, ok bool, got T, want *T) {
	t.Helper()
	if !ok {
		return
	}
	if err := decodeStrict(data, want); err != nil {
		t.Fatalf("%q: fast path took what decodeStrict refuses: %v", data, err)
	}
	if !reflect.DeepEqual(got, *want) {
		t.Fatalf("%q: fast %+v, decodeStrict %+v", data, got, *want)
	}
}

// BenchmarkHandleSetFrequency: the parent's work for an update's request,
// from the frame read to the reply's frame body.
func BenchmarkHandleSetFrequency(b *testing.B) {
	p := &Parent{Driver: platform.NewNull(0), Logger: slog.New(slog.DiscardHandler)}
	if err := p.Init(); err != nil {
		b.Fatal(err)
	}
	body := engineFrame(b, 1234, OpSetFrequency, FrequencyArgs{PPM: 12.5, BasePPM: f64(12.25), EndInNS: i64(5e8),
		Sync: &SyncStatusArgs{Synced: true, MaxErrorNS: 2e6, EstErrorNS: 1e5}})
	b.ReportAllocs()
	for b.Loop() {
		rep, _ := p.Handle(body)
		if !rep.OK {
			b.Fatal(rep.Error)
		}
		if _, err := encodeReply(rep); err != nil {
			b.Fatal(err)
		}
	}
}
