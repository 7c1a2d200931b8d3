package pages_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/pages"
)

// oneOrder is a stand-in for (*payments.Service).Lookup.
type oneOrder struct{ o payments.Order }

func (s oneOrder) Lookup(_ context.Context, ref string) (payments.Order, error) {
	if ref != s.o.Reference {
		return payments.Order{}, payments.ErrOrderNotFound
	}
	return s.o, nil
}

// noFlow is a stand-in for the payment flow that has nothing started yet.
type noFlow struct{}

func (noFlow) Start(context.Context, payments.Order, pages.StartRequest) (pages.Started, error) {
	return pages.Started{RedirectURL: "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html"}, nil
}
func (noFlow) Latest(context.Context, payments.Order) (pages.Attempt, bool, error) {
	return pages.Attempt{}, false, nil
}
func (noFlow) AttemptOrder(context.Context, uuid.UUID) (string, bool, error) { return "", false, nil }

// oneGateway is a stand-in for (*gateways.Router).Stats.
type oneGateway struct{}

func (oneGateway) Stats() []gateways.BreakerStat {
	return []gateways.BreakerStat{{Name: "vnpay", State: "closed", Methods: []gateways.Method{gateways.MethodCard}}}
}

// The pages mount at the root of the service's Fiber app, beside the API.
func ExampleHandler_Routes() {
	order := payments.Order{
		Reference: "RF68123456789012345", Status: payments.StatusOpen, Currency: "VND",
		Total: decimal.RequireFromString("200000"), Payer: payments.Payer{Name: "Nguyễn Văn An"},
		ExpiresAt: time.Now().Add(time.Hour),
	}
	h, err := pages.New(pages.Deps{Orders: oneOrder{order}, Attempts: noFlow{}, Breakers: oneGateway{}}, pages.Config{
		PublicURL:     "https://pay.example.gov.vn",
		ReceiptSecret: []byte("a secret of at least thirty-two bytes, from the environment"),
	})
	if err != nil {
		panic(err)
	}
	app := fiber.New()
	h.Routes(app)

	for _, path := range []string{
		"/pay/RF68123456789012345",      // the order
		"/pay/RF68123456789012354",      // its last two digits swapped: the check digits catch it
		"/receipts/RF68123456789012345", // not paid yet: no receipt
	} {
		resp, err := app.Test(httptest.NewRequest("GET", path, nil), -1)
		if err != nil {
			panic(err)
		}
		fmt.Println(path, resp.StatusCode)
	}
	// Output:
	// /pay/RF68123456789012345 200
	// /pay/RF68123456789012354 400
	// /receipts/RF68123456789012345 404
}
