package vnpay_test

import (
	"net/url"
	"testing"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/vnpay"
)

func FuzzParseCallback(f *testing.F) {
	f.Add(ipn(nil).Encode())
	f.Add(ipn(func(v url.Values) { v.Set("vnp_ResponseCode", "24") }).Encode())
	f.Add(ipn(func(v url.Values) { v.Set("vnp_Amount", "15000050") }).Encode())
	f.Add(ipn(func(v url.Values) { v.Set("vnp_PayDate", "") }).Encode())
	f.Add(ipn(nil).Encode() + "&vnp_Amount=1")
	f.Add("vnp_SecureHash=00&vnp_TxnRef=%ZZ")
	f.Add("")
	a := newAdapter(f, "https://sandbox.vnpayment.vn", 0)
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // keeps what parses, as net/http does
		res, err := a.ParseCallback(gateways.CallbackRequest{Method: "GET", Query: q})
		if err != nil {
			return
		}
		if !vnpay.Verify(q, secret) {
			t.Fatalf("accepted a callback whose signature does not verify: %q", raw)
		}
		if res.GatewayRef == "" || res.Amount.IsNegative() || !res.Amount.IsInteger() {
			t.Fatalf("accepted %q as %+v", raw, res)
		}
	})
}
