package money_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"

	"github.com/civicpay/civicpay/internal/foundation/money"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func decs(ss ...string) []decimal.Decimal {
	out := make([]decimal.Decimal, len(ss))
	for i, s := range ss {
		out[i] = dec(s)
	}
	return out
}

// TestTableAgreesWithISO checks every row against golang.org/x/text/currency:
// the code is an ISO 4217 code, and its decimals are the standard ones —
// except where x/text carries CLDR's digits rather than ISO 4217's minor unit.
func TestTableAgreesWithISO(t *testing.T) {
	t.Parallel()
	cldrDiffers := map[string]int{"LAK": 0} // ISO 4217: 2 decimals; CLDR: 0
	seen := map[string]bool{}
	for _, c := range money.Currencies() {
		if seen[c.Code] {
			t.Errorf("%s twice in the table", c.Code)
		}
		seen[c.Code] = true
		u, err := currency.ParseISO(c.Code)
		if err != nil || u.String() != c.Code {
			t.Errorf("%s: not an ISO 4217 code: %v", c.Code, err)
			continue
		}
		scale, incr := currency.Standard.Rounding(u)
		want, ok := cldrDiffers[c.Code]
		if !ok {
			want = int(c.Decimals)
		}
		if scale != want || incr != 1 {
			t.Errorf("%s: x/text says %d decimals (increment %d), the table %d", c.Code, scale, incr, c.Decimals)
		}
	}
	for _, code := range []string{"VND", "USD"} {
		if !money.Collects(code) {
			t.Errorf("civicpay does not collect %s", code)
		}
	}
	for _, code := range []string{"EUR", "JPY", "XXX", "vnd", ""} {
		if money.Collects(code) {
			t.Errorf("civicpay collects %q", code)
		}
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		amount, code string
		err          error
	}{
		{"200000", "VND", nil},
		{"200000.00", "VND", nil}, // trailing zeros are not decimals
		{"999999999999999", "VND", nil},
		{"1000000000000000", "VND", money.ErrTooLarge},
		{"999999999999999.99", "USD", nil},
		{"1000000000000000", "USD", money.ErrTooLarge},
		{"0.5", "VND", money.ErrFractional},
		{"10.01", "USD", nil},
		{"10.015", "USD", money.ErrFractional},
		{"1.5", "JPY", money.ErrFractional},
		{"0", "VND", money.ErrNotPositive},
		{"-1", "USD", money.ErrNotPositive},
		{"1", "XXX", money.ErrUnsupported},
		{"1", "vnd", money.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.amount+" "+tt.code, func(t *testing.T) {
			t.Parallel()
			err := money.Valid(dec(tt.amount), tt.code)
			if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("Valid(%s, %s) = %v, want %v", tt.amount, tt.code, err, tt.err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.code) && !strings.Contains(err.Error(), tt.amount) {
				t.Errorf("error %q names neither the amount nor the currency", err)
			}
		})
	}
	if got := money.MustLookup("USD").Max(); !got.Equal(dec("999999999999999.99")) {
		t.Errorf("USD max = %s", got)
	}
}

func TestRoundIsHalfAwayFromZero(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, code, want string }{
		{"0.5", "VND", "1"},
		{"1.5", "VND", "2"},
		{"2.5", "VND", "3"}, // half-even would give 2
		{"2.4999", "VND", "2"},
		{"-2.5", "VND", "-3"},
		{"3008.016", "VND", "3008"},
		{"0.15015", "USD", "0.15"},
		{"10.015", "USD", "10.02"},
		{"10.025", "USD", "10.03"}, // half-even would give 10.02
		{"7", "USD", "7"},
		{"1.5", "JPY", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.in+" "+tt.code, func(t *testing.T) {
			t.Parallel()
			got, err := money.Round(dec(tt.in), tt.code)
			if err != nil || !got.Equal(dec(tt.want)) {
				t.Fatalf("Round(%s, %s) = %s, %v; want %s", tt.in, tt.code, got, err, tt.want)
			}
		})
	}
	if _, err := money.Round(dec("1"), "XXX"); !errors.Is(err, money.ErrUnsupported) {
		t.Errorf("Round in XXX: %v", err)
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		amount  string
		code    string
		weights []decimal.Decimal
		want    string // the shares, or the error's text
	}{
		{"one share takes it all", "50000", "VND", decs("200000"), "[50000]"},
		{"pro rata", "150000", "VND", decs("200000", "100000"), "[100000 50000]"},
		{"tie: the earlier share first", "100000", "VND", decs("100000", "100000", "100000"), "[33334 33333 33333]"},
		{"largest fraction first", "10", "VND", decs("1", "2", "3"), "[2 3 5]"}, // 1.67 3.33 5: .67 wins
		{"two units left", "5", "VND", decs("1", "1", "1"), "[2 2 1]"},
		{"a tiny share rounds down to zero", "500", "VND", decs("1000000", "1000"), "[500 0]"},
		{"USD in cents, not whole dollars", "10.01", "USD", decs("1", "1"), "[5.01 5]"},
		{"USD pro rata", "100", "USD", decs("33.33", "66.67"), "[33.33 66.67]"},
		{"USD a third each", "1", "USD", decs("1", "1", "1"), "[0.34 0.33 0.33]"},
		{"zero weight gets nothing", "100", "VND", decs("0", "1", "1"), "[0 50 50]"},
		{"zero amount", "0", "VND", decs("1", "2"), "[0 0]"},
		{"huge amounts stay exact", "999999999999999", "VND", decs("999999999999998", "1"), "[999999999999998 1]"},
		{"fractional weights", "10", "VND", decs("0.1", "0.3"), "[3 7]"}, // 2.5 7.5: the tie to the first
		{"amount with too many decimals", "1.5", "VND", decs("1"), "more than 0 decimal places"},
		{"negative amount", "-1", "VND", decs("1"), "negative"},
		{"negative weight", "1", "VND", decs("2", "-1"), "weight 1 is negative"},
		{"no weights", "1", "VND", nil, "no weights"},
		{"all weights zero", "1", "VND", decs("0", "0"), "all zero"},
		{"unknown currency", "1", "XXX", decs("1"), "unsupported currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := money.Split(dec(tt.amount), tt.code, tt.weights)
			if err != nil {
				if !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Split = %v, want %s", err, tt.want)
				}
				return
			}
			if fmt.Sprint(got) != tt.want {
				t.Fatalf("Split(%s %s, %v) = %v, want %s", tt.amount, tt.code, tt.weights, got, tt.want)
			}
			checkShares(t, money.MustLookup(tt.code), dec(tt.amount), tt.weights, got)
		})
	}
}

// checkShares asserts what Split promises: the shares add up to amount
// exactly, each has at most the currency's decimals, and each is its exact
// proportion rounded down or up to a unit (so at most its weight when the
// amount is at most the weights' sum).
func checkShares(t *testing.T, c money.Currency, amount decimal.Decimal, weights, shares []decimal.Decimal) {
	t.Helper()
	if len(shares) != len(weights) {
		t.Fatalf("%d shares for %d weights", len(shares), len(weights))
	}
	sum, total := decimal.Zero, decimal.Zero
	for i := range shares {
		sum, total = sum.Add(shares[i]), total.Add(weights[i])
	}
	if !sum.Equal(amount) {
		t.Fatalf("shares %v add up to %s, not %s", shares, sum, amount)
	}
	for i, s := range shares {
		if !c.Fits(s) || s.IsNegative() {
			t.Fatalf("share %d = %s: not a non-negative amount of %s", i, s, c.Code)
		}
		// |share − amount×w/W| < one unit, i.e. |share×W − amount×w| < unit×W.
		gap := s.Mul(total).Sub(amount.Mul(weights[i])).Abs()
		if !gap.LessThan(c.Unit().Mul(total)) {
			t.Fatalf("share %d = %s is a unit or more from its proportion of %s (%v)", i, s, amount, weights)
		}
		if amount.LessThanOrEqual(total) && c.Fits(weights[i]) && s.GreaterThan(weights[i]) {
			t.Fatalf("share %d = %s is above its weight %s", i, s, weights[i])
		}
	}
}

// TestSplitProperties splits random amounts over random weights, in every
// currency of the table.
func TestSplitProperties(t *testing.T) {
	t.Parallel()
	for _, c := range money.Currencies() {
		t.Run(c.Code, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(42, uint64(len(c.Code))+uint64(c.Decimals)))
			for range 2000 {
				n := 1 + rng.IntN(8)
				weights := make([]decimal.Decimal, n)
				total := decimal.Zero
				for i := range weights {
					switch rng.IntN(4) {
					case 0:
						weights[i] = decimal.Zero
					case 1:
						weights[i] = decimal.New(rng.Int64N(1e15), -c.Decimals) // huge
					default:
						weights[i] = decimal.New(1+rng.Int64N(1_000_000), -c.Decimals)
					}
					total = total.Add(weights[i])
				}
				if total.IsZero() {
					weights[0], total = c.Unit(), c.Unit()
				}
				// Mostly at most the total (a refund of what is left), sometimes above.
				amount := decimal.New(rng.Int64N(total.Shift(c.Decimals).IntPart()+1), -c.Decimals)
				if rng.IntN(10) == 0 {
					amount = decimal.New(rng.Int64N(1e15), -c.Decimals)
				}
				shares, err := c.Split(amount, weights)
				if err != nil {
					t.Fatalf("Split(%s, %v): %v", amount, weights, err)
				}
				checkShares(t, c, amount, weights, shares)
			}
		})
	}
}

// FuzzSplit: whatever the amount and weights, Split either refuses them or
// returns shares that add up to the amount, each in the currency's decimals.
func FuzzSplit(f *testing.F) {
	f.Add(int64(100000), int64(100000), int64(100000), int64(100000), uint8(0))
	f.Add(int64(1001), int64(1), int64(0), int64(3), uint8(1))
	f.Add(int64(0), int64(0), int64(0), int64(0), uint8(1))
	codes := []string{"VND", "USD", "JPY"}
	f.Fuzz(func(t *testing.T, units, w1, w2, w3 int64, which uint8) {
		c := money.MustLookup(codes[int(which)%len(codes)])
		amount := decimal.New(units, -c.Decimals)
		weights := []decimal.Decimal{decimal.NewFromInt(w1), decimal.New(w2, -1), decimal.New(w3, -c.Decimals)}
		shares, err := c.Split(amount, weights)
		if err != nil {
			if !errors.Is(err, money.ErrSplit) {
				t.Fatalf("error %v is not ErrSplit", err)
			}
			return
		}
		checkShares(t, c, amount, weights, shares)
	})
}

// Example shows the API: look a currency up, check an amount given to
// civicpay, round one it computes, split one across shares.
func Example() {
	usd, err := money.Lookup("USD")
	if err != nil {
		panic(err)
	}
	fmt.Println(usd.Code, "has", usd.Decimals, "decimals; civicpay collects it:", usd.Collected)

	// Amounts given to civicpay are checked, never rounded.
	fmt.Println(money.Valid(decimal.RequireFromString("10.01"), "USD"))
	fmt.Println(money.Valid(decimal.RequireFromString("200000.5"), money.VND))

	// Amounts civicpay computes (a 1.5% fee) are rounded to the currency's
	// decimals, half away from zero.
	fee, _ := money.Round(decimal.RequireFromString("10.01").Mul(decimal.RequireFromString("0.015")), "USD")
	fmt.Println("1.5% of 10.01 USD:", fee)
	fee, _ = money.Round(decimal.RequireFromString("123457").Mul(decimal.RequireFromString("0.015")), money.VND)
	fmt.Println("1.5% of 123457 VND:", fee)

	// A refund of 100000 VND across three equal lines: the shares add up to
	// it exactly, the unit left over goes to the first.
	shares, _ := money.Split(decimal.NewFromInt(100000), money.VND,
		[]decimal.Decimal{decimal.NewFromInt(50000), decimal.NewFromInt(50000), decimal.NewFromInt(50000)})
	fmt.Println(shares)
	// Output:
	// USD has 2 decimals; civicpay collects it: true
	// <nil>
	// amount has more decimal places than the currency allows: VND has no minor unit, got 200000.5
	// 1.5% of 10.01 USD: 0.15
	// 1.5% of 123457 VND: 1852
	// [33334 33333 33333]
}
