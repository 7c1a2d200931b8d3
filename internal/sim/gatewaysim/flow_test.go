package gatewaysim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/zalopay"
)

// TestFlow drives each real adapter against the simulator over HTTP:
// create, the citizen's pay page, payment through the admin API, the
// callback accepted by ParseCallback, a status query, refunds (a duplicate
// refund request refunds nothing more) and a refund beyond the amount.
func TestFlow(t *testing.T) {
	t.Parallel()
	// dupStatus is how each adapter reports a refund request it sent before.
	dupStatus := map[string]gateways.Status{VNPAY: gateways.StatusPending, MoMo: gateways.StatusPending,
		ZaloPay: gateways.StatusSucceeded}
	for _, g := range gatewayNames {
		t.Run(g, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			a := e.create(g, 150_000)

			page := get(t, a.res.RedirectURL)
			if !strings.Contains(page, "150.000") || !strings.Contains(page, `value="success"`) {
				t.Fatalf("pay page does not show the amount and the buttons:\n%s", page)
			}
			paid := e.pay(a, PaySuccess)
			if paid.Transaction.Status != StatusSucceeded || paid.RedirectURL == "" {
				t.Fatalf("pay = %+v", paid)
			}
			e.waitCallbacks()
			cbs := e.recv.callbacks(g)
			if len(cbs) != 1 || cbs[0].err != nil {
				t.Fatalf("callbacks = %+v, want one that parses", cbs)
			}
			cb := cbs[0].res
			if cb.Status != gateways.StatusSucceeded || cb.GatewayRef != a.res.GatewayRef || !cb.Amount.Equal(a.req.Amount) ||
				cb.GatewayTxnID != paid.Transaction.GatewayTxnID || cb.PaidAt.IsZero() {
				t.Errorf("callback = %+v", cb)
			}
			if log := e.sim.CallbackLog(g, a.res.GatewayRef); len(log) != 1 || log[0].Outcome != CallbackDelivered {
				t.Errorf("callback log = %+v", log)
			}

			q := e.query(a)
			if q.Status != gateways.StatusSucceeded || q.GatewayTxnID != cb.GatewayTxnID || !q.Amount.Equal(a.req.Amount) {
				t.Errorf("query = %+v", q)
			}

			at := e.clock.Now()
			first := refundReq(a, cb.GatewayTxnID, "RFD"+g+"1", 50_000, at)
			r1 := must(e.gw[g].Refund(ctx, first))(t)
			if r1.Status != gateways.StatusSucceeded || r1.GatewayRefundID == "" {
				t.Fatalf("refund = %+v", r1)
			}
			again := must(e.gw[g].Refund(ctx, first))(t)
			if again.Status != dupStatus[g] {
				t.Errorf("duplicate refund = %+v, want %s", again, dupStatus[g])
			}
			if got := e.transaction(a); len(got.Refunds) != 1 || got.Refunded() != 50_000 {
				t.Fatalf("after a duplicate refund request the payment has refunds %+v", got.Refunds)
			}
			if g == ZaloPay {
				qr := must(e.gw[g].(gateways.RefundQuerier).QueryRefund(ctx, first))(t)
				if qr.Status != gateways.StatusSucceeded || qr.GatewayRefundID != r1.GatewayRefundID {
					t.Errorf("query refund = %+v, want the refund %s", qr, r1.GatewayRefundID)
				}
			}

			rest := refundReq(a, cb.GatewayTxnID, "RFD"+g+"2", 100_000, at)
			if r2 := must(e.gw[g].Refund(ctx, rest))(t); r2.Status != gateways.StatusSucceeded {
				t.Errorf("second refund = %+v", r2)
			}
			over := refundReq(a, cb.GatewayTxnID, "RFD"+g+"3", 1_000, at)
			r3, err := e.gw[g].Refund(ctx, over)
			if err == nil && r3.Status != gateways.StatusFailed {
				t.Errorf("refund beyond the amount = %+v, %v; want refused", r3, err)
			}
			if got := e.transaction(a); got.Refunded() != 150_000 || len(got.Refunds) != 2 {
				t.Errorf("refunds = %+v, want 150000 in two", got.Refunds)
			}
			if q := e.query(a); q.Status != gateways.StatusSucceeded {
				t.Errorf("query of a refunded payment = %+v, want succeeded", q)
			}
		})
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp := must(http.Get(u))(t)
	defer resp.Body.Close()
	body := must(io.ReadAll(resp.Body))(t)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, body)
	}
	return string(body)
}

// TestDecline: a declined payment is reported failed by its callback
// (ZaloPay sends none) and by the status query.
func TestDecline(t *testing.T) {
	t.Parallel()
	for _, g := range gatewayNames {
		t.Run(g, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			a := e.create(g, 20_000)
			if q := e.query(a); q.Status != gateways.StatusPending {
				t.Errorf("query before paying = %+v, want pending", q)
			}
			res := e.pay(a, PayDecline)
			if res.Transaction.Status != StatusFailed || res.Transaction.Code != declineCodes[g][0] {
				t.Errorf("decline = %+v", res.Transaction)
			}
			e.waitCallbacks()
			cbs := e.recv.callbacks(g)
			switch {
			case g == ZaloPay && len(cbs) != 0:
				t.Errorf("ZaloPay called back a failed payment: %+v", cbs)
			case g != ZaloPay && (len(cbs) != 1 || cbs[0].err != nil || cbs[0].res.Status != gateways.StatusFailed):
				t.Errorf("callbacks = %+v, want one failed", cbs)
			}
			if q := e.query(a); q.Status != gateways.StatusFailed {
				t.Errorf("query = %+v, want failed", q)
			}
			_, err := e.admin.Pay(context.Background(), PayRequest{Gateway: g, Ref: a.res.GatewayRef, Outcome: PaySuccess})
			if !errors.Is(err, ErrConflict) {
				t.Errorf("paying a declined payment: %v, want ErrConflict", err)
			}
		})
	}
}

// TestPayPageForm is the citizen's path: the form posts the outcome and the
// browser is sent (303) to the merchant's return URL with a result the
// adapter verifies.
func TestPayPageForm(t *testing.T) {
	t.Parallel()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, g := range gatewayNames {
		t.Run(g, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			a := e.create(g, 75_000)
			get(t, a.res.RedirectURL) // opens the payment (VNPAY learns of it here)
			action := e.srv.URL + "/" + g + "/pay/" + url.PathEscape(a.res.GatewayRef)
			resp := must(noRedirect.PostForm(action, url.Values{"outcome": {PaySuccess}}))(t)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("form answer %s, want 303", resp.Status)
			}
			loc := must(url.Parse(resp.Header.Get("Location")))(t)
			if !strings.HasPrefix(loc.String(), e.recv.srv.URL+"/return?order=1&") {
				t.Fatalf("redirect to %s, want the return URL with its own query kept", loc)
			}
			switch g {
			case ZaloPay:
				q := loc.Query()
				data := strings.Join([]string{q.Get("appid"), q.Get("apptransid"), q.Get("pmcid"), q.Get("bankcode"),
					q.Get("amount"), q.Get("discountamount"), q.Get("status")}, "|")
				if q.Get("status") != "1" || !zalopay.VerifyMAC(e.sim.cfg.ZaloPay.Key2, data, q.Get("checksum")) {
					t.Errorf("ZaloPay redirect %v does not verify", q)
				}
			default:
				res, err := e.gw[g].ParseCallback(gateways.CallbackRequest{Method: http.MethodGet, Query: loc.Query()})
				if err != nil || res.Status != gateways.StatusSucceeded || res.GatewayRef != a.res.GatewayRef {
					t.Errorf("return %v: %+v, %v", loc.Query(), res, err)
				}
			}
			// Pressing the button again changes nothing.
			resp = must(noRedirect.PostForm(action, url.Values{"outcome": {PayDecline}}))(t)
			resp.Body.Close()
			if resp.StatusCode != http.StatusConflict || e.transaction(a).Status != StatusSucceeded {
				t.Errorf("second press: %s, status %s", resp.Status, e.transaction(a).Status)
			}
		})
	}
}

// TestExpiry: a payment whose window closed cannot be paid and queries as
// failed.
func TestExpiry(t *testing.T) {
	t.Parallel()
	for _, g := range gatewayNames {
		t.Run(g, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			a := e.create(g, 30_000)
			get(t, a.res.RedirectURL)
			e.clock.advance(3 * time.Hour)
			_, err := e.admin.Pay(context.Background(), PayRequest{Gateway: g, Ref: a.res.GatewayRef, Outcome: PaySuccess})
			if !errors.Is(err, ErrConflict) {
				t.Errorf("paying after expiry: %v, want ErrConflict", err)
			}
			if q := e.query(a); q.Status != gateways.StatusFailed || q.Code != map[string]string{VNPAY: "02", MoMo: "1005", ZaloPay: "2"}[g] {
				t.Errorf("query = %+v, want failed with the expiry code", q)
			}
		})
	}
}
