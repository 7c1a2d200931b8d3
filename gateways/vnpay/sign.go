package vnpay

import (
	"crypto/sha512"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/civicpay/civicpay/gateways/internal/wire"
	"github.com/shopspring/decimal"
)

// Sign returns vnp_SecureHash for a payment URL, a return or an IPN: the
// lowercase hex HMAC-SHA512, keyed with secret, of the query string that
// url.Values.Encode makes of every non-empty vnp_* value except
// vnp_SecureHash and vnp_SecureHashType (sorted by key, form-encoded, joined
// with &). The merchant signs a payment URL with it; the gateway side (and
// cmd/gatewaysim) signs a return or an IPN with it, and each verifies the
// other with [Verify].
func Sign(values url.Values, secret string) string {
	return wire.HMACHex(sha512.New, secret, signedQuery(values))
}

// Verify reports whether values carry a vnp_SecureHash that matches
// Sign(values, secret); the comparison ignores case and runs in constant time.
func Verify(values url.Values, secret string) bool {
	return wire.EqualMAC(values.Get("vnp_SecureHash"), Sign(values, secret))
}

func signedQuery(values url.Values) string {
	signed := url.Values{}
	for k, vs := range values {
		if !strings.HasPrefix(k, "vnp_") || k == "vnp_SecureHash" || k == "vnp_SecureHashType" {
			continue
		}
		for _, v := range vs {
			if v != "" {
				signed.Add(k, v)
			}
		}
	}
	return signed.Encode()
}

// PipeHash is the hash of the merchant API (querydr, refund) and of its
// answers: lowercase hex HMAC-SHA512, keyed with secret, of parts joined with
// "|" as they are — no sorting, no encoding. The HashParts methods of the
// request and response types give the parts in the order VNPAY fixes.
func PipeHash(secret string, parts ...string) string {
	return wire.HMACHex(sha512.New, secret, strings.Join(parts, "|"))
}

// timeLayout is yyyyMMddHHmmss.
const timeLayout = "20060102150405"

// FormatTime writes t as VNPAY dates are written: yyyyMMddHHmmss in GMT+7.
func FormatTime(t time.Time) string { return t.In(wire.ICT).Format(timeLayout) }

// ParseTime reads a VNPAY date (yyyyMMddHHmmss, GMT+7) and returns it in UTC.
func ParseTime(s string) (time.Time, error) {
	t, err := time.ParseInLocation(timeLayout, s, wire.ICT)
	if err != nil {
		return time.Time{}, fmt.Errorf("vnpay: date %q: %w", s, err)
	}
	return t.UTC(), nil
}

// FormatAmount writes whole VND the way VNPAY wants them: ×100, digits only.
func FormatAmount(vnd int64) string { return strconv.FormatInt(vnd, 10) + "00" }

// ParseAmount undoes FormatAmount: it reads a vnp_Amount and returns VND. An
// amount that is not a whole number of VND (not a multiple of 100) is an error.
func ParseAmount(s string) (decimal.Decimal, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return decimal.Decimal{}, wire.Malformed("vnpay: amount %q: want digits", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return decimal.Decimal{}, wire.Malformed("vnpay: amount %q: %v", s, err)
	}
	if n%100 != 0 {
		return decimal.Decimal{}, wire.Malformed("vnpay: amount %q: fractional VND", s)
	}
	return decimal.NewFromInt(n / 100), nil
}
