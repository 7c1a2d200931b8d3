package matcher_test

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/civicpay/civicpay/reconciliation/matcher"
)

func ExampleFee_Of() {
	// VNPAY's demo contract: 1.1% of the gross, rounded to the đồng, plus 1,650 VND.
	vnpay := matcher.Fee{Percent: decimal.RequireFromString("1.1"), Fixed: decimal.NewFromInt(1650)}
	for _, gross := range []int64{200_000, 123_456} {
		fmt.Println(gross, vnpay.Of(decimal.NewFromInt(gross), money.MustLookup(money.VND)))
	}
	// Output:
	// 200000 3850
	// 123456 3008
}

func TestEveryLineEndsInOneOfSixClasses(t *testing.T) {
	t.Parallel()
	want := []string{"matched", "missing_here", "missing_there", "amount_mismatch", "duplicate", "unknown"}
	got := matcher.Classes()
	if len(got) != len(want) {
		t.Fatalf("classes %v", got)
	}
	for i, c := range got {
		if string(c) != want[i] || !c.Valid() {
			t.Errorf("class %d = %q, want %q", i, c, want[i])
		}
	}
	for _, bad := range []matcher.Class{"", "pending", "Matched"} {
		if bad.Valid() {
			t.Errorf("%q is valid", bad)
		}
	}
}

func TestFeeIsRoundedToTheCurrencysDecimals(t *testing.T) {
	t.Parallel()
	d := decimal.RequireFromString
	tests := []struct {
		pct, fixed, gross, currency, want string
	}{
		{"1.5", "0", "10.01", "USD", "0.15"},     // 0.15015: not 0, the whole dollar
		{"1.5", "0", "23.00", "USD", "0.35"},     // 0.345: half a cent rounds up
		{"1.5", "0.30", "23.00", "USD", "0.65"},  // plus the fixed part
		{"1.5", "0", "123457", "VND", "1852"},    // 1851.855: to the đồng
		{"1.1", "1650", "123456", "VND", "3008"}, // 1358.016 + 1650
		{"1.5", "0", "100", "JPY", "2"},          // 1.5
		{"0", "0", "100", "VND", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.gross+" "+tt.currency, func(t *testing.T) {
			t.Parallel()
			f := matcher.Fee{Percent: d(tt.pct), Fixed: d(tt.fixed)}
			if got := f.Of(d(tt.gross), money.MustLookup(tt.currency)); !got.Equal(d(tt.want)) {
				t.Fatalf("%s%% + %s of %s %s = %s, want %s", tt.pct, tt.fixed, tt.gross, tt.currency, got, tt.want)
			}
		})
	}
}
