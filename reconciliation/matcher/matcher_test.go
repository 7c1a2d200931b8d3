package matcher_test

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/reconciliation/matcher"
)

func ExampleFee_Of() {
	// VNPAY's demo contract: 1.1% of the gross, rounded to the đồng, plus 1,650 VND.
	vnpay := matcher.Fee{Percent: decimal.RequireFromString("1.1"), Fixed: decimal.NewFromInt(1650)}
	for _, gross := range []int64{200_000, 123_456} {
		fmt.Println(gross, vnpay.Of(decimal.NewFromInt(gross)))
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
