// Package strictjson refuses the JSON that encoding/json lets through even
// with DisallowUnknownFields: a key that names a field only in another
// case ({"Confirm":true} for "confirm"), and a key given twice (of which
// encoding/json keeps the last). Check looks at every object whose Go type
// is a struct or a map, at any depth (through pointers, slices and
// arrays), and can require every field of a struct whose tag lacks
// omitempty. It only reads
// keys: the caller's decoder judges the values and the syntax.
//
// Used by the privilege-separated parent (service/privsep), which trusts
// nothing its engine sends, and by the control API (service/control).
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode"
)

// Check checks the keys of data, one JSON value, against v's type (a
// pointer to it, or the value itself); a struct's value must be an
// object (encoding/json takes null for a struct left as it is). With required, every field whose
// json tag lacks omitempty must be present in each object. Values whose
// type decodes itself (json.Unmarshaler, encoding.TextUnmarshaler, as
// json.RawMessage and time.Time do) and interfaces are not looked into.
// The errors name the field by its path ("sync.extra").
func Check(data []byte, v any, required bool) error {
	t := reflect.TypeOf(v)
	if t == nil {
		return nil
	}
	return check(data, t, required, "")
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func check(data []byte, t reflect.Type, required bool, path string) error {
	isPtr := t.Kind() == reflect.Pointer
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if selfDecoding(t) {
		return nil
	}
	i := skipSpace(data, 0)
	if i >= len(data) {
		return errors.New("malformed JSON: no value")
	}
	switch t.Kind() {
	case reflect.Struct:
		if data[i] != '{' {
			// encoding/json leaves a struct as it is for null: the
			// whole value must be an object, and with required fields
			// only a pointer may be null further in.
			if path == "" {
				return errors.New("not a JSON object")
			}
			if required && !isPtr && bytes.HasPrefix(data[i:], []byte("null")) {
				return fmt.Errorf("field %q is null", strings.TrimSuffix(path, "."))
			}
			return nil // a pointer's null, or a type error the decoder reports
		}
		ms, err := members(data)
		if err != nil {
			return err
		}
		fs := fieldsOf(t)
		seen := make([]bool, len(fs.list))
		for _, m := range ms {
			fi, ok := fs.byName[m.key]
			if !ok {
				if want := fs.folded(m.key); want != "" {
					return fmt.Errorf("unknown field %q (the field is %q: names are case-sensitive)", path+clip(m.key), path+want)
				}
				return fmt.Errorf("unknown field %q", path+clip(m.key))
			}
			if seen[fi] {
				return fmt.Errorf("field %q given twice", path+m.key)
			}
			seen[fi] = true
			if nested(fs.list[fi].typ) {
				if err := check(m.val, fs.list[fi].typ, required, path+m.key+"."); err != nil {
					return err
				}
			}
		}
		if required {
			for fi, f := range fs.list {
				if f.required && !seen[fi] {
					return fmt.Errorf("field %q is missing", path+f.name)
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if data[i] != '[' || t.Elem().Kind() == reflect.Uint8 {
			return nil // null, a []byte's base64 string, or a type error
		}
		els, err := elements(data)
		if err != nil {
			return err
		}
		if !nested(t.Elem()) {
			return nil
		}
		if t.Kind() == reflect.Array && len(els) > t.Len() {
			els = els[:t.Len()] // encoding/json drops the rest
		}
		for n, el := range els {
			if err := check(el, t.Elem(), required, fmt.Sprintf("%s%d.", path, n)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if data[i] != '{' {
			return nil
		}
		ms, err := members(data)
		if err != nil {
			return err
		}
		seen := make(map[string]bool, len(ms))
		for _, m := range ms {
			if seen[m.key] {
				return fmt.Errorf("key %q given twice", path+clip(m.key))
			}
			seen[m.key] = true
		}
		if !nested(t.Elem()) {
			return nil
		}
		for _, m := range ms {
			if err := check(m.val, t.Elem(), required, path+clip(m.key)+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

// nested reports whether a value of type t may hold an object that
// check looks into.
func nested(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Array, reflect.Map:
		return !selfDecoding(t)
	}
	return false
}

// decoders caches selfDecoding's answer for each type: Implements
// compares method names one by one, and the parent asks about the same
// few types at every request.
var decoders sync.Map // reflect.Type → bool

// selfDecoding reports whether a *t decodes itself (json.Unmarshaler or
// encoding.TextUnmarshaler), so that its keys are not check's to judge.
func selfDecoding(t reflect.Type) bool {
	if v, ok := decoders.Load(t); ok {
		return v.(bool)
	}
	pt := reflect.PointerTo(t)
	self := pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler)
	decoders.Store(t, self)
	return self
}

// field is one JSON key of a struct.
type field struct {
	name     string
	typ      reflect.Type
	required bool // the tag lacks omitempty (and omitzero)
}

type fields struct {
	list   []field
	byName map[string]int
}

// folded returns the field whose name equals key but for case, if any.
func (fs fields) folded(key string) string {
	for _, f := range fs.list {
		if strings.EqualFold(f.name, key) {
			return f.name
		}
	}
	return ""
}

// cache holds the fields of each struct type seen: the parent decodes a
// handful of types, over and over.
var cache sync.Map // reflect.Type → fields

// fieldsOf lists t's JSON keys as encoding/json names them: the tag's
// name (if valid) or else the field's. The fields of embedded structs
// without a tag name are promoted, level by level: a name at a shallower
// level hides the deeper ones, and two at one level leave the tagged one,
// or none (encoding/json then ignores the name, and so refuses the key as
// unknown); a struct embedded twice at one level has all its names
// cancelled that way. A field promoted through an embedded pointer is
// never required: encoding/json leaves it out when the pointer is nil.
func fieldsOf(t reflect.Type) fields {
	if fs, ok := cache.Load(t); ok {
		return fs.(fields)
	}
	fs := fields{byName: map[string]int{}}
	type level struct {
		t      reflect.Type
		viaPtr bool
		count  int // times embedded at this level
	}
	type candidate struct {
		field
		tagged bool
	}
	taken := map[string]bool{} // named at a shallower level (kept or dropped)
	visited := map[reflect.Type]bool{}
	for next := []level{{t: t, count: 1}}; len(next) > 0; {
		cur := next
		next = nil
		at := map[reflect.Type]int{} // index in next
		var order []string
		found := map[string][]candidate{}
		for _, lv := range cur {
			if visited[lv.t] {
				continue // seen at a shallower level
			}
			visited[lv.t] = true
			for i := range lv.t.NumField() {
				sf := lv.t.Field(i)
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validName(name) {
					name = ""
				}
				ft, ptr := sf.Type, false
				if sf.Anonymous && ft.Kind() == reflect.Pointer {
					ft, ptr = ft.Elem(), true
				}
				embeddedStruct := sf.Anonymous && ft.Kind() == reflect.Struct
				if !sf.IsExported() && !embeddedStruct {
					continue // an unexported embedded struct may have exported fields
				}
				if embeddedStruct && name == "" {
					if j, ok := at[ft]; ok {
						next[j].count++
					} else {
						at[ft] = len(next)
						next = append(next, level{t: ft, viaPtr: lv.viaPtr || ptr, count: 1})
					}
					continue
				}
				tagged := name != ""
				if !tagged {
					name = sf.Name
				}
				if taken[name] {
					continue // hidden by a shallower field of that name
				}
				req := !lv.viaPtr && !hasOption(opts, "omitempty") && !hasOption(opts, "omitzero")
				if _, ok := found[name]; !ok {
					order = append(order, name)
				}
				c := candidate{field{name: name, typ: sf.Type, required: req}, tagged}
				for range min(lv.count, 2) {
					found[name] = append(found[name], c)
				}
			}
		}
		for _, name := range order {
			cs := found[name]
			taken[name] = true
			var win []candidate
			for _, c := range cs {
				if c.tagged {
					win = append(win, c)
				}
			}
			if len(cs) == 1 {
				win = cs
			}
			if len(win) != 1 {
				continue // ambiguous: encoding/json ignores the name
			}
			fs.byName[name] = len(fs.list)
			fs.list = append(fs.list, win[0].field)
		}
	}
	cache.Store(t, fs)
	return fs
}

// validName reports whether encoding/json takes name from a tag: not
// empty, and only letters, digits and the punctuation it allows.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c) {
			return false
		}
	}
	return true
}

// hasOption reports whether a tag's options (after the name) hold opt.
func hasOption(opts, opt string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// member is one key of an object and its value, undecoded.
type member struct {
	key string
	val []byte
}

// members returns the members of the JSON object data, in order, without
// judging their values. It fails when data does not look like an object,
// and never reads past its end.
func members(data []byte) ([]member, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, errors.New("not a JSON object")
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return nil, nil
	}
	var ms []member
	for {
		if i >= len(data) || data[i] != '"' {
			return nil, errors.New("malformed JSON object: a key must be a string")
		}
		end, escaped := stringEnd(data, i)
		if end < 0 {
			return nil, errors.New("malformed JSON object: unterminated string")
		}
		key := string(data[i+1 : end-1])
		if escaped {
			if err := json.Unmarshal(data[i:end], &key); err != nil {
				return nil, err
			}
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return nil, errors.New("malformed JSON object: a key without a value")
		}
		start := skipSpace(data, i+1)
		if i = valueEnd(data, start); i < 0 {
			return nil, errors.New("malformed JSON object: unexpected end")
		}
		ms = append(ms, member{key, data[start:i]})
		i = skipSpace(data, i)
		if i >= len(data) {
			return nil, errors.New("malformed JSON object: unexpected end")
		}
		switch data[i] {
		case '}':
			return ms, nil
		case ',':
			i = skipSpace(data, i+1)
		default:
			return nil, errors.New("malformed JSON object: expected , or }")
		}
	}
}

// elements returns the elements of the JSON array data, undecoded.
func elements(data []byte) ([][]byte, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, errors.New("not a JSON array")
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return nil, nil
	}
	var els [][]byte
	for {
		start := i
		if i = valueEnd(data, start); i < 0 {
			return nil, errors.New("malformed JSON array: unexpected end")
		}
		els = append(els, data[start:i])
		i = skipSpace(data, i)
		if i >= len(data) {
			return nil, errors.New("malformed JSON array: unexpected end")
		}
		switch data[i] {
		case ']':
			return els, nil
		case ',':
			i = skipSpace(data, i+1)
		default:
			return nil, errors.New("malformed JSON array: expected , or ]")
		}
	}
}

// valueEnd returns the index just past the JSON value starting at data[i]
// (a string, an object or array with everything in it, or a bare word
// or number), or -1 when data ends first. It does not judge the value.
func valueEnd(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		end, _ := stringEnd(data, i)
		return end
	case '{', '[':
		depth := 0
		for ; i < len(data); i++ {
			switch data[i] {
			case '"':
				end, _ := stringEnd(data, i)
				if end < 0 {
					return -1
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for ; i < len(data); i++ {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at
// data[i] (a quote), or -1 when it does not end, and whether it needs
// decoding (an escape, or bytes beyond ASCII, which may not be UTF-8).
func stringEnd(data []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		default:
			escaped = escaped || data[j] >= 0x80
		}
	}
	return -1, escaped
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// clip shortens a key for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
