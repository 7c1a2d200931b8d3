package momo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/gwtest"
	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/shopspring/decimal"
)

// MoMo's published regression vector.
const (
	accessKey   = "F8BBA842ECF85"
	secretKey   = "K951B6PE1waDMi640xX08PD3vg6EkVlz"
	partnerCode = "MOMO"
)

func TestCreateSignatureVector(t *testing.T) {
	t.Parallel()
	b := momo.CreateBody{
		PartnerCode: partnerCode, RequestID: "MOMO1700000000000", OrderID: "MOMO1700000000000",
		Amount: 50000, OrderInfo: "pay with MoMo", RedirectURL: "https://momo.vn/return",
		IPNURL: "https://callback.url/notify", RequestType: "captureWallet",
	}
	const want = "4378bb95714712f6be833da81f743910a01e5ba6279bfe596b8a08e891259424"
	if got := momo.Signature(secretKey, b.SignatureFields(accessKey)...); got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
	const raw = "accessKey=F8BBA842ECF85&amount=50000&extraData=&ipnUrl=https://callback.url/notify" +
		"&orderId=MOMO1700000000000&orderInfo=pay with MoMo&partnerCode=MOMO&redirectUrl=https://momo.vn/return" +
		"&requestId=MOMO1700000000000&requestType=captureWallet"
	if got := momo.RawString(b.SignatureFields(accessKey)...); got != raw {
		t.Errorf("raw string = %s\nwant %s", got, raw)
	}
}

func newAdapter(t testing.TB, baseURL string, timeout time.Duration) *momo.Adapter {
	t.Helper()
	a, err := momo.New(momo.Config{BaseURL: baseURL, PartnerCode: partnerCode, AccessKey: accessKey,
		SecretKey: secretKey, Timeout: timeout}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// server plays MoMo's API: it checks each request's signature and answers answer(req).
func server[T interface {
	SignatureFields(string) []momo.KV
}](t *testing.T, path string, sig func(T) string, answer func(T) any) string {
	return gwtest.JSONServer(t, path, func(req T) any {
		if want := momo.Signature(secretKey, req.SignatureFields(accessKey)...); sig(req) != want {
			t.Errorf("request signature %s, want %s", sig(req), want)
		}
		return answer(req)
	})
}

var created = time.Date(2025, 3, 1, 17, 30, 0, 0, time.UTC)

func createRequest() gateways.CreateRequest {
	return gateways.CreateRequest{
		AttemptRef: "AT7Q2X9", PaymentRef: "RF18539007547034", Amount: decimal.NewFromInt(150000),
		Currency: "VND", Description: "Lệ phí hộ chiếu", Method: gateways.MethodEwallet,
		ReturnURL: "https://pay.example.gov.vn/return", CallbackURL: "https://pay.example.gov.vn/ipn/momo",
		Locale: "en", CreatedAt: created, ExpiresAt: created.Add(15 * time.Minute),
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	sent := make(chan momo.CreateBody, 1)
	base := server(t, momo.CreatePath, func(b momo.CreateBody) string { return b.Signature },
		func(b momo.CreateBody) any {
			sent <- b
			return momo.CreateResponse{PartnerCode: b.PartnerCode, OrderID: b.OrderID, RequestID: b.RequestID,
				Amount: b.Amount, PayURL: "https://test-payment.momo.vn/pay/" + b.OrderID, QRCodeURL: "momo://x"}
		})
	res, err := newAdapter(t, base, time.Second).Create(context.Background(), createRequest())
	if err != nil {
		t.Fatal(err)
	}
	want := gateways.CreateResult{GatewayRef: "AT7Q2X9", RedirectURL: "https://test-payment.momo.vn/pay/AT7Q2X9", QRPayload: "momo://x"}
	if res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	b := <-sent
	if b.Amount != 150000 || b.OrderID != "AT7Q2X9" || b.RequestID != "AT7Q2X9" || b.RequestType != "captureWallet" ||
		b.Lang != "en" || b.OrderInfo != "Lệ phí hộ chiếu" || b.IPNURL != "https://pay.example.gov.vn/ipn/momo" {
		t.Errorf("request = %+v", b)
	}
}

func TestCreateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*gateways.CreateRequest)
		answer momo.CreateResponse
		want   error
	}{
		{"below captureWallet minimum", func(r *gateways.CreateRequest) { r.Amount = decimal.NewFromInt(999) }, momo.CreateResponse{}, gateways.ErrInvalidRequest},
		{"above maximum", func(r *gateways.CreateRequest) { r.Amount = decimal.NewFromInt(50_000_001) }, momo.CreateResponse{}, gateways.ErrInvalidRequest},
		{"fractional", func(r *gateways.CreateRequest) { r.Amount = decimal.RequireFromString("1000.01") }, momo.CreateResponse{}, gateways.ErrInvalidRequest},
		{"card not configured", func(r *gateways.CreateRequest) { r.Method = gateways.MethodCard }, momo.CreateResponse{}, gateways.ErrInvalidRequest},
		{"duplicate orderId", nil, momo.CreateResponse{ResultCode: 41, Message: "duplicate"}, gateways.ErrRejected},
		{"answer for another order", nil, momo.CreateResponse{OrderID: "OTHER", PayURL: "https://x"}, gateways.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := server(t, momo.CreatePath, func(b momo.CreateBody) string { return b.Signature },
				func(momo.CreateBody) any { return tt.answer })
			r := createRequest()
			if tt.change != nil {
				tt.change(&r)
			}
			_, err := newAdapter(t, base, time.Second).Create(context.Background(), r)
			if !errors.Is(err, tt.want) || gateways.IsTechnical(err) {
				t.Errorf("error = %v, want %v (not technical)", err, tt.want)
			}
		})
	}
}
