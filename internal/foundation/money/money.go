// Package money holds the rules for amounts: decimal values with an ISO 4217
// currency, never floats. VND has no minor unit, so a fractional VND amount is an
// error — never rounded.
package money

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
)

// VND is the Vietnamese đồng, the only currency civicpay's gateways settle in.
const VND = "VND"

// minorUnits per supported currency (ISO 4217 exponent).
var minorUnits = map[string]int32{VND: 0, "USD": 2}

// Errors about amounts.
var (
	ErrNotPositive = errors.New("amount must be greater than zero")
	ErrFractional  = errors.New("amount has more decimal places than the currency allows")
	ErrUnsupported = errors.New("unsupported currency")
	ErrTooLarge    = errors.New("amount is too large")
	maxAmount      = decimal.New(1, 15) // 10^15: far above any fee, below NUMERIC/JSON trouble
)

// Supported reports whether currency is one civicpay handles.
func Supported(currency string) bool { _, ok := minorUnits[currency]; return ok }

// MinorUnits is currency's ISO 4217 exponent (0 for VND), and 0 for a
// currency civicpay does not handle.
func MinorUnits(currency string) int32 { return minorUnits[currency] }

// CheckAmount validates a positive amount in currency.
func CheckAmount(amount decimal.Decimal, currency string) error {
	exp, ok := minorUnits[currency]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnsupported, currency)
	}
	if !amount.IsPositive() {
		return ErrNotPositive
	}
	if !amount.Equal(amount.Truncate(exp)) {
		if exp == 0 {
			return fmt.Errorf("%w: %s has no minor unit, got %s", ErrFractional, currency, amount)
		}
		return fmt.Errorf("%w: %s allows %d, got %s", ErrFractional, currency, exp, amount)
	}
	if amount.GreaterThanOrEqual(maxAmount) {
		return ErrTooLarge
	}
	return nil
}
