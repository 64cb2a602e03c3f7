package privsep

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// tokenKeys is the reference for topKeys: the top-level keys of a valid
// JSON object as encoding/json's tokenizer reads them.
func tokenKeys(data []byte) ([]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, false
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	return keys, true
}

var topKeysSeeds = []string{
	`{}`,
	` { } `,
	`{"v":1,"id":2,"op":"set_frequency","args":{"ppm":1.5,"base_ppm":1,"sync":{"synced":true}}}`,
	`{"a":[1,{"b":"}"},[]],"c":"x,y}","d":null}`,
	`{"esc\"aped":"\\","uni\u0063ode":true, "sp ace" : [ "]" ] }`,
	`{"a":{"a":{"a":{}}},"a":1}`,
	"{\n\t\"v\"\r\n:\t1\n}",
	`{"op":"x"}{"v":1}`,
	`[1,2]`,
	`{"a"}`,
	`{"a":`,
	`{"a":"`,
	`{1:2}`,
	`"str"`,
	``,
}

// topKeys reads the same keys as encoding/json's tokenizer from every
// valid object, and from anything at all it returns without panicking
// or reading past the end.
func TestTopKeys(t *testing.T) {
	for _, s := range topKeysSeeds {
		checkTopKeys(t, []byte(s))
	}
}

func FuzzTopKeys(f *testing.F) {
	for _, s := range topKeysSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkTopKeys)
}

func checkTopKeys(t *testing.T, data []byte) {
	got, err := topKeys(data)
	want, valid := tokenKeys(data)
	if !valid {
		return // the decoder after topKeys refuses it whatever topKeys said
	}
	if err != nil {
		t.Fatalf("topKeys(%q): %v, want %q", data, err, want)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("topKeys(%q) = %q, want %q", data, got, want)
	}
}

// decodeStrict refuses unknown, duplicate, differently-cased and missing
// keys at the top level, and unknown keys further in.
func TestDecodeStrict(t *testing.T) {
	type args struct {
		PPM  float64         `json:"ppm"`
		Base *float64        `json:"base_ppm,omitempty"`
		Sync *SyncStatusArgs `json:"sync,omitempty"`
	}
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{`{"ppm":1}`, true},
		{`{"ppm":1,"base_ppm":2}`, true},
		{`{"base_ppm":2}`, false},
		{`{"ppm":1,"ppm":1}`, false},
		{`{"PPM":1}`, false},
		{`{"ppm":1,"other":1}`, false},
		{`{"ppm":1,"sync":{"synced":true,"max_error_ns":1,"est_error_ns":1,"extra":1}}`, false},
		{`{"ppm":1} x`, false},
		{`{"ppm":1}}`, false},
		{`{"ppm":1}]`, false},
		{`{"ppm":1} ` + "\n", true},
		{`{"ppm":1,}`, false},
		{`{"ppm":"1"}`, false},
	} {
		var a args
		if err := decodeStrict([]byte(tt.in), &a); (err == nil) != tt.ok {
			t.Errorf("decodeStrict(%s): %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

// BenchmarkDecodeStrict is what the parent spends on the arguments of a
// clock update.
func BenchmarkDecodeStrict(b *testing.B) {
	req := []byte(`{"v":1,"id":12,"op":"set_frequency","args":{"ppm":12.345678901,"base_ppm":12.3,"end_in_ns":1000000000,"sync":{"synced":true,"max_error_ns":123456,"est_error_ns":2345}}}`)
	b.ReportAllocs()
	for b.Loop() {
		var r Request
		if err := decodeStrict(req, &r); err != nil {
			b.Fatal(err)
		}
		var a FrequencyArgs
		if err := decodeStrict(r.Args, &a); err != nil {
			b.Fatal(err)
		}
	}
}
