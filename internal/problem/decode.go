package problem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
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
	// (money.CheckAmount refuses 10^15 and more), far below what makes
	// parsing a decimal slow.
	MaxAmountDigits = 40
)

var amountRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// check walks the JSON text with v's type beside it, before encoding/json
// decodes it, and refuses what DecodeJSON documents. It reports the first
// problem it meets, naming the field by its JSON path (lines[0].amount).
func check(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	w := &walker{dec: dec, body: body}
	return w.value(t, "", 0)
}

type walker struct {
	dec  *json.Decoder
	body []byte
}

// token reads the next token and returns the raw bytes it was read from
// (possibly led by white space and a ',' or ':').
func (w *walker) token(path string) (json.Token, []byte, error) {
	start := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		perr := decodeError(err)
		var p *Problem
		if path != "" && errors.As(perr, &p) {
			p.Detail += " (in " + path + ")"
		}
		return nil, nil, perr
	}
	return tok, w.body[start:w.dec.InputOffset()], nil
}

func (w *walker) value(t reflect.Type, path string, depth int) error {
	tok, raw, err := w.token(path)
	if err != nil {
		return err
	}
	t = deref(t)
	switch x := tok.(type) {
	case json.Delim:
		if depth >= MaxDepth {
			return BadRequest(fieldName(path), "objects and arrays nest at most %d deep", MaxDepth)
		}
		switch x {
		case '{':
			return w.object(t, path, depth+1)
		case '[':
			return w.array(t, path, depth+1)
		}
		return nil // a stray '}' or ']': encoding/json's Token has refused it already
	case string:
		if err := checkString(raw, path); err != nil {
			return err
		}
		if isAmount(t) && (len(x) > MaxAmountDigits || !amountRE.MatchString(x)) {
			return Invalid(fieldName(path), "an amount is a JSON number or a string of at most %d decimal digits such as \"200000\" (no exponent, sign or spaces)", MaxAmountDigits)
		}
	case json.Number:
		if strings.ContainsAny(string(x), "eE") {
			return Invalid(fieldName(path), "a number in plain decimal notation such as 5000, not the exponent form (%.40s)", x)
		}
		if isAmount(t) && len(x) > MaxAmountDigits {
			return Invalid(fieldName(path), "an amount has at most %d digits", MaxAmountDigits)
		}
	}
	return nil
}

func (w *walker) object(t reflect.Type, path string, depth int) error {
	var fields map[string]field
	var elem reflect.Type
	switch {
	case t == nil:
	case t.Kind() == reflect.Struct:
		fields = fieldsOf(t)
	case t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	seen := map[string]bool{}
	for w.dec.More() {
		tok, raw, err := w.token(path)
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		keyPath := joinKey(path, key)
		if err := checkString(raw, keyPath); err != nil {
			return err
		}
		id, vt := key, elem
		if fields != nil {
			f, ok := fields[key]
			if !ok {
				f, ok = foldField(fields, key)
			}
			if ok {
				id, vt = "\x00field:"+f.name, f.typ
			} else {
				vt = nil // an unknown field: encoding/json names it
			}
		}
		if seen[id] {
			return BadRequest(keyPath, "the key is given twice in one object")
		}
		seen[id] = true
		if err := w.value(vt, keyPath, depth); err != nil {
			return err
		}
	}
	_, _, err := w.token(path) // '}'
	return err
}

func (w *walker) array(t reflect.Type, path string, depth int) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	for i := 0; w.dec.More(); i++ {
		if err := w.value(elem, fmt.Sprintf("%s[%d]", path, i), depth); err != nil {
			return err
		}
	}
	_, _, err := w.token(path) // ']'
	return err
}

// checkString checks a raw JSON string literal (raw may start with white
// space and a separator before its opening quote): valid UTF-8, no lone
// surrogate escape, no NUL.
func checkString(raw []byte, path string) error {
	i := bytes.IndexByte(raw, '"')
	if i < 0 || len(raw) < i+2 {
		return nil // not a string literal: cannot happen after Token
	}
	s := raw[i+1 : len(raw)-1]
	for j := 0; j < len(s); {
		c := s[j]
		switch {
		case c == '\\':
			if j+1 >= len(s) {
				return nil
			}
			if s[j+1] != 'u' {
				j += 2
				continue
			}
			r, ok := hex4(s[j+2:])
			if !ok {
				return nil // Token has refused it already
			}
			j += 6
			switch {
			case r == 0:
				return Invalid(fieldName(path), "must not contain NUL (\\u0000)")
			case utf16.IsSurrogate(r):
				lo, ok := rune(0), false
				if r < 0xdc00 && j+1 < len(s) && s[j] == '\\' && s[j+1] == 'u' {
					lo, ok = hex4(s[j+2:])
				}
				if !ok || utf16.DecodeRune(r, lo) == utf8.RuneError {
					return BadRequest(fieldName(path), "a lone UTF-16 surrogate (\\u%04x) is not a character", r)
				}
				j += 6
			}
		case c < utf8.RuneSelf:
			j++
		default:
			r, n := utf8.DecodeRune(s[j:])
			if r == utf8.RuneError && n <= 1 {
				return BadRequest(fieldName(path), "not valid UTF-8 (byte 0x%02x)", s[j])
			}
			j += n
		}
	}
	return nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 16)
	return rune(n), err == nil
}

// fieldName is path, or "body" for the whole body.
func fieldName(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// joinKey is the path of key in the object at path: payer.name, or
// metadata["odd key"] for a key that is not a plain name (quoted, so a
// client's bytes are never echoed raw).
func joinKey(path, key string) string {
	if !plainKeyRE.MatchString(key) {
		if len(key) > 64 {
			key = key[:64]
		}
		return path + "[" + strconv.QuoteToASCII(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
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
