package privsep

// fast.go: the routine request without reflection. The idle service's
// parent wakes for little else than set_frequency, and decoding it with
// decodeStrict (strictjson's key check, then encoding/json, once for the
// envelope and once for the arguments) and encoding the reply with
// json.Marshal was nearly half of the parent's CPU time in a profile of
// the idle pair (README). Here a small scanner reads every request's
// envelope and set_frequency's arguments as the engine writes them, and
// every reply without an error is written by hand.
//
// The scanner takes only a narrow subset of JSON: no whitespace, no
// escapes in strings, no null, nesting at most maxDepth deep, each key
// once and spelt exactly, the required ones present, numbers that strconv
// parses in range (integers without a fraction or an exponent). Anything
// else is not refused here: it goes to decodeStrict, whose verdict (and
// error message) stands. So what the scanner accepts, decodeStrict
// accepts too, with the same value (FuzzFastRequest checks this).

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// scanner reads the subset from b[i:].
type scanner struct {
	b []byte
	i int
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// members calls f for each key of an object, with the scanner at the
// key's value; f reads the value and reports whether it could. The key is
// b's bytes: compared with switch string(key), it costs no allocation.
func (s *scanner) members(f func(key []byte) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		key, ok := s.strBytes()
		if !ok || !s.eat(':') || !f(key) {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

// str reads a string without escapes or control characters, in UTF-8.
func (s *scanner) str() (string, bool) {
	v, ok := s.strBytes()
	return string(v), ok
}

func (s *scanner) strBytes() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			if !utf8.Valid(v) {
				return nil, false
			}
			return v, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// number reads a JSON number and reports whether it is an integer (no
// fraction, no exponent).
func (s *scanner) number() (lit []byte, integer, ok bool) {
	start := s.i
	s.eat('-')
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	switch {
	case s.eat('0'):
	case digits() == 0:
		return nil, false, false
	}
	integer = true
	if s.eat('.') {
		integer = false
		if digits() == 0 {
			return nil, false, false
		}
	}
	if s.eat('e') || s.eat('E') {
		integer = false
		if !s.eat('+') {
			s.eat('-')
		}
		if digits() == 0 {
			return nil, false, false
		}
	}
	return s.b[start:s.i], integer, true
}

func (s *scanner) float() (float64, bool) {
	lit, _, ok := s.number()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(lit), 64)
	return v, err == nil
}

// integer reads a number without a fraction or an exponent.
func (s *scanner) integer() (string, bool) {
	lit, integer, ok := s.number()
	return string(lit), ok && integer
}

func (s *scanner) int64() (int64, bool) {
	lit, ok := s.integer()
	v, err := strconv.ParseInt(lit, 10, 64)
	return v, ok && err == nil
}

func (s *scanner) uint64() (uint64, bool) {
	lit, ok := s.integer()
	v, err := strconv.ParseUint(lit, 10, 64)
	return v, ok && err == nil
}

func (s *scanner) bool() (bool, bool) {
	switch {
	case s.i+4 <= len(s.b) && string(s.b[s.i:s.i+4]) == "true":
		s.i += 4
		return true, true
	case s.i+5 <= len(s.b) && string(s.b[s.i:s.i+5]) == "false":
		s.i += 5
		return false, true
	}
	return false, false
}

// maxDepth bounds the nesting value reads: encoding/json refuses
// deeper than 10,000 levels, and the scanner is recursive in the
// privileged process; nothing the engine sends nests more than twice.
const maxDepth = 4

// value reads past any value of the subset nested at most maxDepth deep
// (depth 1: a scalar or an object of scalars).
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.b) || depth > maxDepth {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.members(func([]byte) bool { return s.value(depth + 1) })
	case c == '[':
		s.i++
		if s.eat(']') {
			return true
		}
		for {
			if !s.value(depth + 1) {
				return false
			}
			if !s.eat(',') {
				return s.eat(']')
			}
		}
	case c == '"':
		_, ok := s.str()
		return ok
	case c == 't' || c == 'f':
		_, ok := s.bool()
		return ok
	default:
		_, _, ok := s.number()
		return ok
	}
}

// end reports whether the scanner read all of b.
func (s *scanner) end(ok bool) bool { return ok && s.i == len(s.b) }

// seen marks the keys of one object read so far, by number.
type seen uint8

// once marks key k and reports whether it was not marked before (a key
// given twice is not of the subset).
func (m *seen) once(k int) bool {
	bit := seen(1) << k
	if *m&bit != 0 {
		return false
	}
	*m |= bit
	return true
}

// all reports whether keys 0 to n-1 were read.
func (m seen) all(n int) bool { return m&(1<<n-1) == 1<<n-1 }

// fastRequest reads a request frame of the subset; ok false means
// "ask decodeStrict", not "malformed".
func fastRequest(body []byte) (req Request, ok bool) {
	s := scanner{b: body}
	var m seen // v, id and op are required (0-2); args may be left out
	ok = s.members(func(key []byte) bool {
		switch string(key) {
		case "v":
			v, ok := s.int64()
			req.V = int(v)
			return m.once(0) && ok && int64(req.V) == v
		case "id":
			var ok bool
			req.ID, ok = s.uint64()
			return m.once(1) && ok
		case "op":
			var ok bool
			req.Op, ok = s.str()
			return m.once(2) && ok
		case "args":
			start := s.i
			ok := s.value(1)
			// encoding/json keeps a copy of the value's bytes.
			req.Args = append([]byte(nil), body[start:s.i]...)
			return m.once(3) && ok
		}
		return false
	})
	return req, s.end(ok) && m.all(3)
}

// fastFrequencyArgs reads set_frequency's arguments of the subset.
func fastFrequencyArgs(raw []byte) (a FrequencyArgs, ok bool) {
	s := scanner{b: raw}
	var m seen // ppm is required (0)
	ok = s.members(func(key []byte) bool {
		switch string(key) {
		case "ppm":
			var ok bool
			a.PPM, ok = s.float()
			return m.once(0) && ok
		case "base_ppm":
			v, ok := s.float()
			a.BasePPM = &v
			return m.once(1) && ok
		case "sync":
			var ok bool
			a.Sync, ok = fastSyncStatus(&s)
			return m.once(2) && ok
		case "end_in_ns":
			v, ok := s.int64()
			a.EndInNS = &v
			return m.once(3) && ok
		}
		return false
	})
	return a, s.end(ok) && m.all(1)
}

// fastSyncStatus reads a SyncStatusArgs object of the subset, all three
// fields required.
func fastSyncStatus(s *scanner) (*SyncStatusArgs, bool) {
	var a SyncStatusArgs
	var m seen
	ok := s.members(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "synced":
			a.Synced, ok = s.bool()
			return m.once(0) && ok
		case "max_error_ns":
			a.MaxErrorNS, ok = s.int64()
			return m.once(1) && ok
		case "est_error_ns":
			a.EstErrorNS, ok = s.int64()
			return m.once(2) && ok
		}
		return false
	})
	return &a, ok && m.all(3)
}

// encodeReply is a reply's frame body.
func encodeReply(rep Reply) ([]byte, error) {
	if b, ok := appendReply(nil, rep); ok {
		return b, nil
	}
	return json.Marshal(rep)
}

// appendReply appends rep as json.Marshal would write it, for a reply
// without an error; ok false for any other reply. Its Result, if any,
// must be what json.Marshal or appendSetFrequencyResult wrote (compact,
// HTML-escaped): it is copied as it is, where json.Marshal would compact
// and escape it (Parent.Handle makes every Result one of those two).
func appendReply(b []byte, rep Reply) ([]byte, bool) {
	if rep.Error != "" || rep.Code != "" {
		return b, false
	}
	b = slices.Grow(b, 48+len(rep.Result))
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, rep.ID, 10)
	if rep.OK {
		b = append(b, `,"ok":true`...)
	}
	if len(rep.Result) > 0 {
		b = append(b, `,"result":`...)
		b = append(b, rep.Result...)
	}
	return append(b, '}'), true
}

// appendSetFrequencyResult appends r as json.Marshal would write it.
func appendSetFrequencyResult(b []byte, r SetFrequencyResult) []byte {
	if r.AppliedMonoNS == 0 {
		return append(b, "{}"...)
	}
	b = slices.Grow(b, 40)
	b = append(b, `{"applied_mono_ns":`...)
	b = strconv.AppendInt(b, r.AppliedMonoNS, 10)
	return append(b, '}')
}
