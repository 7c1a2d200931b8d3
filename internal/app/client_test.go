package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/client"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// TestPaymentThroughTheGeneratedClient makes a payment end to end with the
// client generated from the OpenAPI document: an order is created, an
// attempt started, the simulated gateway pays and calls back, the order is
// paid with one succeeded attempt, and its receipt is served.
func TestPaymentThroughTheGeneratedClient(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	ctx := context.Background()
	api := e.Client(t, e.Portal)

	var amount client.Amount
	if err := amount.FromAmount0("200000"); err != nil {
		t.Fatal(err)
	}
	nationalID, email := "079203001234", "binh@example.vn"
	created, err := api.CreateOrderWithResponse(ctx, &client.CreateOrderParams{IdempotencyKey: "client-e2e-1"}, client.CreateOrderJSONRequestBody{
		Lines:       []client.CreateOrderLine{{Service: "A-FEE", Agency: "AG-A", Amount: amount}},
		Payer:       client.Payer{Name: "Trần Thị Bình", NationalId: &nationalID, Email: &email},
		Description: "Lệ phí",
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.JSON201 == nil {
		t.Fatalf("create order: %d %s", created.StatusCode(), created.Body)
	}
	o := created.JSON201
	if o.Status != client.OrderStatusOpen || !strings.HasSuffix(o.PayUrl, "/pay/"+o.Reference) {
		t.Fatalf("new order: status %s, pay_url %q", o.Status, o.PayUrl)
	}
	if total, err := o.Total.AsAmount0(); err != nil || total != "200000" {
		t.Fatalf("total %q (%v), want \"200000\"", total, err)
	}

	// The same request again is a replay of the same order (200, not 201).
	replay, err := api.CreateOrderWithResponse(ctx, &client.CreateOrderParams{IdempotencyKey: "client-e2e-1"}, client.CreateOrderJSONRequestBody{
		Lines:       []client.CreateOrderLine{{Service: "A-FEE", Agency: "AG-A", Amount: amount}},
		Payer:       client.Payer{Name: "Trần Thị Bình", NationalId: &nationalID, Email: &email},
		Description: "Lệ phí",
	})
	if err != nil {
		t.Fatal(err)
	}
	if replay.JSON200 == nil || replay.JSON200.Id != o.Id {
		t.Fatalf("replay: %d %s", replay.StatusCode(), replay.Body)
	}

	gateway := "momo"
	started, err := api.StartAttemptWithResponse(ctx, o.Id, client.StartAttemptJSONRequestBody{Method: client.StartAttemptMethodEwallet, Gateway: &gateway})
	if err != nil {
		t.Fatal(err)
	}
	if started.JSON201 == nil || started.JSON201.RedirectUrl == nil {
		t.Fatalf("start attempt: %d %s", started.StatusCode(), started.Body)
	}
	a := started.JSON201
	if a.Status != client.AttemptStatusPending || a.OrderId != o.Id {
		t.Fatalf("attempt: status %s, order %s", a.Status, a.OrderId)
	}

	if _, err := e.Sim.Pay(gatewaysim.PayRequest{Gateway: "momo", PayURL: *a.RedirectUrl, Outcome: gatewaysim.PaySuccess}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var paid *client.Order
	for {
		got, err := api.GetOrderWithResponse(ctx, o.Id)
		if err != nil {
			t.Fatal(err)
		}
		if got.JSON200 == nil {
			t.Fatalf("get order: %d %s", got.StatusCode(), got.Body)
		}
		if got.JSON200.Status == client.OrderStatusPaid {
			paid = got.JSON200
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order still %s 10s after the gateway's callback", got.JSON200.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, err := paid.AmountPaid.AsAmount0(); err != nil || got != "200000" {
		t.Fatalf("amount_paid %q (%v)", got, err)
	}
	if paid.Attempts == nil || len(*paid.Attempts) != 1 || (*paid.Attempts)[0].Status != client.AttemptStatusSucceeded {
		t.Fatalf("attempts of the paid order: %+v", paid.Attempts)
	}

	res, err := http.Get(e.URL + "/receipts/" + o.Reference + "?lang=en")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	page, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(page), o.Reference[:4]) {
		t.Fatalf("receipt: %d", res.StatusCode)
	}
}
