package gatewaysim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// routes are the simulator's endpoints, with placeholders filled in.
var routes = []struct{ method, path string }{
	{"GET", "/"},
	{"GET", "/vnpay/paymentv2/vpcpay.html"},
	{"POST", "/vnpay/merchant_webapi/api/transaction"},
	{"POST", "/momo/v2/gateway/api/create"},
	{"POST", "/momo/v2/gateway/api/query"},
	{"POST", "/momo/v2/gateway/api/refund"},
	{"POST", "/zalopay/v2/create"},
	{"POST", "/zalopay/v2/query"},
	{"POST", "/zalopay/v2/refund"},
	{"POST", "/zalopay/v2/query_refund"},
	{"GET", "/vnpay/pay/ATX"},
	{"POST", "/momo/pay/ATX"},
	{"POST", "/zalopay/pay/261123_ATX"},
	{"POST", "/admin/pay"},
	{"GET", "/admin/transactions"},
	{"POST", "/admin/transfer"},
	{"GET", "/admin/transfers"},
	{"GET", "/admin/faults"},
	{"POST", "/admin/faults/momo"},
	{"GET", "/admin/callbacks"},
	{"GET", "/admin/settlements"},
	{"GET", "/admin/settlements/vnpay/2026-11-23"},
	{"POST", "/admin/settlements/zalopay/2026-11-23/revise"},
	{"GET", "/admin/discrepancies"},
	{"POST", "/admin/discrepancies/bank"},
	{"POST", "/admin/discrepancies/momo"},
	{"POST", "/admin/save"},
	{"GET", "/bank/statements/camt053/2026-11-23"},
	{"GET", "/bank/notifications/camt054"},
}

// hostile are bodies and query strings no endpoint should choke on.
var hostile = []struct{ query, body string }{
	{"", ""},
	{"", "{"},
	{"", "null"},
	{"", "[]"},
	{"", "42"},
	{"", `"string"`},
	{"", "\xff\xfe\x00"},
	{"", `{"gateway":"momo","ref":"ATX","outcome":"success","extra":1}`},
	{"", `{"gateway":"vnpay","pay_url":"http://x/vnpay/paymentv2/vpcpay.html?vnp_TxnRef=1","outcome":"success"}`},
	{"", `{"gateway":"vnpay","pay_url":"::::","outcome":"decline","code":"77"}`},
	{"", `{"amount":-1,"reference":"RF18539007547034"}`},
	{"", `{"amount":9223372036854775807}`},
	{"", `{"qr":"000201010212"}`},
	{"", `{"error_rate":"x"}`},
	{"", `{"error_rate":1e400}`},
	{"", `{"callback_copies":-5}`},
	{"", `{"omit_settlement":["paypal"],"unknown_credit":-1}`},
	{"", `{"drop_line":"*","fee_delta":9223372036854775807}`},
	{"", `{"vnp_Command":"refund","vnp_Amount":"99999999999999999999999"}`},
	{"", `{"vnp_Command":"querydr","vnp_Version":"2.1.0"}`},
	{"", `{"partnerCode":"MOMOCIVICPAY2026","orderId":"-","amount":1e30}`},
	{"", `{"app_id":2554,"app_trans_id":"261123_","amount":-1,"item":"{","embed_data":"["}`},
	{"", `{"app_id":2554,"m_refund_id":"x","zp_trans_id":"abc"}`},
	{"", strings.Repeat("[", 100_000)},
	{"vnp_TxnRef=a&vnp_TxnRef=b", ""},
	{"vnp_SecureHash=00&vnp_Amount=abc", ""},
	{"outcome=success", "outcome=success&code=%ff"},
	{"gateway=momo&status=bogus&limit=-1", ""},
	{"limit=99999999999999999999", ""},
	{"revision=abc", ""},
	{"revision=-1", ""},
	{"wait=1h", ""},
	{"wait=-1s", ""},
	{"since=yesterday&limit=x", ""},
	{"since=0001-01-01T00:00:00Z", ""},
	{"lang=en&ref=%00", ""},
}

// serveOnce runs one request through the handler without a network.
func serveOnce(sim *Sim, method, path, query, body string) int {
	req := httptest.NewRequest(method, "http://sim.test"+path, strings.NewReader(body))
	req.URL.RawQuery = query
	if method == http.MethodPost && strings.Contains(body, "outcome=") {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	rec := httptest.NewRecorder()
	sim.Handler().ServeHTTP(rec, req)
	return rec.Code
}

// TestHostileInput sends every endpoint every hostile input: nothing may
// panic or fail with a 5xx (no faults are set).
func TestHostileInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, r := range routes {
		for _, h := range hostile {
			if code := serveOnce(e.sim, r.method, r.path, h.query, h.body); code >= 500 {
				t.Errorf("%s %s?%s with %.40q: status %d", r.method, r.path, h.query, h.body, code)
			}
		}
	}
	if n := e.sim.panics.Load(); n != 0 {
		t.Errorf("%d panics", n)
	}
}

// TestBodyLimit: a body over 1 MiB is refused, not read whole.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := `{"gateway":"momo","ref":"` + strings.Repeat("A", 2<<20) + `","outcome":"success"}`
	if code := serveOnce(e.sim, "POST", "/admin/pay", "", big); code != http.StatusBadRequest {
		t.Errorf("2 MiB body: status %d, want 400", code)
	}
}

// FuzzHandler throws arbitrary requests at every endpoint: no panic, no
// 5xx.
func FuzzHandler(f *testing.F) {
	for i := range routes {
		for _, h := range hostile[:8] {
			f.Add(uint8(i), h.query, h.body)
		}
	}
	e := &env{clock: newClock()}
	cfg := DemoConfig("http://127.0.0.1:1")
	cfg.Now = e.clock.Now
	cfg.Callbacks.Attempts, cfg.Callbacks.Timeout = 1, 100*time.Millisecond // callbacks to nowhere end at once
	sim, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = sim.Close() })
	f.Fuzz(func(t *testing.T, route uint8, query, body string) {
		r := routes[int(route)%len(routes)]
		if code := serveOnce(sim, r.method, r.path, query, body); code >= 500 {
			t.Errorf("%s %s?%q with %q: status %d", r.method, r.path, query, body, code)
		}
		if n := sim.panics.Load(); n != 0 {
			t.Fatalf("%d panics", n)
		}
		for _, g := range gatewayNames {
			_ = sim.SetFaults(g, Faults{}) // an input that set latency must not slow the next ones
		}
	})
}
