package reconciliation_test

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/civicpay/civicpay/reconciliation"
)

// The contracted fees are checked on every payment line of a settlement
// file: a line whose fee differs is an amount_mismatch.
func ExampleParseFees() {
	fees, err := reconciliation.ParseFees("vnpay=1.1%+1650,momo=1.5%")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(fees["vnpay"].Of(decimal.NewFromInt(200_000), money.MustLookup(money.VND)), fees["momo"].Of(decimal.NewFromInt(310_000), money.MustLookup(money.VND)))
	_, err = reconciliation.ParseFees("vnpay=1.1")
	fmt.Println(err)
	// Output:
	// 3850 4650
	// reconciliation: fee "vnpay=1.1" is not gateway=P%[+F]
}
