package payments_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// momoIPN is a success IPN for orderId, signed with the demo MoMo key
// published in the repository, as anyone could make it.
func momoIPN(orderID string, amount, transID int64) []byte {
	n := momo.Notification{PartnerCode: gatewaysim.DemoMoMoPartnerCode, OrderID: orderID, RequestID: orderID,
		Amount: amount, OrderInfo: "forged", OrderType: "momo_wallet", TransID: transID, ResultCode: 0,
		Message: "Successful.", PayType: "qr", ResponseTime: time.Now().UnixMilli()}
	n.Signature = momo.Signature(gatewaysim.DemoMoMoSecretKey, n.SignatureFields(gatewaysim.DemoMoMoAccessKey)...)
	body, _ := json.Marshal(n) // strings and numbers: cannot fail
	return body
}

// vnpayIPN is a success IPN's query string for txnRef, signed with the demo
// VNPAY secret; extra fields are added before signing.
func vnpayIPN(txnRef string, amount int64, extra url.Values) string {
	v := url.Values{"vnp_TmnCode": {gatewaysim.DemoVNPAYTmnCode}, "vnp_Amount": {vnpay.FormatAmount(amount)},
		"vnp_BankCode": {"NCB"}, "vnp_CardType": {"ATM"}, "vnp_OrderInfo": {"forged"},
		"vnp_PayDate": {vnpay.FormatTime(time.Now())}, "vnp_ResponseCode": {"00"}, "vnp_TransactionNo": {"14422574"},
		"vnp_TransactionStatus": {"00"}, "vnp_TxnRef": {txnRef}, "vnp_BankTranNo": {"VNP14422574"}}
	for k, vs := range extra {
		v[k] = vs
	}
	v.Set("vnp_SecureHash", vnpay.Sign(v, gatewaysim.DemoVNPAYHashSecret))
	return v.Encode()
}

// checkUnpaid fails unless the order is open with no payment in the ledger
// and no receipt.
func checkUnpaid(t *testing.T, e *apptest.Env, o orderJSON) {
	t.Helper()
	got := getOrder(t, e, o.ID)
	for _, a := range got.Attempts {
		if a.Status == "succeeded" {
			t.Errorf("attempt %s at %s succeeded", a.ID, a.Gateway)
		}
	}
	if got.Status != "open" || got.AmountPaid != "0" {
		t.Errorf("order %s, amount paid %s: want open, nothing paid", got.Status, got.AmountPaid)
	}
	if n := ledgerEntries(t, e, o.ID); len(n) != 0 {
		t.Errorf("ledger entries %v, want none", n)
	}
	if r := e.Do(t, "GET", "/receipts/"+o.Reference, "", nil); r.Status == http.StatusOK {
		t.Errorf("a receipt is issued: %d", r.Status)
	}
}

// TestForgedCallbackByPaymentReferenceDoesNotPay: with the demo secrets
// (development), a MoMo IPN signed with the published key and naming the
// order's public payment reference as orderId used to pay the order, though
// no MoMo attempt existed. A callback is matched only to an attempt of its
// own gateway: it is answered as an unknown order (MoMo: 404), counted, and
// changes nothing — for an order without attempts, with a VietQR attempt
// (whose reference is the payment reference) or with an attempt at MoMo.
func TestForgedCallbackByPaymentReferenceDoesNotPay(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	tests := []struct {
		name, method, gateway string
	}{
		{"no attempt", "", ""},
		{"a vietqr attempt", "bank_transfer", "vietqr"},
		{"a momo attempt", "ewallet", "momo"},
	}
	for i, tt := range tests {
		o := newOrder(t, e, false)
		if tt.method != "" {
			startAttempt(t, e, o.ID, tt.method, tt.gateway)
		}
		r := e.Do(t, "POST", "/callbacks/momo", "", momoIPN(o.Reference, 200000, int64(900+i)))
		if r.Status != http.StatusNotFound {
			t.Errorf("%s: forged IPN answered %d %s, want 404 (unknown order)", tt.name, r.Status, r.Body)
		}
		checkUnpaid(t, e, o)
		if t.Failed() {
			t.Fatalf("%s: the forged IPN paid the order", tt.name)
		}
	}
	if m := metrics(t, e); !strings.Contains(m, `civicpay_gateway_callbacks_total{ack="not_found",gateway="momo"} 3`) {
		t.Errorf("unmatched callbacks not counted:\n%s", m)
	}
}

// TestCallbackOfAnotherGatewayDoesNotPay: a callback from gateway X that
// names an attempt of gateway Y (here VNPAY naming a VietQR attempt, whose
// reference is the order's payment reference, and MoMo naming a VNPAY
// attempt) is answered as an unknown order and pays nothing.
func TestCallbackOfAnotherGatewayDoesNotPay(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)

	o := newOrder(t, e, false)
	a := startAttempt(t, e, o.ID, "bank_transfer", "vietqr")
	r := e.Do(t, "GET", "/callbacks/vnpay?"+vnpayIPN(a.GatewayRef, 200000, nil), "", nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"RspCode":"01"`) {
		t.Errorf("VNPAY IPN naming a VietQR attempt answered %d %s, want RspCode 01", r.Status, r.Body)
	}
	checkUnpaid(t, e, o)

	o2 := newOrder(t, e, false)
	a2 := startAttempt(t, e, o2.ID, "card", "vnpay")
	if r := e.Do(t, "POST", "/callbacks/momo", "", momoIPN(a2.GatewayRef, 200000, 777)); r.Status != http.StatusNotFound {
		t.Errorf("MoMo IPN naming a VNPAY attempt answered %d %s, want 404", r.Status, r.Body)
	}
	checkUnpaid(t, e, o2)
}

// TestCallbackInAnotherCurrencyDoesNotPay: a genuinely signed VNPAY IPN for
// the attempt and its amount, but in another currency, is no payment: it is
// answered as a wrong amount (RspCode 04) and the order stays open; the same
// IPN in VND then pays.
func TestCallbackInAnotherCurrencyDoesNotPay(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	o := newOrder(t, e, false)
	a := startAttempt(t, e, o.ID, "card", "vnpay")
	r := e.Do(t, "GET", "/callbacks/vnpay?"+vnpayIPN(a.GatewayRef, 200000, url.Values{"vnp_CurrCode": {"USD"}}), "", nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"RspCode":"04"`) {
		t.Errorf("IPN in USD answered %d %s, want RspCode 04", r.Status, r.Body)
	}
	checkUnpaid(t, e, o)
	r = e.Do(t, "GET", "/callbacks/vnpay?"+vnpayIPN(a.GatewayRef, 200000, url.Values{"vnp_CurrCode": {"VND"}}), "", nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"RspCode":"00"`) {
		t.Fatalf("IPN in VND answered %d %s, want RspCode 00", r.Status, r.Body)
	}
	if got := getOrder(t, e, o.ID); got.Status != "paid" {
		t.Fatalf("the IPN in VND did not pay: %+v", got)
	}
}

// TestBadlySignedStatusAnswerDoesNotPay: MoMo never calls back and answers
// every status query with a success signed with the wrong key. The status
// job refuses each answer, gives up on the attempt at its expiry, and the
// order stays open with nothing in the ledger.
func TestBadlySignedStatusAnswerDoesNotPay(t *testing.T) {
	t.Parallel()
	clk := clock.NewRunning(time.Now())
	e := apptest.NewWithSim(t, quickPolls, apptest.WithClock(clk))
	setFaults(t, e, "momo", gatewaysim.Faults{CallbackDropRate: 1, AnswerBadSignatureRate: 1})
	o := newOrder(t, e, false)
	a := startAttempt(t, e, o.ID, "ewallet", "momo")
	pay(t, e, a, gatewaysim.PaySuccess)
	// Refused answers until the attempt's window is over by the app's clock.
	eventually(t, "a refused status answer", func() bool {
		var n int
		err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'payments.attempt_status'
			AND coalesce((metadata->>'snoozes')::int, 0) > 0 AND args->>'attempt_id' = $1`, a.ID).Scan(&n)
		return err == nil && n > 0
	})
	clk.Advance(e.App.Config.Paying.AttemptTTL + time.Second)
	eventually(t, "attempt expired", func() bool { return getOrder(t, e, o.ID).Attempts[0].Status == "expired" })
	checkUnpaid(t, e, o)
}

// TestBankTransferPaysByReferenceOnlyFromTheStatement: a transfer to an order
// that has no attempt is found by its payment reference only when the bank
// statement reports it (RecordTransfer, reconciliation's bank credits): the
// same result given as VietQR's callback or status answer (RecordResult)
// names no attempt and pays nothing. A credit in another currency is no
// payment either.
func TestBankTransferPaysByReferenceOnlyFromTheStatement(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	ctx := context.Background()
	o := newOrder(t, e, false)
	credit := gateways.Result{GatewayRef: o.Reference, GatewayTxnID: "FT100", Amount: decimal.NewFromInt(200000),
		Currency: "VND", Status: gateways.StatusSucceeded, Code: "BOOK"}

	if ack, err := e.App.Paying.RecordResult(ctx, "vietqr", credit, "gateway:vietqr"); err != nil || ack != gateways.AckNotFound {
		t.Fatalf("RecordResult by payment reference = %v, %v; want not found", ack, err)
	}
	checkUnpaid(t, e, o)

	usd := credit
	usd.Currency, usd.GatewayTxnID = "USD", "FT101"
	if ack, err := e.App.Paying.RecordTransfer(ctx, usd, "system:reconciliation"); err != nil || ack != gateways.AckAmountMismatch {
		t.Fatalf("credit in USD = %v, %v; want amount mismatch", ack, err)
	}
	checkUnpaid(t, e, o)

	if ack, err := e.App.Paying.RecordTransfer(ctx, credit, "system:reconciliation"); err != nil || ack != gateways.AckOK {
		t.Fatalf("credit = %v, %v; want ok", ack, err)
	}
	got := getOrder(t, e, o.ID)
	if got.Status != "paid" || len(got.Attempts) != 1 || got.Attempts[0].Gateway != "vietqr" || got.Attempts[0].GatewayTxn != "FT100" {
		t.Fatalf("after the credit: %+v", got)
	}
	if n := ledgerEntries(t, e, o.ID); n["payment"] != 1 {
		t.Fatalf("ledger entries %v", n)
	}
}
