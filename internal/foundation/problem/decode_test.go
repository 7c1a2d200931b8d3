package problem_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/problem"
)

type line struct {
	Service string          `json:"service"`
	Amount  decimal.Decimal `json:"amount"`
}

type ownAmount struct{ decimal.Decimal }

type embedded struct {
	Note string `json:"note"`
}

type request struct {
	embedded
	Lines []line `json:"lines"`
	Payer struct {
		Name string `json:"name"`
	} `json:"payer"`
	Metadata map[string]string `json:"metadata"`
	Limit    *int              `json:"limit"`
	Fixed    *ownAmount        `json:"fixed_amount"`
	Expected *decimal.Decimal  `json:"expected"`
	At       *time.Time        `json:"at"`
	Tags     []string          `json:"tags"`
}

// TestDecodeJSONStrict: what encoding/json lets through and a payment API
// must not: NUL, invalid UTF-8, lone surrogates, duplicate keys, exponent
// numbers, amounts in odd forms, deep nesting. Each is refused naming the
// field, with 422 for a value refused and 400 for bytes that are no JSON text.
func TestDecodeJSONStrict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		status int    // 0: accepted
		field  string // the field the problem names
	}{
		{"plain", `{"lines":[{"service":"A","amount":5000}],"payer":{"name":"Bình"},"metadata":{"k":"v"}}`, 0, ""},
		{"amount as a string", `{"lines":[{"amount":"5000"}],"expected":"12.50","fixed_amount":"100"}`, 0, ""},
		{"fractional amount number (the domain refuses VND)", `{"lines":[{"amount":5000.5}]}`, 0, ""},
		{"negative amount (the domain refuses it)", `{"lines":[{"amount":-5}],"expected":"-1"}`, 0, ""},
		{"escaped characters", `{"payer":{"name":"\u0042\u00ecnh \ud83d\ude00 \n\t\"\\"}}`, 0, ""},
		{"null amount", `{"expected":null,"fixed_amount":null}`, 0, ""},
		{"a field of an embedded struct", `{"note":"n"}`, 0, ""},

		{"NUL in a nested string", `{"payer":{"name":"a\u0000b"}}`, 422, "payer.name"},
		{"NUL in an array element", `{"lines":[{"service":"x"},{"service":"\u0000"}]}`, 422, "lines[1].service"},
		{"NUL in a map value", `{"metadata":{"k":"\u0000"}}`, 422, "metadata.k"},
		{"NUL in a map key", `{"metadata":{"a\u0000":"v"}}`, 422, `metadata["a\x00"]`},
		{"NUL in a field of an embedded struct", `{"note":"\u0000"}`, 422, "note"},
		{"NUL in a string slice", `{"tags":["ok","\u0000"]}`, 422, "tags[1]"},
		{"raw NUL byte", "{\"payer\":{\"name\":\"a\x00b\"}}", 400, "body"},
		{"invalid UTF-8", "{\"payer\":{\"name\":\"a\xffb\"}}", 400, "payer.name"},
		{"UTF-8 encoded surrogate", "{\"payer\":{\"name\":\"\xed\xa0\x80\"}}", 400, "payer.name"},
		{"overlong UTF-8", "{\"payer\":{\"name\":\"\xc0\xaf\"}}", 400, "payer.name"},
		{"invalid UTF-8 in a key", "{\"metadata\":{\"\xff\":\"v\"}}", 400, `metadata["\xff"]`},
		{"lone high surrogate", `{"payer":{"name":"\ud800"}}`, 400, "payer.name"},
		{"lone high surrogate before a character", `{"payer":{"name":"\ud800x"}}`, 400, "payer.name"},
		{"high surrogate followed by another high", `{"payer":{"name":"\ud800\ud800"}}`, 400, "payer.name"},
		{"lone low surrogate", `{"lines":[{"service":"\udc00"}]}`, 400, "lines[0].service"},
		{"reversed pair", `{"payer":{"name":"\ude00\ud83d"}}`, 400, "payer.name"},
		{"duplicate key", `{"payer":{"name":"a"},"payer":{"name":"b"}}`, 400, "payer"},
		{"duplicate key deep", `{"lines":[{"amount":1,"amount":2}]}`, 400, "lines[0].amount"},
		{"duplicate key in another letter case", `{"lines":[{"amount":1,"Amount":2}]}`, 400, "lines[0].Amount"},
		{"duplicate map key", `{"metadata":{"k":"a","k":"b"}}`, 400, "metadata.k"},
		{"duplicate unknown key", `{"x":1,"x":2}`, 400, "x"},
		{"exponent amount", `{"lines":[{"amount":5e3}]}`, 422, "lines[0].amount"},
		{"exponent amount, capital E", `{"lines":[{"amount":5E+3}]}`, 422, "lines[0].amount"},
		{"huge exponent", `{"expected":1e400}`, 422, "expected"},
		{"exponent in another number", `{"limit":1e2}`, 422, "limit"},
		{"exponent amount string", `{"lines":[{"amount":"5e3"}]}`, 422, "lines[0].amount"},
		{"amount string with spaces", `{"expected":" 5000"}`, 422, "expected"},
		{"amount string with a plus", `{"fixed_amount":"+5000"}`, 422, "fixed_amount"},
		{"amount string hex", `{"fixed_amount":"0x10"}`, 422, "fixed_amount"},
		{"empty amount string", `{"lines":[{"amount":""}]}`, 422, "lines[0].amount"},
		{"amount string too long", `{"expected":"` + strings.Repeat("9", 41) + `"}`, 422, "expected"},
		{"amount number too long", `{"expected":` + strings.Repeat("9", 100000) + `}`, 422, "expected"},
		{"nested too deep", `{"metadata":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, 400, "metadata" + strings.Repeat("[0]", problem.MaxDepth-1)},
		{"unknown field", `{"nope":1}`, 400, "nope"},
		{"wrong type", `{"limit":"x"}`, 400, "limit"},
		{"trailing data", `{} {}`, 400, "body"},
		{"truncated", `{"payer":{"name":"x"`, 400, "body"},
		{"empty", ` `, 400, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r request
			err := problem.DecodeJSON([]byte(tt.body), &r)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %d naming %s", tt.status, tt.field)
			}
			p := problem.From(err, nil)
			if p.Status != tt.status || len(p.Errors) != 1 || p.Errors[0].Field != tt.field {
				t.Fatalf("got %d %+v (%v), want %d naming %q", p.Status, p.Errors, err, tt.status, tt.field)
			}
		})
	}
}

// TestDecodeJSONValues: what is accepted decodes as encoding/json would.
func TestDecodeJSONValues(t *testing.T) {
	t.Parallel()
	var r request
	body := `{"lines":[{"service":"A","amount":"200000"},{"amount":12.5}],"payer":{"name":"\ud83d\ude00 B\u00ecnh"},"fixed_amount":7,"note":"n"}`
	if err := problem.DecodeJSON([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.Lines[0].Amount.String() != "200000" || r.Lines[1].Amount.String() != "12.5" || r.Payer.Name != "😀 Bình" ||
		r.Fixed.String() != "7" || r.Note != "n" {
		t.Fatalf("decoded %+v", r)
	}
}

func TestDecodeJSONErrorsAreProblems(t *testing.T) {
	t.Parallel()
	var r request
	err := problem.DecodeJSON([]byte(`{"payer":{"name":"\u0000"}}`), &r)
	var fe *problem.FieldError
	if !errors.As(err, &fe) || problem.From(err, nil).Status != http.StatusUnprocessableEntity {
		t.Fatalf("NUL: %T %v", err, err)
	}
}

// FuzzDecodeJSON: whatever the bytes, DecodeJSON does not panic, accepts
// only what encoding/json decodes to the same value, and what it accepts
// holds no NUL, no invalid UTF-8 and no character encoding/json made up
// (U+FFFD in place of a lone surrogate or a bad byte).
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"lines":[{"service":"A","amount":5000}],"payer":{"name":"Bình"},"metadata":{"k":"v"}}`,
		`{"lines":[{"amount":"5000"}],"expected":"12.50","fixed_amount":"100","limit":3,"at":"2026-01-01T00:00:00Z"}`,
		`{"payer":{"name":"\ud83d\ude00 \u0000 \ud800 \udc00"}}`, "{\"payer\":{\"name\":\"\xff\xed\xa0\x80\"}}",
		`{"metadata":{"k":"a","K":"b","k":"c"}}`, `{"lines":[{"amount":1,"Amount":2}]}`, `{"expected":1e400}`,
		`{"tags":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`, `{"note":"\"\\\/\b\f\n\r\t"}`,
		`{"metadata":{"\u006b":"v","k":"w"}}`, `[]`, `"x"`, `{} {}`, `{"a":`, `{"limit":-0.0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got request
		if problem.DecodeJSON(body, &got) != nil {
			return
		}
		var want request
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("accepted what encoding/json refuses (%v): %q", err, body)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %+v, encoding/json %+v: %q", got, want, body)
		}
		out, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(out, []byte(`\u0000`)) || !utf8.Valid(out) {
			t.Fatalf("accepted NUL or invalid UTF-8: %q", body)
		}
		if bytes.Contains(out, []byte("\uFFFD")) && !bytes.Contains(body, []byte("\uFFFD")) && !bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
			t.Fatalf("accepted a string encoding/json repaired: %q", body)
		}
	})
}
