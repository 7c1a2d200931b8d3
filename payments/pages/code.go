package pages

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// A receipt's verification code is an HMAC-SHA256, under a secret only the
// service knows, of what the receipt asserts: the payment reference, the total
// and its currency, and when it was paid. The first 80 bits are written in
// Crockford's base32 (no I, L, O or U, so nothing reads as another character),
// in four groups of four: "7K3M-9QXA-2BHD-5RTW". Anyone holding a receipt can
// check it on the verify page; nobody without the secret can make one.

// codeVersion is bound into the MAC so that a later scheme cannot collide.
const codeVersion = "civicpay-receipt-v1"

const (
	codeBytes = 10                // 80 bits
	codeChars = codeBytes * 8 / 5 // 16
)

var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// errCodeFormat: the text typed is not 16 Crockford base32 characters.
var errCodeFormat = errors.New("verification code: not 16 letters and digits")

// Receipt is what a verification code vouches for.
type Receipt struct {
	Reference string
	Total     decimal.Decimal
	Currency  string
	PaidAt    time.Time
}

// message is the MAC input: fields joined with "|", the total in its shortest
// decimal form and the time in UTC to the microsecond (what PostgreSQL keeps).
func (r Receipt) message() string {
	return strings.Join([]string{
		codeVersion, r.Reference, r.Total.String(), r.Currency,
		r.PaidAt.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z"),
	}, "|")
}

// codeSigner makes codes with the current secret and accepts codes made with
// any of its secrets (rotation).
type codeSigner struct {
	keys [][]byte // keys[0] signs
}

func newCodeSigner(current []byte, old ...[]byte) (*codeSigner, error) {
	if len(current) < MinSecretLen {
		return nil, fmt.Errorf("pages: ReceiptSecret must be at least %d bytes", MinSecretLen)
	}
	keys := [][]byte{current}
	for i, k := range old {
		if len(k) < MinSecretLen {
			return nil, fmt.Errorf("pages: OldReceiptSecrets[%d] must be at least %d bytes", i, MinSecretLen)
		}
		keys = append(keys, k)
	}
	return &codeSigner{keys: keys}, nil
}

func mac(key []byte, r Receipt) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(r.message()))
	return m.Sum(nil)[:codeBytes]
}

// Code returns r's verification code, grouped for reading.
func (s *codeSigner) Code(r Receipt) string {
	raw := crockford.EncodeToString(mac(s.keys[0], r))
	return raw[0:4] + "-" + raw[4:8] + "-" + raw[8:12] + "-" + raw[12:16]
}

// Verify reports whether code, as a person typed it, is r's code under any of
// the secrets. A code that cannot be read is errCodeFormat.
func (s *codeSigner) Verify(r Receipt, code string) (bool, error) {
	got, err := parseCode(code)
	if err != nil {
		return false, err
	}
	ok := false
	for _, k := range s.keys {
		ok = hmac.Equal(got, mac(k, r)) || ok // every key, in constant time
	}
	return ok, nil
}

// parseCode reads a code as typed: case, spaces and dashes do not matter, and
// the letters Crockford's alphabet leaves out are read as the digits they look
// like (O as 0, I and L as 1).
func parseCode(s string) ([]byte, error) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch r {
		case ' ', '-', '\t':
			continue
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		if b.Len() >= codeChars {
			return nil, errCodeFormat
		}
		b.WriteRune(r)
	}
	if b.Len() != codeChars {
		return nil, errCodeFormat
	}
	out, err := crockford.DecodeString(b.String())
	if err != nil || len(out) != codeBytes {
		return nil, errCodeFormat
	}
	return out, nil
}
