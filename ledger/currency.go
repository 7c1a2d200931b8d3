package ledger

import (
	"slices"

	"github.com/shopspring/decimal"
)

// minorUnits is the ISO 4217 exponent of each currency the ledger keeps. VND
// has none: a fractional đồng is an error, never rounded.
var minorUnits = map[string]int32{
	"VND": 0, "USD": 2, "EUR": 2, "JPY": 0, "KRW": 0, "CNY": 2, "SGD": 2, "THB": 2, "GBP": 2, "AUD": 2,
}

// maxAmount bounds one posting (10^18 of the unit): far above any real payment
// or settlement.
var maxAmount = decimal.New(1, 18)

// checkCurrency accepts the currencies in minorUnits.
func checkCurrency(field, currency string) error {
	if _, ok := minorUnits[currency]; !ok {
		return invalid(field, "unsupported currency %q", currency)
	}
	return nil
}

// checkAmount accepts a positive amount with no more decimal places than the
// (already checked) currency has.
func checkAmount(field string, amount decimal.Decimal, currency string) error {
	exp := minorUnits[currency]
	switch {
	case amount.Sign() <= 0:
		return invalid(field, "must be positive, got %s", amount)
	case amount.GreaterThanOrEqual(maxAmount):
		return invalid(field, "must be below %s", maxAmount)
	case !amount.Equal(amount.Truncate(exp)):
		return invalid(field, "%s has at most %d decimal places, got %s", currency, exp, amount)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
