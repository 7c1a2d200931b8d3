package gatewaysim_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/reconciliation/statement"
	"github.com/shopspring/decimal"
)

// A test runs the simulator in process, points an adapter at it, and
// completes the payment through the admin API as the citizen would on the
// pay page.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, time.November, 23, 10, 0, 0, 0, gatewaysim.ICT)
	cfg := gatewaysim.DemoConfig("") // no IPN URL here: nothing is called back
	cfg.Now = func() time.Time { return now }
	sim, err := gatewaysim.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sim.Close()
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()

	vnp, _ := vnpay.New(vnpay.Config{BaseURL: srv.URL + "/vnpay", TmnCode: gatewaysim.DemoVNPAYTmnCode,
		HashSecret: gatewaysim.DemoVNPAYHashSecret}, nil)
	created, _ := vnp.Create(ctx, gateways.CreateRequest{AttemptRef: "AT1", PaymentRef: "RF18539007547034",
		Amount: decimal.NewFromInt(200_000), Currency: "VND", Method: gateways.MethodQR,
		ReturnURL: "https://civicpay.example/return", CreatedAt: now})

	admin := &gatewaysim.Client{BaseURL: srv.URL}
	paid, err := admin.Pay(ctx, gatewaysim.PayRequest{Gateway: gatewaysim.VNPAY, PayURL: created.RedirectURL,
		Outcome: gatewaysim.PaySuccess})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("paid:", paid.Transaction.Ref, paid.Transaction.Status, paid.Transaction.Amount)

	res, err := vnp.Query(ctx, gateways.QueryRequest{GatewayRef: created.GatewayRef, CreatedAt: now})
	fmt.Println("querydr:", res.Status, res.Amount, err)

	csv, _ := admin.Settlement(ctx, gatewaysim.VNPAY, "2026-11-23", 0)
	file, err := statement.ParseSettlement(statement.GatewayVNPAY, bytes.NewReader(csv), nil)
	fmt.Println("settlement:", file.FileID, file.Count, file.Gross, file.Fees, file.Net, err)
	// Output:
	// paid: AT1 succeeded 200000
	// querydr: succeeded 200000 <nil>
	// settlement: STL-VNPAY-20261123-R1 1 200000 3850 196150 <nil>
}
