package problem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// DecodeJSON strictly decodes one JSON object from body into v: unknown fields,
// wrong types, trailing data and malformed JSON are 400s naming the field.
//
// It is the one decoder of every JSON body a client sends, and it is stricter
// than encoding/json, which PostgreSQL and a payment API both need:
//
//   - a string must be valid UTF-8 and hold whole characters: invalid bytes
//     and lone UTF-16 surrogates ("\ud800" unpaired) are a 400 naming the
//     field (encoding/json would silently turn them into U+FFFD);
//   - a string holding NUL ("\u0000") is a 422 naming the field: PostgreSQL
//     text cannot store it;
//   - a key given twice in one object (at any depth; for a field, in any
//     letter case, as encoding/json matches them) is a 400: "last wins"
//     hides what the client meant;
//   - a number is written in plain decimal notation: the exponent form
//     (5e3) is a 422 naming the field;
//   - an amount (a decimal.Decimal field) is a JSON number or a string of
//     decimal digits ("200000", "12.50", an optional leading '-'), at most
//     MaxAmountDigits characters; anything else ("5e3", " 5", "+5", "0x10")
//     is a 422 naming the field. Whether the amount fits its currency
//     (fractional VND, negative) is the domain's to say;
//   - objects and arrays nest at most MaxDepth deep.
func DecodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return BadRequest("body", "a JSON object is required")
	}
	if err := check(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BadRequest("body", "unexpected data after the JSON object")
	}
	return nil
}

// Limits of DecodeJSON.
const (
	// MaxDepth bounds how deeply objects and arrays nest (no request needs
	// more than a few levels).
	MaxDepth = 32
	// MaxAmountDigits bounds an amount's length: far above any amount
	// (money.Valid refuses money.Limit, 10^15, and more), far below what makes
	// parsing a decimal slow.
	MaxAmountDigits = 40
)

// check scans the JSON text with v's type beside it, before encoding/json
// decodes it, and refuses what DecodeJSON documents. It reports the first
// problem it meets, naming the field by its JSON path (lines[0].amount).
// Text that is not JSON at all is left to encoding/json, whose error says
// where it breaks (it also refuses anything after the value).
func check(body []byte, t reflect.Type) error {
	if !json.Valid(body) {
		return nil
	}
	s := &scanner{b: body}
	s.ws()
	return s.value(t, 0)
}

// scanner reads JSON text known to be valid (json.Valid), keeping the path
// to the value it is at; the path is spelled out only for an error.
type scanner struct {
	b    []byte
	i    int
	path []step
}

// step is one step of a path: a key of an object or an index of an array.
type step struct {
	key   string
	index int // -1 for a key
}

func (s *scanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// field is the path so far, as a problem names it: "body" for the whole.
func (s *scanner) field() string {
	if len(s.path) == 0 {
		return "body"
	}
	var b strings.Builder
	for i, st := range s.path {
		switch {
		case st.index >= 0:
			fmt.Fprintf(&b, "[%d]", st.index)
		case !plainKey(st.key):
			k := st.key
			if len(k) > 64 {
				k = k[:64]
			}
			b.WriteString("[" + strconv.QuoteToASCII(k) + "]")
		case i > 0:
			b.WriteString("." + st.key)
		default:
			b.WriteString(st.key)
		}
	}
	return b.String()
}

// plainKey: a key named as is in a path (payer.name); any other is quoted,
// so a client's bytes are never echoed raw (metadata["odd key"]).
func plainKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (s *scanner) value(t reflect.Type, depth int) error {
	t = deref(t)
	switch c := s.b[s.i]; {
	case c == '{' || c == '[':
		if depth >= MaxDepth {
			return BadRequest(s.field(), "objects and arrays nest at most %d deep", MaxDepth)
		}
		if c == '{' {
			return s.object(t, depth+1)
		}
		return s.array(t, depth+1)
	case c == '"':
		raw, err := s.str()
		if err != nil {
			return err
		}
		if isAmount(t) && !plainAmount(raw) {
			return Invalid(s.field(), "an amount is a JSON number or a string of at most %d decimal digits such as \"200000\" (no exponent, sign or spaces)", MaxAmountDigits)
		}
	case c == 't' || c == 'n':
		s.i += 4
	case c == 'f':
		s.i += 5
	default: // a number
		start := s.i
		for s.i < len(s.b) && strings.IndexByte("-+.0123456789eE", s.b[s.i]) >= 0 {
			s.i++
		}
		num := s.b[start:s.i]
		if bytes.ContainsAny(num, "eE") {
			return Invalid(s.field(), "a number in plain decimal notation such as 5000, not the exponent form (%.40s)", num)
		}
		if isAmount(t) && len(num) > MaxAmountDigits {
			return Invalid(s.field(), "an amount has at most %d digits", MaxAmountDigits)
		}
	}
	return nil
}

// plainAmount: raw (a string literal's bytes between its quotes) is a
// decimal such as 200000 or -12.50, of at most MaxAmountDigits.
func plainAmount(raw []byte) bool {
	if len(raw) > 0 && raw[0] == '-' {
		raw = raw[1:]
	}
	if len(raw) == 0 || len(raw) > MaxAmountDigits {
		return false
	}
	digits, dot := 0, false
	for _, c := range raw {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && digits > 0:
			dot, digits = true, 0
		default:
			return false
		}
	}
	return digits > 0
}

func (s *scanner) object(t reflect.Type, depth int) error {
	var fields map[string]field
	var elem reflect.Type
	switch {
	case t == nil:
	case t.Kind() == reflect.Struct:
		fields = fieldsOf(t)
	case t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	var seen keySet
	s.i++ // {
	s.ws()
	if s.b[s.i] == '}' {
		s.i++
		return nil
	}
	s.path = append(s.path, step{index: -1})
	at := len(s.path) - 1
	for {
		raw, err := s.str() // the key
		if err != nil {
			return err
		}
		key := unquote(raw)
		s.path[at].key = key
		id, vt := key, elem
		if fields != nil {
			f, ok := fields[key]
			if !ok {
				f, ok = foldField(fields, key)
			}
			if ok {
				id, vt = f.name, f.typ // a struct's keys are its fields (a map's are never beside them)
			} else {
				vt = nil // an unknown field: encoding/json names it
			}
		}
		if !seen.add(id) {
			return BadRequest(s.field(), "the key is given twice in one object")
		}
		s.ws()
		s.i++ // :
		s.ws()
		if err := s.value(vt, depth); err != nil {
			return err
		}
		s.ws()
		c := s.b[s.i]
		s.i++
		if c == '}' {
			s.path = s.path[:at]
			return nil
		}
		s.ws() // after ','
	}
}

func (s *scanner) array(t reflect.Type, depth int) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	s.i++ // [
	s.ws()
	if s.b[s.i] == ']' {
		s.i++
		return nil
	}
	s.path = append(s.path, step{})
	at := len(s.path) - 1
	for n := 0; ; n++ {
		s.path[at].index = n
		if err := s.value(elem, depth); err != nil {
			return err
		}
		s.ws()
		c := s.b[s.i]
		s.i++
		if c == ']' {
			s.path = s.path[:at]
			return nil
		}
		s.ws()
	}
}

// keySet remembers an object's keys: a slice while small, a map beyond.
type keySet struct {
	few  []string
	many map[string]bool
}

func (k *keySet) add(id string) bool {
	if k.many != nil {
		if k.many[id] {
			return false
		}
		k.many[id] = true
		return true
	}
	for _, x := range k.few {
		if x == id {
			return false
		}
	}
	if len(k.few) < 16 {
		k.few = append(k.few, id)
		return true
	}
	k.many = make(map[string]bool, 32)
	for _, x := range k.few {
		k.many[x] = true
	}
	k.many[id] = true
	return true
}

// unquote is a key's text: its bytes, or decoded when it has escapes.
func unquote(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var out string
	_ = json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &out)
	return out
}

// str reads the string literal at s.i and returns its bytes between the
// quotes, refusing invalid UTF-8, a lone surrogate escape and NUL. When it
// is an object's key, the key (already on the path) is what is named.
func (s *scanner) str() ([]byte, error) {
	s.i++ // opening quote
	start := s.i
	for {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			return raw, nil
		case c == '\\':
			if s.b[s.i+1] != 'u' {
				s.i += 2
				continue
			}
			r := hex4(s.b[s.i+2 : s.i+6])
			s.i += 6
			switch {
			case r == 0:
				return nil, Invalid(s.fieldOfString(start), "must not contain NUL (\\u0000)")
			case utf16.IsSurrogate(r):
				lo := rune(-1)
				if r < 0xdc00 && s.i+6 <= len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					lo = hex4(s.b[s.i+2 : s.i+6])
				}
				if utf16.DecodeRune(r, lo) == utf8.RuneError {
					return nil, BadRequest(s.fieldOfString(start), "a lone UTF-16 surrogate (\\u%04x) is not a character", r)
				}
				s.i += 6
			}
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, BadRequest(s.fieldOfString(start), "not valid UTF-8 (byte 0x%02x)", c)
			}
			s.i += n
		}
	}
}

// fieldOfString names the string starting at start: the value at the
// path, or, for a key not yet on it, that key.
func (s *scanner) fieldOfString(start int) string {
	if n := len(s.path); n > 0 && s.path[n-1].index < 0 && s.isKey(start) {
		// The key being read: name it (as far as it can be read).
		end := start
		for end < len(s.b) && s.b[end] != '"' {
			if s.b[end] == '\\' {
				end++
			}
			end++
		}
		s.path[n-1].key = unquote(s.b[start:end])
	}
	return s.field()
}

// isKey: the string at start is an object's key (after '{' or ',').
func (s *scanner) isKey(start int) bool {
	j := start - 2 // before the opening quote
	for j >= 0 && (s.b[j] == ' ' || s.b[j] == '\t' || s.b[j] == '\n' || s.b[j] == '\r') {
		j--
	}
	return j >= 0 && (s.b[j] == '{' || s.b[j] == ',')
}

// hex4 reads the 4 hex digits of a \u escape (valid JSON has them).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		}
	}
	return r
}

// --- the target type's JSON fields, as encoding/json finds them ---

type field struct {
	name string // the JSON name; identifies the field
	typ  reflect.Type
}

var fieldCache sync.Map // reflect.Type → map[string]field

// fieldsOf lists a struct's JSON fields by name, with embedded structs'
// fields promoted (the outer one wins, as in encoding/json).
func fieldsOf(t reflect.Type) map[string]field {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]field)
	}
	fields := map[string]field{}
	collectFields(t, fields, 0)
	fieldCache.Store(t, fields)
	return fields
}

func collectFields(t reflect.Type, into map[string]field, depth int) {
	if depth > 8 {
		return
	}
	var embedded []reflect.Type
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			if et := deref(sf.Type); et.Kind() == reflect.Struct {
				embedded = append(embedded, et)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if _, ok := into[name]; !ok {
			into[name] = field{name: name, typ: sf.Type}
		}
	}
	for _, et := range embedded {
		collectFields(et, into, depth+1)
	}
}

// foldField finds key's field regardless of letter case, as encoding/json
// does when no name matches exactly.
func foldField(fields map[string]field, key string) (field, bool) {
	for name, f := range fields {
		if strings.EqualFold(name, key) {
			return f, true
		}
	}
	return field{}, false
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

var (
	decimalType     = reflect.TypeOf(decimal.Decimal{})
	nullDecimalType = reflect.TypeOf(decimal.NullDecimal{})
)

// isAmount: t is a decimal.Decimal, a decimal.NullDecimal, or a struct that
// embeds a decimal.Decimal first (a request's own amount type).
func isAmount(t reflect.Type) bool {
	switch {
	case t == nil:
		return false
	case t == decimalType || t == nullDecimalType:
		return true
	case t.Kind() == reflect.Struct && t.NumField() > 0:
		f := t.Field(0)
		return f.Anonymous && f.Type == decimalType
	}
	return false
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return BadRequest(field, "expected %s, got JSON %s", typeName(typeErr.Type.String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return BadRequest("body", "malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return BadRequest(name, "unknown field")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("body", "truncated JSON")
	default:
		var p *Problem
		if errors.As(err, &p) {
			return p
		}
		var fe *FieldError
		if errors.As(err, &fe) {
			return fe
		}
		return BadRequest("body", "%v", err)
	}
}

func typeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		if goType == "decimal.Decimal" {
			return "a number"
		}
		return "an object"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	}
	return fmt.Sprintf("a %s", goType)
}
