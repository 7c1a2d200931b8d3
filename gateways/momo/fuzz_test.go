package momo_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/momo"
)

func FuzzParseCallback(f *testing.F) {
	f.Add(body(notification(nil)))
	f.Add(body(notification(func(n *momo.Notification) { n.ResultCode = 1006 })))
	f.Add(body(notification(func(n *momo.Notification) { n.Amount = -5 })))
	f.Add([]byte(`{"amount":1e400,"transId":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{})
	a := newAdapter(f, "https://test-payment.momo.vn", 0)
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, err := a.ParseCallback(gateways.CallbackRequest{Method: "POST", Body: raw})
		if err != nil {
			return
		}
		var n momo.Notification
		if err := json.Unmarshal(raw, &n); err != nil {
			t.Fatalf("accepted a body that does not decode: %q", raw)
		}
		if !strings.EqualFold(n.Signature, momo.Signature(secretKey, n.SignatureFields(accessKey)...)) {
			t.Fatalf("accepted a callback whose signature does not verify: %q", raw)
		}
		if res.GatewayRef != n.OrderID || !res.Amount.IsPositive() {
			t.Fatalf("accepted %q as %+v", raw, res)
		}
	})
}
