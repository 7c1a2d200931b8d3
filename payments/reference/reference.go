// Package reference makes and checks payment references: ISO 11649 creditor
// references ("RF" + two check digits + up to 21 characters), restricted here to a
// body of digits so that a person can read it aloud and type it into any bank's
// transfer memo.
//
// The check digits are ISO 7064 MOD 97-10 (as IBAN uses). With a digits-only body
// they detect every single-character substitution (a change of d·10^k with
// 0 < |d| ≤ 9 is never a multiple of the prime 97) and every transposition of
// two adjacent characters (a change of 9·d·10^k); letters typed into the body and a
// damaged "RF" are rejected by the format check before the arithmetic.
package reference

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// BodyDigits is the length of the random body of a generated reference.
const BodyDigits = 15

// Errors returned by Parse.
var (
	ErrFormat    = errors.New("reference: not of the form RFnn followed by 1 to 21 digits")
	ErrCheckDigs = errors.New("reference: check digits do not match (mistyped?)")
)

// New returns a fresh random reference such as "RF47123456789012345".
func New() (string, error) {
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(BodyDigits), nil)
	n, err := rand.Int(rand.Reader, max)
	if err != nil {
		return "", fmt.Errorf("reference: random body: %w", err)
	}
	return FromBody(fmt.Sprintf("%0*d", BodyDigits, n))
}

// FromBody adds the RF prefix and check digits to a body of 1 to 21 digits.
func FromBody(body string) (string, error) {
	if !digits(body) || len(body) < 1 || len(body) > 21 {
		return "", ErrFormat
	}
	check := 98 - mod97(body+"271500") // "RF" = 27 15, then "00"
	return fmt.Sprintf("RF%02d%s", check, body), nil
}

// Parse normalises what a person typed (spaces removed, upper-cased) and checks it.
func Parse(s string) (string, error) {
	s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
	if len(s) < 5 || len(s) > 25 || !strings.HasPrefix(s, "RF") || !digits(s[2:]) {
		return "", ErrFormat
	}
	if mod97(s[4:]+"2715"+s[2:4]) != 1 {
		return "", ErrCheckDigs
	}
	return s, nil
}

// Valid reports whether s is a well-formed reference with correct check digits.
func Valid(s string) bool {
	_, err := Parse(s)
	return err == nil
}

// Format groups a reference in fours for display: "RF47 1234 5678 9012 345".
func Format(ref string) string {
	var b strings.Builder
	for i, r := range ref {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func mod97(numeric string) int {
	rem := 0
	for _, c := range numeric {
		rem = (rem*10 + int(c-'0')) % 97
	}
	return rem
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
