package pages

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
)

var codeRE = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$`)

func testReceipt() Receipt {
	return Receipt{Reference: "RF68123456789012345", Total: decimal.RequireFromString("200000"), Currency: "VND", PaidAt: testPaidAt}
}

func TestCodeBindsEveryField(t *testing.T) {
	t.Parallel()
	s, err := newCodeSigner([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	base := testReceipt()
	code := s.Code(base)
	if !codeRE.MatchString(code) {
		t.Fatalf("code %q is not four groups of four Crockford characters", code)
	}
	if again := s.Code(base); again != code {
		t.Fatalf("code not deterministic: %s then %s", code, again)
	}
	same := base
	same.Total = decimal.RequireFromString("200000.00") // the same amount as NUMERIC(…,2) scans it
	same.PaidAt = base.PaidAt.In(bizday.Zone).Add(0)    // the same instant elsewhere
	tests := []struct {
		name  string
		r     Receipt
		valid bool
	}{
		{"same receipt", same, true},
		{"other reference", func() Receipt { r := base; r.Reference = "RF68123456789012354"; return r }(), false},
		{"other total", func() Receipt { r := base; r.Total = decimal.RequireFromString("200001"); return r }(), false},
		{"other currency", func() Receipt { r := base; r.Currency = "USD"; return r }(), false},
		{"paid a microsecond later", func() Receipt { r := base; r.PaidAt = r.PaidAt.Add(time.Microsecond); return r }(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, err := s.Verify(tc.r, code)
			if err != nil || ok != tc.valid {
				t.Errorf("Verify = %v, %v; want %v", ok, err, tc.valid)
			}
		})
	}
}

func TestCodeRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 32))
	before, _ := newCodeSigner(oldKey)
	rotated, _ := newCodeSigner(newKey, oldKey)
	forgotten, _ := newCodeSigner(newKey)
	r := testReceipt()
	oldCode := before.Code(r)
	if rotated.Code(r) == oldCode {
		t.Fatal("a new secret made the same code")
	}
	for name, tc := range map[string]struct {
		s    *codeSigner
		code string
		want bool
	}{
		"old code, old secret kept":  {rotated, oldCode, true},
		"new code, rotated":          {rotated, rotated.Code(r), true},
		"old code, old secret gone":  {forgotten, oldCode, false},
		"new code on the old signer": {before, rotated.Code(r), false},
	} {
		if ok, err := tc.s.Verify(r, tc.code); err != nil || ok != tc.want {
			t.Errorf("%s: %v, %v; want %v", name, ok, err, tc.want)
		}
	}
}

func TestParseCode(t *testing.T) {
	t.Parallel()
	want, err := crockford.DecodeString("0123456789ABCDEF")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in string
		ok bool
	}{
		{"0123-4567-89AB-CDEF", true},
		{"0123456789abcdef", true},
		{"o123 4567 89ab cdef", true}, // O read as zero
		{"0I23-4567-89AB-CDEF", true}, // I read as one
		{"0l23-4567-89AB-CDEF", true}, // l read as one
		{"0123-4567-89AB-CDE", false},
		{"0123-4567-89AB-CDEFG", false},
		{"0123-4567-89AB-CDEU", false}, // U is not in the alphabet
		{"0123-4567-89AB-CDĐF", false},
		{"", false},
		{strings.Repeat("A", 10000), false},
	}
	for _, tc := range tests {
		got, err := parseCode(tc.in)
		if tc.ok != (err == nil) || (tc.ok && !bytes.Equal(got, want)) {
			t.Errorf("%q: %x, %v", tc.in, got, err)
		}
	}
}

// FuzzParseCode: whatever is typed, parsing never panics, and what parses is 80
// bits that print back to a code that parses to the same bits.
func FuzzParseCode(f *testing.F) {
	for _, seed := range []string{"0123-4567-89AB-CDEF", "o123 4567 89ab cdef", "", "----", "ĐĐĐĐ-ĐĐĐĐ", strings.Repeat("Z", 17), "\x00\xff"} {
		f.Add(seed)
	}
	s, _ := newCodeSigner([]byte(testSecret))
	f.Fuzz(func(t *testing.T, in string) {
		b, err := parseCode(in)
		if _, verr := s.Verify(testReceipt(), in); (verr == nil) != (err == nil) {
			t.Fatalf("Verify and parseCode disagree on %q", in)
		}
		if err != nil {
			return
		}
		if len(b) != codeBytes {
			t.Fatalf("%q parsed to %d bytes", in, len(b))
		}
		again, err := parseCode(crockford.EncodeToString(b))
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%q: round trip %x → %x, %v", in, b, again, err)
		}
	})
}
