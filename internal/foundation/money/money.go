// Package money holds the facts and rules about amounts, written once:
// amounts are decimals (shopspring/decimal, never floats) in an ISO 4217
// currency; the table below says how many decimals each currency has and
// which ones civicpay collects in; Limit bounds every amount; Round is the one
// rounding rule; Split divides an amount into shares that add up to it.
//
// An amount with more decimals than its currency has (any fraction of a đồng)
// is an error, never rounded: Round is for amounts civicpay computes (a fee as
// a percentage), not for amounts it is given.
package money

import (
	"cmp"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/shopspring/decimal"
)

// VND is the Vietnamese đồng, the currency civicpay's gateways settle in and
// the default of a catalogue service.
const VND = "VND"

// Currency is one row of the table: an ISO 4217 code and its facts.
type Currency struct {
	// Code is the ISO 4217 alphabetic code ("VND").
	Code string
	// Decimals is the ISO 4217 minor unit: how many decimal places an amount
	// in the currency may have (0 for VND, 2 for USD).
	Decimals int32
	// Collected: civicpay takes orders in it (catalogue services, orders,
	// payments, refunds). The other currencies are ones civicpay meets
	// without collecting in them: a treasury's foreign-currency bank
	// statement, a ledger entry an operator posts.
	Collected bool
}

// currencies is the table. Decimals are ISO 4217's minor units (checked
// against golang.org/x/text/currency in the tests; that package carries
// CLDR's digits, which differ from ISO 4217 for some currencies, e.g. LAK,
// so it is not the source).
var currencies = []Currency{
	{Code: VND, Decimals: 0, Collected: true},
	{Code: "USD", Decimals: 2, Collected: true},
	{Code: "AUD", Decimals: 2},
	{Code: "CHF", Decimals: 2},
	{Code: "CNY", Decimals: 2},
	{Code: "EUR", Decimals: 2},
	{Code: "GBP", Decimals: 2},
	{Code: "HKD", Decimals: 2},
	{Code: "JPY", Decimals: 0},
	{Code: "KHR", Decimals: 2},
	{Code: "KRW", Decimals: 0},
	{Code: "LAK", Decimals: 2},
	{Code: "SGD", Decimals: 2},
	{Code: "THB", Decimals: 2},
}

// LimitDigits is how many integer digits an amount may have: every amount is
// below Limit = 10^15 units of its currency. That is far above any payment,
// settlement or posting (10^15 VND is about Vietnam's yearly state revenue),
// and keeps a whole amount exact in a JSON number read as a float64 (2^53 ≈
// 9·10^15). The database columns are unbounded numeric, so they hold anything
// below it.
const LimitDigits = 15

// Limit bounds every amount: an amount is below it.
var Limit = decimal.New(1, LimitDigits)

// Errors about amounts and currencies.
var (
	ErrUnsupported = errors.New("unsupported currency")
	ErrNotPositive = errors.New("amount must be greater than zero")
	ErrFractional  = errors.New("amount has more decimal places than the currency allows")
	ErrTooLarge    = errors.New("amount is too large")
	ErrSplit       = errors.New("cannot split the amount")
)

// Currencies lists the table, civicpay's collected currencies first.
func Currencies() []Currency { return slices.Clone(currencies) }

// Lookup finds code in the table (codes are upper case, as ISO 4217 writes
// them); an error wrapping ErrUnsupported if it is not there.
func Lookup(code string) (Currency, error) {
	for _, c := range currencies {
		if c.Code == code {
			return c, nil
		}
	}
	return Currency{}, fmt.Errorf("%w %q", ErrUnsupported, code)
}

// MustLookup is Lookup for a code known to be in the table; it panics if it
// is not. For constants and tests.
func MustLookup(code string) Currency {
	c, err := Lookup(code)
	if err != nil {
		panic(err)
	}
	return c
}

// Collects reports whether civicpay takes orders in code.
func Collects(code string) bool {
	c, err := Lookup(code)
	return err == nil && c.Collected
}

// Valid checks amount in currency code: the code is in the table, and the
// amount is positive, has at most the currency's decimals and is below Limit.
func Valid(amount decimal.Decimal, code string) error {
	c, err := Lookup(code)
	if err != nil {
		return err
	}
	return c.Valid(amount)
}

// Round rounds amount to currency code's decimals by the one rule (see
// Currency.Round).
func Round(amount decimal.Decimal, code string) (decimal.Decimal, error) {
	c, err := Lookup(code)
	if err != nil {
		return decimal.Decimal{}, err
	}
	return c.Round(amount), nil
}

// Split divides amount in currency code into shares in proportion to
// weights (see Currency.Split).
func Split(amount decimal.Decimal, code string, weights []decimal.Decimal) ([]decimal.Decimal, error) {
	c, err := Lookup(code)
	if err != nil {
		return nil, err
	}
	return c.Split(amount, weights)
}

// Unit is the smallest amount of c: 1 VND, 0.01 USD.
func (c Currency) Unit() decimal.Decimal { return decimal.New(1, -c.Decimals) }

// Max is the largest valid amount of c: Limit less one unit.
func (c Currency) Max() decimal.Decimal { return Limit.Sub(c.Unit()) }

// Fits reports whether amount has at most c's decimals (whatever its sign
// or size).
func (c Currency) Fits(amount decimal.Decimal) bool {
	return amount.Equal(amount.Truncate(c.Decimals))
}

// Valid checks an amount of c: positive, at most c.Decimals decimal places,
// below Limit. The error wraps ErrNotPositive, ErrFractional or ErrTooLarge.
func (c Currency) Valid(amount decimal.Decimal) error {
	switch {
	case !amount.IsPositive():
		return fmt.Errorf("%w, got %s", ErrNotPositive, amount)
	case !c.Fits(amount) && c.Decimals == 0:
		return fmt.Errorf("%w: %s has no minor unit, got %s", ErrFractional, c.Code, amount)
	case !c.Fits(amount):
		return fmt.Errorf("%w: %s allows %d, got %s", ErrFractional, c.Code, c.Decimals, amount)
	case amount.GreaterThanOrEqual(Limit):
		return fmt.Errorf("%w: %s %s is not below 10^%d", ErrTooLarge, amount, c.Code, LimitDigits)
	}
	return nil
}

// Round rounds amount to c's decimals, half away from zero: 0.5 đồng is 1
// đồng, 10.015 USD is 10.02. It is the rule a payer, a gateway and a treasury
// clerk apply by hand (and a spreadsheet's ROUND): a public fee computed as
// a percentage must come out the same for all of them, and for PostgreSQL,
// whose round(numeric, n) applies the same rule where reconciliation
// computes fees in SQL. Half-even ("banker's") rounding would spread the
// bias over many sums, but no sum of fees is rounded here: each fee is
// rounded once, on its own payment, and must be checkable on its own.
func (c Currency) Round(amount decimal.Decimal) decimal.Decimal {
	return amount.Round(c.Decimals)
}

// Split divides amount (at least zero, at most c.Decimals decimal places)
// into one share per weight (each at least zero, not all zero), in
// proportion to the weights and in units of c, so that the shares add up to
// amount exactly. Each share is first its exact proportion rounded down to
// a unit; the units left over (fewer than the shares with a fraction cut
// off) then go one each to the shares whose cut-off fraction was largest,
// the earlier share first on a tie (the largest remainder method). So a
// share is its exact proportion rounded down or up, never further: when
// amount is at most the weights' sum and the weights are amounts of c, no
// share exceeds its weight. The arithmetic is exact (integers), whatever the
// sizes.
func (c Currency) Split(amount decimal.Decimal, weights []decimal.Decimal) ([]decimal.Decimal, error) {
	switch {
	case len(weights) == 0:
		return nil, fmt.Errorf("%w: no weights", ErrSplit)
	case amount.IsNegative():
		return nil, fmt.Errorf("%w: %s is negative", ErrSplit, amount)
	case !c.Fits(amount):
		return nil, fmt.Errorf("%w: %s %s has more than %d decimal places", ErrSplit, amount, c.Code, c.Decimals)
	}
	// Scale the weights to integers with a common exponent.
	exp := int32(0)
	for i, w := range weights {
		if w.IsNegative() {
			return nil, fmt.Errorf("%w: weight %d is negative (%s)", ErrSplit, i, w)
		}
		exp = min(exp, w.Exponent())
	}
	ws := make([]*big.Int, len(weights))
	total := new(big.Int)
	for i, w := range weights {
		ws[i] = w.Shift(-exp).BigInt()
		total.Add(total, ws[i])
	}
	if total.Sign() == 0 {
		return nil, fmt.Errorf("%w: the weights are all zero", ErrSplit)
	}
	units := amount.Shift(c.Decimals).BigInt()
	parts := make([]*big.Int, len(weights))
	rems := make([]*big.Int, len(weights))
	left := new(big.Int).Set(units)
	for i, w := range ws {
		parts[i], rems[i] = new(big.Int).QuoRem(new(big.Int).Mul(units, w), total, new(big.Int))
		left.Sub(left, parts[i])
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(0, rems[a].Cmp(rems[b])) })
	// left < len(weights): each share lost less than one unit.
	for k := 0; left.Sign() > 0; k++ {
		parts[order[k]].Add(parts[order[k]], big.NewInt(1))
		left.Sub(left, big.NewInt(1))
	}
	out := make([]decimal.Decimal, len(parts))
	for i, p := range parts {
		out[i] = decimal.NewFromBigInt(p, -c.Decimals)
	}
	return out, nil
}
