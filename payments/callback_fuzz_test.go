package payments

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"testing"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/civicpay/civicpay/gateways/zalopay"
)

// FuzzCallbackNeverAcceptsUnsigned sends arbitrary callbacks to every
// gateway's endpoint logic: nothing panics, and nothing that is not signed
// with the merchant's key reaches the order (the flow has no database here:
// recording would fail the test).
func FuzzCallbackNeverAcceptsUnsigned(f *testing.F) {
	f.Add("vnpay", "GET", "vnp_TmnCode=CIVICPAY&vnp_TxnRef=abc&vnp_Amount=20000000&vnp_ResponseCode=00&vnp_TransactionStatus=00&vnp_SecureHash=00", "")
	f.Add("momo", "POST", "", `{"partnerCode":"MOMO","orderId":"abc","amount":200000,"resultCode":0,"transId":1,"signature":"00"}`)
	f.Add("zalopay", "POST", "", `{"data":"{\"app_id\":2554,\"app_trans_id\":\"261124_abc\",\"amount\":200000}","mac":"00","type":1}`)
	f.Add("vietqr", "POST", "x=1", `{}`)
	f.Add("momo", "POST", "", `not json`)
	var acks []gateways.Ack
	flow := fuzzFlow(f, func(_ string, ack gateways.Ack) { acks = append(acks, ack) })
	f.Fuzz(func(t *testing.T, gateway, method, query, body string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			q = url.Values{}
		}
		acks = acks[:0]
		_, _, _, err = flow.Callback(context.Background(), gateway, gateways.CallbackRequest{
			Method: method, Query: q, Header: http.Header{}, Body: []byte(body)})
		if err != nil {
			return // not one of our gateways
		}
		if len(acks) != 1 {
			t.Fatalf("%d acks", len(acks))
		}
		switch acks[0] {
		case gateways.AckBadSignature, gateways.AckNotFound, gateways.AckError:
		default:
			t.Fatalf("unsigned %s callback answered %v", gateway, acks[0])
		}
	})
}

// fuzzFlow is a flow over the four adapters with made-up merchant keys and
// no database.
func fuzzFlow(tb testing.TB, onCallback func(string, gateways.Ack)) *Paying {
	tb.Helper()
	vn, err := vnpay.New(vnpay.Config{BaseURL: "http://127.0.0.1:1", TmnCode: "CIVICPAY", HashSecret: "fuzz-secret"}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	mm, err := momo.New(momo.Config{BaseURL: "http://127.0.0.1:1", PartnerCode: "MOMO", AccessKey: "a", SecretKey: "fuzz-secret"}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	zp, err := zalopay.New(zalopay.Config{BaseURL: "http://127.0.0.1:1", AppID: 2554, Key1: "k1", Key2: "fuzz-secret"}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	router, err := gateways.NewRouter(gateways.RouterConfig{Breaker: testBreaker(5)}, vn, mm, zp)
	if err != nil {
		tb.Fatal(err)
	}
	svc := NewOrders(nil, nil, testOrdersConfig(), nil, slog.New(slog.DiscardHandler))
	cfg := testPayingConfig(12)
	cfg.OnCallback = onCallback
	f := NewPaying(svc, router, cfg)
	tb.Cleanup(func() { closeFlow(f) })
	return f
}
