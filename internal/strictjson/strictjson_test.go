package strictjson

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// tokenKeys is the reference for members: the keys of a valid JSON object
// and their values as encoding/json's tokenizer reads them.
func tokenKeys(data []byte) ([]string, []string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, false
	}
	var keys, vals []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, false
		}
		keys, vals = append(keys, tok.(string)), append(vals, string(v))
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, false
	}
	return keys, vals, true
}

var memberSeeds = []string{
	`{}`,
	` { } `,
	`{"v":1,"id":2,"op":"set_frequency","args":{"ppm":1.5,"base_ppm":1,"sync":{"synced":true}}}`,
	`{"a":[1,{"b":"}"},[]],"c":"x,y}","d":null}`,
	`{"esc\"aped":"\\","uni\u0063ode":true, "sp ace" : [ "]" ] }`,
	`{"a":{"a":{"a":{}}},"a":1}`,
	"{\n\t\"v\"\r\n:\t1\n}",
	`{"n":-1.5e+3,"t":true,"f":false}`,
	`{"op":"x"}{"v":1}`,
	`[1,2]`,
	`{"a"}`,
	`{"a":`,
	`{"a":"`,
	`{"a":1 "b":2}`,
	`{1:2}`,
	`"str"`,
	``,
}

// members reads the same keys and values as encoding/json's tokenizer
// from every valid object, and from anything at all it returns without
// panicking or reading past the end.
func TestMembers(t *testing.T) {
	for _, s := range memberSeeds {
		checkMembers(t, []byte(s))
	}
}

func FuzzMembers(f *testing.F) {
	for _, s := range memberSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkMembers)
}

func checkMembers(t *testing.T, data []byte) {
	ms, err := members(data)
	keys, vals, valid := tokenKeys(data)
	if !valid {
		return // the decoder refuses it whatever members said
	}
	if err != nil {
		t.Fatalf("members(%q): %v, want %q", data, err, keys)
	}
	var gk, gv []string
	for _, m := range ms {
		gk, gv = append(gk, m.key), append(gv, string(m.val))
	}
	if !slices.Equal(gk, keys) || !slices.Equal(gv, vals) {
		t.Fatalf("members(%q) = %q %q, want %q %q", data, gk, gv, keys, vals)
	}
}

type inner struct {
	A int  `json:"a"`
	B *int `json:"b,omitempty"`
}

type Embedded struct {
	E string `json:"e"`
}

type outer struct {
	Embedded
	X     int              `json:"x"`
	In    *inner           `json:"in,omitempty"`
	List  []inner          `json:"list,omitempty"`
	ByKey map[string]inner `json:"by_key,omitempty"`
	Raw   json.RawMessage  `json:"raw,omitempty"`
	When  time.Time        `json:"when,omitzero"`
	Bytes []byte           `json:"bytes,omitempty"`
	Any   any              `json:"any,omitempty"`
	Plain string           // no tag: its key is its name
	Skip  int              `json:"-"`
	hid   int
}

// Check refuses differently-cased and duplicate keys at every depth, and
// missing required fields when asked; it does not look into values that
// decode themselves, nor into interfaces.
func TestCheck(t *testing.T) {
	checkCases[outer](t, false, []checkCase{
		{`{"x":1,"e":"","Plain":""}`, true, ""},
		{`{"x":1}`, false, ""},
		{`{"x":1,"Plain":""}`, true, `field "e" is missing`},
		{`{"X":1}`, false, `unknown field "X" (the field is "x"`},
		{`{"x":1,"x":2}`, false, `field "x" given twice`},
		{`{"plain":""}`, false, `unknown field "plain" (the field is "Plain"`},
		{`{"Skip":1}`, false, `unknown field "Skip"`},
		{`{"hid":1}`, false, `unknown field "hid"`},
		{`{"Embedded":{"e":""}}`, false, `unknown field "Embedded"`},
		{`{"in":{"a":1,"A":2}}`, false, `unknown field "in.A"`},
		{`{"in":{"a":1,"a":2}}`, false, `field "in.a" given twice`},
		{`{"in":{}}`, true, `field "in.a" is missing`},
		{`{"in":null}`, false, ""},
		{`{"list":[{"a":1},{"a":1,"c":3}]}`, false, `unknown field "list.1.c"`},
		{`{"by_key":{"k":{"a":1,"b":1,"b":2}}}`, false, `field "by_key.k.b" given twice`},
		{`{"raw":{"anything":1,"anything":2}}`, false, ""},
		{`{"when":"2026-01-02T03:04:05Z"}`, false, ""},
		{`{"bytes":"AAEC"}`, false, ""},
		{`{"any":{"a":1,"a":2}}`, false, ""},
		{`{"x":"not a number"}`, false, ""}, // the decoder's to refuse
		{`{"x":1`, false, "malformed"},
		{` `, false, "no value"},
	})
}

// A struct inside a slice at the top, and a value that is not an object.
func TestCheckTopLevel(t *testing.T) {
	var list []inner
	if err := Check([]byte(`[{"a":1},{"A":1}]`), &list, false); err == nil || !strings.Contains(err.Error(), `"1.A"`) {
		t.Errorf("slice: %v", err)
	}
	var n int
	if err := Check([]byte(`5`), &n, true); err != nil {
		t.Errorf("int: %v", err)
	}
	var o outer
	if err := Check([]byte(` null`), &o, false); err == nil || err.Error() != "not a JSON object" {
		t.Errorf("null for a struct: %v", err)
	}
	if err := Check([]byte(`{}`), nil, true); err != nil {
		t.Errorf("nil: %v", err)
	}
}

type deepX struct {
	X struct {
		A int `json:"a"`
	} `json:"X"`
}
type e1 struct{ deepX }
type e2 struct {
	X struct {
		B int `json:"b"`
	} `json:"X"`
}
type tagA struct {
	N int `json:"n"`
}
type untagA struct{ N int }
type twoUntagged struct{ M int }
type twoUntagged2 struct{ M int }
type PtrEmb struct {
	P int `json:"p"`
}
type promoted struct {
	e1     // X at depth 2
	e2     // X at depth 1: wins
	tagA   // n, tagged
	untagA // N, untagged: a different name (case matters)
	twoUntagged
	twoUntagged2 // M twice, neither tagged: encoding/json ignores M
	*PtrEmb
	Arr [2]inner `json:"arr"`
}

// Promoted fields are named as encoding/json names them: the shallower
// wins, two untagged at one level cancel, fields behind an embedded
// pointer are not required; an array's extra elements are not looked at.
func TestCheckPromoted(t *testing.T) {
	checkCases[promoted](t, true, []checkCase{
		{`{"X":{"b":1}}`, false, ""},
		{`{"X":{"a":1}}`, false, `unknown field "X.a"`},
		{`{"n":1,"N":2}`, false, ""},
		{`{"M":1}`, false, `unknown field "M"`},
		{`{"X":{"b":1},"n":1,"N":1,"arr":[]}`, true, ""},
		{`{"p":1}`, false, ""},
		{`{"arr":[{"a":1},{"a":2},{"A":3}]}`, false, ""},
		{`{"arr":[{"a":1},{"A":2}]}`, false, `unknown field "arr.1.A"`},
	})
}

// A key given twice in a map's object.
func TestCheckMapDuplicates(t *testing.T) {
	var m map[string]int
	if err := Check([]byte(`{"a":1,"a":2}`), &m, false); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("got %v", err)
	}
	if err := Check([]byte(`{"a":1,"b":2}`), &m, false); err != nil {
		t.Errorf("got %v", err)
	}
}

type twiceInner struct{ Y int }
type twiceA struct{ twiceInner }
type twiceB struct{ twiceInner }
type unexpTagged struct {
	V int `json:"v"`
}
type twice struct {
	twiceA
	twiceB      // twiceInner twice at one level: Y is ignored
	unexpTagged `json:"u"`
	Bad         int     `json:"a b\\"` // not a valid name: the field's
	Needed      inner   `json:"needed"`
	List        []inner `json:"list"`
}

// A struct embedded twice at one level cancels its names; an unexported
// embedded struct with a tag name is a field of that name; an invalid tag
// name gives way to the field's; with required, a struct that is not a
// pointer may not be null.
func TestCheckTwiceEmbedded(t *testing.T) {
	checkCases[twice](t, true, []checkCase{
		{`{"Y":1}`, false, `unknown field "Y"`},
		{`{"u":{"v":1}}`, false, ""},
		{`{"Bad":1}`, false, ""},
		{`{"u":{"v":1},"Bad":1,"needed":{"a":1},"list":[{"a":1}]}`, true, ""},
		{`{"u":{"v":1},"Bad":1,"needed":null,"list":[]}`, true, `field "needed" is null`},
		{`{"u":{"v":1},"Bad":1,"needed":{"a":1},"list":[null]}`, true, `field "list.0" is null`},
		{`{"needed":null}`, false, ""},
	})
}

// checkCase is Check's input, whether required, and the error expected
// ("": none).
type checkCase struct {
	in       string
	required bool
	err      string
}

// checkCases checks each case into a new T; with decodes, whatever Check
// accepts must decode with encoding/json without an unknown field too.
func checkCases[T any](t *testing.T, decodes bool, cases []checkCase) {
	t.Helper()
	for _, tt := range cases {
		var v T
		err := Check([]byte(tt.in), &v, tt.required)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("Check(%s, %v): %v, want nil", tt.in, tt.required, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("Check(%s, %v): %v, want %q", tt.in, tt.required, err, tt.err)
		}
		if decodes && err == nil {
			dec := json.NewDecoder(strings.NewReader(tt.in))
			dec.DisallowUnknownFields()
			if derr := dec.Decode(&v); derr != nil {
				t.Errorf("Check accepted %s, encoding/json refuses it: %v", tt.in, derr)
			}
		}
	}
}
