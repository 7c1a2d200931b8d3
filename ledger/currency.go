package ledger

import (
	"slices"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/money"
)

// checkCurrency accepts the currencies of money's table.
func checkCurrency(field, currency string) error {
	if _, err := money.Lookup(currency); err != nil {
		return invalid(field, "%v", err)
	}
	return nil
}

// checkAmount accepts what money.Valid does: a positive amount with no more
// decimal places than the (already checked) currency has, below money.Limit.
// A fractional VND amount is an error, never rounded.
func checkAmount(field string, amount decimal.Decimal, currency string) error {
	if err := money.Valid(amount, currency); err != nil {
		return invalid(field, "%v", err)
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
