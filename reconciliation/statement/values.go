package statement

import (
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/money"
)

// ICT is Vietnam's business time zone (GMT+7, no daylight saving): bizday.Zone.
var ICT = bizday.Zone

// Amounts in a currency of money's table may have its decimals; amounts in
// other well-formed currencies up to isoMaxFraction decimals, the ISO 20022
// schema limit.
const (
	isoMaxDigits   = 18 // ActiveOrHistoricCurrencyAndAmount: totalDigits 18
	isoMaxFraction = 5  // fractionDigits 5
)

// validCurrency reports whether c has the shape of an ISO 4217 code.
func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// checkMinorUnits refuses an amount with more decimals than its currency has:
// a fractional VND amount is an error, never rounded.
func checkMinorUnits(d decimal.Decimal, ccy string) error {
	exp := int32(isoMaxFraction)
	if c, err := money.Lookup(ccy); err == nil {
		exp = c.Decimals
	}
	if !d.Equal(d.Truncate(exp)) {
		return formatErr("%s amount %s has more than %d decimal places", ccy, d, exp)
	}
	return nil
}

// parseISOAmount parses an ISO 20022 amount: unsigned decimal text (digits,
// optionally a point and more digits; no sign, exponent or separators) in a
// three-letter currency.
func parseISOAmount(text, ccy string) (decimal.Decimal, error) {
	ccy = strings.TrimSpace(ccy)
	if !validCurrency(ccy) {
		return decimal.Decimal{}, formatErr("currency %q is not an ISO 4217 code", ccy)
	}
	text = strings.TrimSpace(text)
	intPart, frac, hasPoint := strings.Cut(text, ".")
	if !allDigits(intPart) || (hasPoint && !allDigits(frac)) {
		return decimal.Decimal{}, formatErr("amount %q is not a plain unsigned decimal", clip(text))
	}
	if len(intPart)+len(frac) > isoMaxDigits || len(frac) > isoMaxFraction {
		return decimal.Decimal{}, formatErr("amount %q has too many digits", clip(text))
	}
	d, err := decimal.NewFromString(text)
	if err != nil {
		return decimal.Decimal{}, formatErr("amount %q: %v", clip(text), err)
	}
	if err := checkMinorUnits(d, ccy); err != nil {
		return decimal.Decimal{}, err
	}
	return d, nil
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clip shortens hostile input before it is quoted in an error message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

const (
	isoDate          = "2006-01-02"
	isoDateZone      = "2006-01-02Z07:00"
	isoDateTime      = "2006-01-02T15:04:05" // fractional seconds are accepted when parsing
	isoDateTimeZone  = "2006-01-02T15:04:05Z07:00"
	isoDateTimeWrite = "2006-01-02T15:04:05.999999999Z07:00"
)

// parseISODate parses an ISO date ("2026-11-23", optionally with a zone suffix
// that is ignored) as midnight ICT of that business day.
func parseISODate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	t, err := time.Parse(isoDate, s)
	if err != nil {
		if t, err = time.Parse(isoDateZone, s); err != nil {
			return time.Time{}, formatErr("date %q is not YYYY-MM-DD", clip(s))
		}
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, ICT), nil
}

// parseISODateTime parses an ISO date-time with or without fractional seconds;
// one without a zone offset is taken as ICT. The result is in ICT, and must
// fall in the years 1 to 9999 there (so that it can be written back).
func parseISODateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	t, err := time.Parse(isoDateTimeZone, s)
	if err != nil {
		if t, err = time.ParseInLocation(isoDateTime, s, ICT); err != nil {
			return time.Time{}, formatErr("date-time %q is not ISO 8601", clip(s))
		}
	}
	t = t.In(ICT)
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, formatErr("date-time %q is out of range", clip(s))
	}
	return t, nil
}

// isMidnightICT reports whether t is the start of a business day.
func isMidnightICT(t time.Time) bool {
	h, m, s := t.In(ICT).Clock()
	return h == 0 && m == 0 && s == 0 && t.Nanosecond() == 0
}

// businessDay is midnight ICT of t's business day.
func businessDay(t time.Time) time.Time {
	y, m, d := t.In(ICT).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, ICT)
}
