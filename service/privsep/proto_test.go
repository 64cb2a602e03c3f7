package privsep

import (
	"testing"
)

// decodeStrict refuses unknown, duplicate, differently-cased and missing
// keys, at the top level and further in.
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
		{`{"ppm":1,"sync":{"synced":true,"max_error_ns":1,"est_error_ns":1}}`, true},
		{`{"ppm":1,"sync":{"synced":true,"max_error_ns":1,"est_error_ns":1,"synced":false}}`, false},
		{`{"ppm":1,"sync":{"Synced":true,"max_error_ns":1,"est_error_ns":1}}`, false},
		{`{"ppm":1,"sync":{"synced":true,"max_error_ns":1}}`, false},
		{`{"ppm":1} x`, false},
		{`{"ppm":1}}`, false},
		{`{"ppm":1}]`, false},
		{`{"ppm":1} ` + "\n", true},
		{`{"ppm":1,}`, false},
		{`{"ppm":"1"}`, false},
		{`null`, false},
		{` null `, false},
		{`[]`, false},
		{`{"ppm":1,"sync":null}`, true}, // an omitted pointer, as encoding/json writes it
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
