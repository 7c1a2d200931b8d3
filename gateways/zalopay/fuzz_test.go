package zalopay_test

import (
	"encoding/json"
	"testing"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/zalopay"
)

func FuzzParseCallback(f *testing.F) {
	f.Add(callback(key2, nil))
	f.Add(callback(key2, func(d *zalopay.CallbackData) { d.Amount = -1 }))
	f.Add(callback(key1, nil))
	f.Add([]byte(`{"data":"{\"amount\":1e99}","mac":"","type":1}`))
	f.Add([]byte(`null`))
	a := newAdapter(f, "https://sb-openapi.zalopay.vn", 0)
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, err := a.ParseCallback(gateways.CallbackRequest{Method: "POST", Body: raw})
		if err != nil {
			return
		}
		var cb zalopay.Callback
		if err := json.Unmarshal(raw, &cb); err != nil || !zalopay.VerifyMAC(key2, cb.Data, cb.MAC) {
			t.Fatalf("accepted a callback whose mac does not verify: %q", raw)
		}
		if res.GatewayRef == "" || !res.Amount.IsPositive() || res.Status != gateways.StatusSucceeded {
			t.Fatalf("accepted %q as %+v", raw, res)
		}
	})
}
