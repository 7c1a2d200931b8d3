package payments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/vietqr"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/payments"
)

// TestFullFlowEveryGateway pays an order through each simulated gateway over
// HTTP: attempt, payment at the gateway, signed callback, order paid with its
// ledger entry crediting each line's agency, and the events.
func TestFullFlowEveryGateway(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	tests := []struct{ gateway, method string }{
		{"vnpay", "card"}, {"vnpay", "qr"}, {"momo", "ewallet"}, {"zalopay", "ewallet"},
	}
	for _, tt := range tests {
		t.Run(tt.gateway+"/"+tt.method, func(t *testing.T) {
			t.Parallel()
			o := newOrder(t, e, true)
			a := startAttempt(t, e, o.ID, tt.method, tt.gateway)
			if a.Gateway != tt.gateway || a.Status != "pending" || a.RedirectURL == "" || a.Amount != "250000" {
				t.Fatalf("attempt = %+v", a)
			}
			pay(t, e, a, gatewaysim.PaySuccess)
			got := waitStatus(t, e, o.ID, "paid")
			if got.AmountPaid != "250000" || got.Refundable != "250000" || len(got.Attempts) != 1 ||
				got.Attempts[0].Status != "succeeded" || got.Attempts[0].Outcome != "payment" || got.Attempts[0].GatewayTxn == "" {
				t.Fatalf("paid order = %+v", got)
			}
			if n := ledgerEntries(t, e, o.ID); n["payment"] != 1 || len(n) != 1 {
				t.Fatalf("ledger entries %v, want one payment", n)
			}
			checkShares(t, e, a.ID, tt.gateway, map[string]string{"AG-A": "200000", "AG-B": "50000"})
			if ev := eventTypes(t, e, o.ID); count(ev, "order.paid") != 1 || count(ev, "attempt.created") != 1 {
				t.Fatalf("events %v", ev)
			}
		})
	}
}

// checkShares reads the payment entry of an attempt: the gateway's clearing
// account debited the total, each agency credited its line.
func checkShares(t *testing.T, e *apptest.Env, attemptID, gateway string, want map[string]string) {
	t.Helper()
	rows, err := e.Pool.Query(context.Background(), `SELECT p.account_code, p.direction, p.amount::text
		FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id WHERE e.idempotency_key = $1`, "payment:"+attemptID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var account, dir, amount string
		if err := rows.Scan(&account, &dir, &amount); err != nil {
			t.Fatal(err)
		}
		got[account+" "+dir] = amount
	}
	total := decimal.Zero
	for agency, amount := range want {
		if got[ledger.AgencyCollected(agency)+" credit"] != amount {
			t.Fatalf("postings %v: want %s credited %s", got, agency, amount)
		}
		total = total.Add(decimal.RequireFromString(amount))
	}
	if got[ledger.GatewayClearing(gateway)+" debit"] != total.String() || len(got) != len(want)+1 {
		t.Fatalf("postings %v: want %s debited %s", got, gateway, total)
	}
}

// TestVietQRIsPaidByReconciliation: a bank-transfer attempt gives a valid
// EMVCo QR for the amount and the order's reference and stays pending; the
// transfer found in a bank statement is recorded through RecordTransfer.
func TestVietQRIsPaidByReconciliation(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	ctx := context.Background()
	o := newOrder(t, e, false)
	a := startAttempt(t, e, o.ID, "bank_transfer", "")
	qr, err := vietqr.Parse(a.QRPayload)
	if err != nil {
		t.Fatalf("qr payload %q: %v", a.QRPayload, err)
	}
	if a.Gateway != "vietqr" || a.GatewayRef != o.Reference || qr.Purpose != o.Reference || qr.Amount.String() != "200000" ||
		qr.BankBIN != gatewaysim.DemoBankBIN || qr.Account != gatewaysim.DemoBankAccount {
		t.Fatalf("attempt %+v, QR %+v", a, qr)
	}
	if got := getOrder(t, e, o.ID); got.Status != "open" || got.Attempts[0].Status != "pending" {
		t.Fatalf("before the transfer: %+v", got)
	}

	record := func(bankRef string, amount int64) gateways.Ack {
		ack, err := e.App.Paying.RecordTransfer(ctx, gateways.Result{GatewayRef: o.Reference, GatewayTxnID: bankRef,
			Amount: decimal.NewFromInt(amount), Currency: "VND", Status: gateways.StatusSucceeded}, "system:reconciliation")
		if err != nil {
			t.Fatal(err)
		}
		return ack
	}
	if ack := record("FT1", 150000); ack != gateways.AckAmountMismatch {
		t.Fatalf("short transfer: ack %v", ack)
	}
	if got := getOrder(t, e, o.ID); got.Status != "open" {
		t.Fatalf("a short transfer paid the order: %+v", got)
	}
	if ack := record("FT2", 200000); ack != gateways.AckOK {
		t.Fatalf("transfer: ack %v", ack)
	}
	if ack := record("FT2", 200000); ack != gateways.AckAlreadyConfirmed {
		t.Fatalf("same transfer again: ack %v", ack)
	}
	got := getOrder(t, e, o.ID)
	if got.Status != "paid" || len(got.Attempts) != 1 || got.Attempts[0].GatewayTxn != "FT2" {
		t.Fatalf("after the transfer: %+v", got)
	}
	// The citizen transfers twice: the second transfer is an overpayment on an
	// attempt of its own; its automatic refund cannot go through a bank
	// transfer gateway and fails visibly, for treasury.
	if ack := record("FT3", 200000); ack != gateways.AckOK {
		t.Fatalf("second transfer: ack %v", ack)
	}
	eventually(t, "overpayment refund failed", func() bool {
		rs := getOrder(t, e, o.ID).Refunds
		return len(rs) == 1 && rs[0].Status == "failed"
	})
	got = getOrder(t, e, o.ID)
	if len(got.Attempts) != 2 || got.Attempts[1].Outcome != "overpayment" || got.Refunds[0].Kind != "overpayment" ||
		!strings.Contains(got.Refunds[0].LastError, "not supported") {
		t.Fatalf("after the second transfer: %+v", got)
	}
	if n := ledgerEntries(t, e, o.ID); n["payment"] != 1 || n["overpayment"] != 1 || n["overpayment_refund"] != 0 {
		t.Fatalf("ledger entries %v", n)
	}
	if ev := eventTypes(t, e, o.ID); count(ev, "overpayment.detected") != 1 || count(ev, "refund.failed") != 1 {
		t.Fatalf("events %v", ev)
	}
	// A reference no order has.
	if ack, err := e.App.Paying.RecordTransfer(ctx, gateways.Result{GatewayRef: "RF18000000000000001",
		GatewayTxnID: "FT9", Amount: decimal.NewFromInt(200000), Currency: "VND", Status: gateways.StatusSucceeded}, "system:reconciliation"); err != nil || ack != gateways.AckNotFound {
		t.Fatalf("unknown reference: %v %v", ack, err)
	}
}

// TestConcurrentDuplicateCallbacksPostOnce: the gateway sends 50 copies of
// the success callback at the same moment; one ledger entry results, and
// every copy is answered as recorded or already confirmed.
func TestConcurrentDuplicateCallbacksPostOnce(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	setFaults(t, e, "vnpay", gatewaysim.Faults{CallbackCopies: 50, CallbackConcurrent: true})
	o := newOrder(t, e, false)
	a := startAttempt(t, e, o.ID, "card", "vnpay")
	pay(t, e, a, gatewaysim.PaySuccess)
	waitCallbacks(t, e)
	if got := getOrder(t, e, o.ID); got.Status != "paid" {
		t.Fatalf("order %s", got.Status)
	}
	if n := ledgerEntries(t, e, o.ID); n["payment"] != 1 || len(n) != 1 {
		t.Fatalf("ledger entries %v, want exactly one payment", n)
	}
	codes := map[string]int{}
	for _, c := range e.Sim.CallbackLog("vnpay", a.GatewayRef) {
		var rsp struct{ RspCode string }
		_ = json.Unmarshal([]byte(c.Answer), &rsp)
		codes[rsp.RspCode]++
	}
	if codes["00"] != 1 || codes["02"] != 49 {
		t.Fatalf("answers by RspCode %v, want one 00 and 49 02", codes)
	}
	if ev := eventTypes(t, e, o.ID); count(ev, "order.paid") != 1 {
		t.Fatalf("events %v", ev)
	}
}

// TestDroppedCallbackStatusJobPays: the gateway never calls back; the status
// job asks it and pays the order.
func TestDroppedCallbackStatusJobPays(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t, quickPolls)
	for _, tt := range []struct{ gateway, method string }{{"vnpay", "internet_banking"}, {"momo", "ewallet"}, {"zalopay", "ewallet"}} {
		t.Run(tt.gateway, func(t *testing.T) {
			t.Parallel()
			setFaults(t, e, tt.gateway, gatewaysim.Faults{CallbackDropRate: 1})
			o := newOrder(t, e, false)
			a := startAttempt(t, e, o.ID, tt.method, tt.gateway)
			pay(t, e, a, gatewaysim.PaySuccess)
			waitStatus(t, e, o.ID, "paid")
			var actor string
			if err := e.Pool.QueryRow(context.Background(), `SELECT actor FROM order_events WHERE order_id = $1 AND type = 'order.paid'`,
				o.ID).Scan(&actor); err != nil || actor != "system:status" {
				t.Fatalf("paid by %q (%v), want the status job", actor, err)
			}
			if n := ledgerEntries(t, e, o.ID); n["payment"] != 1 {
				t.Fatalf("ledger entries %v", n)
			}
		})
	}
}

// TestForgedCallbacksAreRefused: callbacks signed with the wrong key get each
// protocol's rejection and change nothing.
func TestForgedCallbacksAreRefused(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	tests := []struct {
		gateway, method string
		status          int
		answer          string
	}{
		{"vnpay", "card", 200, `"RspCode":"97"`},
		{"momo", "ewallet", 400, ``},
		{"zalopay", "ewallet", 200, `"return_code":-1`},
	}
	for _, tt := range tests {
		t.Run(tt.gateway, func(t *testing.T) {
			t.Parallel()
			setFaults(t, e, tt.gateway, gatewaysim.Faults{CallbackBadSignatureRate: 1})
			o := newOrder(t, e, false)
			a := startAttempt(t, e, o.ID, tt.method, tt.gateway)
			pay(t, e, a, gatewaysim.PaySuccess)
			eventually(t, "the forged callback", func() bool {
				for _, c := range e.Sim.CallbackLog(tt.gateway, a.GatewayRef) {
					if c.BadSignature && c.Status != 0 {
						if c.Status != tt.status || !strings.Contains(c.Answer, tt.answer) {
							t.Fatalf("forged callback answered %d %q, want %d %q", c.Status, c.Answer, tt.status, tt.answer)
						}
						return true
					}
				}
				return false
			})
			got := getOrder(t, e, o.ID)
			if got.Status != "open" || got.Attempts[0].Status != "pending" || len(ledgerEntries(t, e, o.ID)) != 0 {
				t.Fatalf("a forged callback changed the order: %+v", got)
			}
		})
	}
	// A made-up ZaloPay callback for an attempt of ours, with a made-up mac.
	o := newOrder(t, e, false)
	a := startAttempt(t, e, o.ID, "ewallet", "zalopay")
	data := fmt.Sprintf(`{"app_id":%d,"app_trans_id":%q,"amount":200000,"zp_trans_id":1,"server_time":1}`, gatewaysim.DemoZaloPayAppID, a.GatewayRef)
	body, _ := json.Marshal(map[string]any{"data": data, "mac": strings.Repeat("ab", 32), "type": 1})
	r := e.Do(t, "POST", "/callbacks/zalopay", "", body)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"return_code":-1`) {
		t.Fatalf("forged zalopay callback = %d %s", r.Status, r.Body)
	}
	if got := getOrder(t, e, o.ID); got.Status != "open" {
		t.Fatalf("forged callback paid the order")
	}
	if r := e.Do(t, "POST", "/callbacks/paypal", "", body); r.Status != http.StatusNotFound {
		t.Fatalf("unknown gateway = %d", r.Status)
	}
}

// TestBrowserReturnNeverPays: the browser coming back with "success" in the
// query string — forged, or even genuinely signed by the gateway — only
// redirects to the order's page; the order stays unpaid until the gateway
// itself confirms.
func TestBrowserReturnNeverPays(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	setFaults(t, e, "vnpay", gatewaysim.Faults{CallbackDropRate: 1})
	o := newOrder(t, e, false)
	a := startAttempt(t, e, o.ID, "card", "vnpay")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url string) *http.Response {
		t.Helper()
		res, err := noFollow.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	forged := e.URL + "/return/vnpay/" + a.ID + "?vnp_ResponseCode=00&vnp_TransactionStatus=00&vnp_TxnRef=" + a.GatewayRef +
		"&vnp_Amount=20000000&vnp_SecureHash=" + strings.Repeat("0", 128)
	res := get(forged)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != e.URL+"/return/"+o.Reference {
		t.Fatalf("return = %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	paid := pay(t, e, a, gatewaysim.PaySuccess) // the gateway's own signed return, callback dropped
	if !strings.HasPrefix(paid.RedirectURL, e.URL+"/return/vnpay/"+a.ID) {
		t.Fatalf("the gateway returns the browser to %q", paid.RedirectURL)
	}
	if res := get(paid.RedirectURL); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed return = %d", res.StatusCode)
	}
	got := getOrder(t, e, o.ID)
	if got.Status != "open" || got.Attempts[0].Status != "pending" || len(ledgerEntries(t, e, o.ID)) != 0 {
		t.Fatalf("a browser return changed the order: %+v", got)
	}
	if res := get(e.URL + "/return/momo/" + a.ID); res.StatusCode != http.StatusNotFound {
		t.Fatalf("return under another gateway = %d", res.StatusCode)
	}
}

// TestDeclineLeavesOrderOpen: a declined payment fails the attempt; the
// citizen tries again and pays.
func TestDeclineLeavesOrderOpen(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	o := newOrder(t, e, false)
	first := startAttempt(t, e, o.ID, "ewallet", "momo")
	pay(t, e, first, gatewaysim.PayDecline)
	eventually(t, "attempt failed", func() bool { return getOrder(t, e, o.ID).Attempts[0].Status == "failed" })
	if got := getOrder(t, e, o.ID); got.Status != "open" || got.Attempts[0].ResultCode != "1006" {
		t.Fatalf("after the decline: %+v", got)
	}
	second := startAttempt(t, e, o.ID, "card", "vnpay")
	pay(t, e, second, gatewaysim.PaySuccess)
	got := waitStatus(t, e, o.ID, "paid")
	if got.Attempts[1].Outcome != "payment" || ledgerEntries(t, e, o.ID)["payment"] != 1 {
		t.Fatalf("after paying: %+v", got)
	}
	latest, found, err := e.App.Paying.Latest(context.Background(), uuid.MustParse(o.ID))
	if err != nil || !found || latest.ID.String() != second.ID || latest.Status != payments.AttemptSucceeded {
		t.Fatalf("latest attempt %+v %v %v, want the second, succeeded", latest, found, err)
	}
}

// TestSecondSuccessIsRefundedOverpayment: two attempts of one order both
// succeed; the order is paid once, the second is an overpayment with its own
// ledger entry, refunded automatically through its gateway.
func TestSecondSuccessIsRefundedOverpayment(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	o := newOrder(t, e, false)
	first := startAttempt(t, e, o.ID, "card", "vnpay")
	second := startAttempt(t, e, o.ID, "ewallet", "momo")
	pay(t, e, first, gatewaysim.PaySuccess)
	waitStatus(t, e, o.ID, "paid")
	pay(t, e, second, gatewaysim.PaySuccess)
	eventually(t, "overpayment refunded", func() bool {
		rs := getOrder(t, e, o.ID).Refunds
		return len(rs) == 1 && rs[0].Status == "succeeded"
	})
	got := getOrder(t, e, o.ID)
	if got.Status != "paid" || got.AmountPaid != "200000" || got.AmountRefunded != "0" || got.Refunds[0].Kind != "overpayment" ||
		got.Attempts[1].Outcome != "overpayment" {
		t.Fatalf("order %+v", got)
	}
	if n := ledgerEntries(t, e, o.ID); n["payment"] != 1 || n["overpayment"] != 1 || n["overpayment_refund"] != 1 {
		t.Fatalf("ledger entries %v", n)
	}
	tx, err := e.Sim.Transaction("momo", second.GatewayRef)
	if err != nil || tx.Refunded() != 200000 {
		t.Fatalf("momo refunded %d (%v), want 200000", tx.Refunded(), err)
	}
	if ev := eventTypes(t, e, o.ID); count(ev, "overpayment.detected") != 1 || count(ev, "overpayment.refunded") != 1 {
		t.Fatalf("events %v", ev)
	}
}

// TestConcurrentRefundsNeverExceedPaid: ten staff refund at once expecting
// the same refundable amount; one is accepted, nine are 409. Refunds then
// complete through the gateway, partial then full.
func TestConcurrentRefundsNeverExceedPaid(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	o := newOrder(t, e, true)
	a := startAttempt(t, e, o.ID, "ewallet", "zalopay")
	pay(t, e, a, gatewaysim.PaySuccess)
	waitStatus(t, e, o.ID, "paid")

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := e.Treasury
			if i%2 == 0 {
				key = e.AgencyA
			}
			r := e.Do(t, "POST", "/v1/orders/"+o.ID+"/refunds", key,
				`{"amount":150000,"expected_refundable":250000,"reason":"hồ sơ bị từ chối"}`)
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[http.StatusAccepted] != 1 || statuses[http.StatusConflict] != 9 {
		t.Fatalf("statuses %v, want one 202 and nine 409", statuses)
	}
	got := waitStatus(t, e, o.ID, "partially_refunded")
	if got.AmountRefunded != "150000" || got.Refundable != "100000" || got.Refunds[0].Status != "succeeded" {
		t.Fatalf("after the first refund: %+v", got)
	}
	checkRefundShares(t, e, got.Refunds[0].ID, map[string]string{"AG-A": "120000", "AG-B": "30000"})

	tests := []struct {
		name, body string
		status     int
	}{
		{"stale expectation", `{"amount":100000,"expected_refundable":250000,"reason":"r"}`, http.StatusConflict},
		{"more than refundable", `{"amount":100001,"expected_refundable":100000,"reason":"r"}`, http.StatusUnprocessableEntity},
		{"fractional", `{"amount":"10.5","expected_refundable":100000,"reason":"r"}`, http.StatusUnprocessableEntity},
		{"no expectation", `{"amount":1000,"reason":"r"}`, http.StatusUnprocessableEntity},
		{"no reason", `{"amount":1000,"expected_refundable":100000}`, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		if r := e.Do(t, "POST", "/v1/orders/"+o.ID+"/refunds", e.Treasury, tt.body); r.Status != tt.status {
			t.Fatalf("%s: %d %s, want %d", tt.name, r.Status, r.Body, tt.status)
		}
	}
	if r := e.Do(t, "POST", "/v1/orders/"+o.ID+"/refunds", e.Treasury,
		`{"amount":100000,"expected_refundable":100000,"reason":"rest"}`); r.Status != http.StatusAccepted {
		t.Fatalf("refund the rest = %d %s", r.Status, r.Body)
	}
	got = waitStatus(t, e, o.ID, "refunded")
	if got.AmountRefunded != "250000" || got.Refundable != "0" {
		t.Fatalf("refunded order %+v", got)
	}
	if n := ledgerEntries(t, e, o.ID); n["refund"] != 2 {
		t.Fatalf("ledger entries %v", n)
	}
	if tx, _ := e.Sim.Transaction("zalopay", a.GatewayRef); tx.Refunded() != 250000 {
		t.Fatalf("zalopay refunded %d", tx.Refunded())
	}
	// The database itself refuses reserving more than was paid.
	if _, err := e.Pool.Exec(context.Background(), `UPDATE orders SET amount_refund_pending = 1 WHERE id = $1`, o.ID); err == nil ||
		!strings.Contains(err.Error(), "orders_refunds_within_paid") {
		t.Fatalf("over-refund in SQL: %v", err)
	}
}

func checkRefundShares(t *testing.T, e *apptest.Env, refundID string, want map[string]string) {
	t.Helper()
	rows, err := e.Pool.Query(context.Background(), `SELECT p.account_code, p.amount::text FROM ledger_postings p
		JOIN ledger_entries e ON e.id = p.entry_id WHERE e.idempotency_key = $1 AND p.direction = 'debit'`, "refund:"+refundID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var account, amount string
		if err := rows.Scan(&account, &amount); err != nil {
			t.Fatal(err)
		}
		got[account] = amount
	}
	for agency, amount := range want {
		if got[ledger.AgencyCollected(agency)] != amount {
			t.Fatalf("refund debits %v, want %s %s", got, agency, amount)
		}
	}
}

// TestPayingRoles: who may start attempts and refunds, and whose orders.
func TestPayingRoles(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	o := newOrder(t, e, false)
	refund := `{"amount":1000,"expected_refundable":0,"reason":"r"}`
	tests := []struct {
		name, method, path, key, body string
		status                        int
	}{
		{"agency cannot start attempts", "POST", "/attempts", e.AgencyA, `{"method":"card"}`, 403},
		{"another portal does not see the order", "POST", "/attempts", e.Portal2, `{"method":"card"}`, 404},
		{"unknown method", "POST", "/attempts", e.Portal, `{"method":"cash"}`, 422},
		{"unknown field", "POST", "/attempts", e.Portal, `{"method":"card","amount":1}`, 400},
		{"bad locale", "POST", "/attempts", e.Portal, `{"method":"card","locale":"fr"}`, 422},
		{"portal cannot refund", "POST", "/refunds", e.Portal, refund, 403},
		{"another agency gets 404", "POST", "/refunds", e.AgencyB, refund, 404},
		{"an unpaid order has nothing to refund", "POST", "/refunds", e.AgencyA, refund, 409},
		{"agency B cannot list attempts", "GET", "/attempts", e.AgencyB, "", 404},
		{"agency A lists attempts", "GET", "/attempts", e.AgencyA, "", 200},
		{"treasury lists refunds", "GET", "/refunds", e.Treasury, "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body any
			if tt.body != "" {
				body = tt.body
			}
			if r := e.Do(t, tt.method, "/v1/orders/"+o.ID+tt.path, tt.key, body); r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
		})
	}
	if r := e.Do(t, "GET", "/v1/gateways", e.AgencyB, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"name":"zalopay"`) {
		t.Fatalf("GET /v1/gateways = %d %s", r.Status, r.Body)
	}
}

// TestStatusJobSurvivesRestart: the attempt is committed, then the instance's
// River stops before its status query is due (a crash): no status job exists
// yet, only the pending attempt. Another instance's sweep follows it, its
// status job pays the order exactly once, and the attempt got exactly one
// status job although both instances' sweeps ran over it.
func TestStatusJobSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t, func(c *config.Config) { c.Paying.StatusPollDelay = 300 * time.Millisecond })
	setFaults(t, e, "momo", gatewaysim.Faults{CallbackDropRate: 1})
	o := newOrder(t, e, false)
	a := startAttempt(t, e, o.ID, "ewallet", "momo")
	if err := e.Stop(t); err != nil { // River and the instance's follow sweep with it
		t.Fatal(err)
	}
	pay(t, e, a, gatewaysim.PaySuccess)
	other := e.Another(t)
	waitStatus(t, other, o.ID, "paid")
	if n := ledgerEntries(t, e, o.ID); n["payment"] != 1 || len(n) != 1 {
		t.Fatalf("ledger entries %v", n)
	}
	if ev := eventTypes(t, e, o.ID); count(ev, "order.paid") != 1 {
		t.Fatalf("events %v", ev)
	}
	var jobs int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'payments.attempt_status'
		AND args->>'attempt_id' = $1`, a.ID).Scan(&jobs); err != nil || jobs != 1 {
		t.Fatalf("%d status jobs for the attempt (%v), want 1", jobs, err)
	}
}

// TestFollowPendingRacing: sweeps running at once give each due attempt one
// status job, and none to attempts not yet due or already settled.
func TestFollowPendingRacing(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t, func(c *config.Config) { c.Paying.StatusPollDelay = time.Hour })
	ctx := context.Background()
	var due []string
	for range 30 {
		o := newOrder(t, e, false)
		due = append(due, startAttempt(t, e, o.ID, "card", "vnpay").ID)
	}
	fresh := startAttempt(t, e, newOrder(t, e, false).ID, "card", "vnpay")
	if err := e.Stop(t); err != nil { // no sweep of its own from here on
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE payment_attempts SET created_at = created_at - interval '2 hours'
		WHERE id = ANY($1::uuid[])`, due); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var followed atomic.Int64
	for range 4 {
		wg.Go(func() {
			n, err := e.App.Paying.FollowPending(ctx, 7)
			if err != nil {
				t.Error(err)
			}
			followed.Add(int64(n))
		})
	}
	wg.Wait()
	if followed.Load() != int64(len(due)) {
		t.Fatalf("sweeps followed %d attempts, want %d", followed.Load(), len(due))
	}
	rows, err := e.Pool.Query(ctx, `SELECT args->>'attempt_id', count(*) FROM river_job
		WHERE kind = 'payments.attempt_status' GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		jobs[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, id := range due {
		if jobs[id] != 1 {
			t.Errorf("attempt %s has %d status jobs, want 1", id, jobs[id])
		}
	}
	if len(jobs) != len(due) || jobs[fresh.ID] != 0 {
		t.Errorf("status jobs for %d attempts (the fresh one: %d), want %d", len(jobs), jobs[fresh.ID], len(due))
	}
	if n, err := e.App.Paying.FollowPending(ctx, 7); err != nil || n != 0 {
		t.Fatalf("a later sweep followed %d (%v), want 0", n, err)
	}
}

// TestAttemptExpiresThenLateSuccessPays: nobody pays within the attempt's
// window (the app's clock moves past it), so the status job gives up on it;
// the order stays open. A payment the gateway reports afterwards is still
// recorded.
func TestAttemptExpiresThenLateSuccessPays(t *testing.T) {
	t.Parallel()
	clk := clock.NewRunning(time.Now())
	e := apptest.NewWithSim(t, quickPolls, apptest.WithClock(clk))
	o := newOrder(t, e, false)
	a := startAttempt(t, e, o.ID, "ewallet", "momo")
	clk.Advance(e.App.Config.Paying.AttemptTTL + time.Second)
	eventually(t, "attempt expired", func() bool { return getOrder(t, e, o.ID).Attempts[0].Status == "expired" })
	if got := getOrder(t, e, o.ID); got.Status != "open" || count(eventTypes(t, e, o.ID), "attempt.expired") != 1 {
		t.Fatalf("after expiry: %+v", got)
	}
	pay(t, e, a, gatewaysim.PaySuccess) // the simulated MoMo keeps its own, longer window (100 min)
	got := waitStatus(t, e, o.ID, "paid")
	if got.Attempts[0].Status != "succeeded" {
		t.Fatalf("late success: %+v", got)
	}
}

// TestBreakerFailoverAndRecovery: MoMo answers every call with 503. Attempts
// preferring MoMo fail over to ZaloPay (same method); MoMo's create breaker
// opens and shows in /v1/gateways and /metrics. Once MoMo answers again, a
// probe (a status query of a reference that does not exist, over MoMo's own
// protocol) closes the breaker — the open timeout is an hour, so nothing else
// could — and MoMo is used again.
func TestBreakerFailoverAndRecovery(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t, func(c *config.Config) {
		c.Paying.BreakerConsecutiveFailures = 3
		c.Paying.BreakerOpenTimeout = time.Hour
		c.Paying.BreakerProbeInterval = 50 * time.Millisecond
	})
	momoState := func() string {
		var gws struct {
			Data []gateways.BreakerStat `json:"data"`
		}
		e.Do(t, "GET", "/v1/gateways", e.AgencyA, nil).JSON(t, &gws)
		for _, g := range gws.Data {
			if g.Name == "momo" {
				return g.State + "/" + g.Query.State
			}
		}
		t.Fatal("momo not listed")
		return ""
	}
	setFaults(t, e, "momo", gatewaysim.Faults{ErrorRate: 1})
	for i := 0; i < 4; i++ {
		o := newOrder(t, e, false)
		if a := startAttempt(t, e, o.ID, "ewallet", "momo"); a.Gateway != "zalopay" {
			t.Fatalf("attempt %d went to %s, want the failover to zalopay", i, a.Gateway)
		}
	}
	if st := momoState(); st != "open/closed" {
		t.Fatalf("momo's breakers after a storm of 503s to its creates: %s, want open/closed", st)
	}
	if m := metrics(t, e); !strings.Contains(m, `civicpay_gateway_breaker_transitions_total{breaker="create",gateway="momo",to="open"} 1`) ||
		!strings.Contains(m, `civicpay_gateway_breaker_state{breaker="create",gateway="momo"} 2`) {
		t.Fatalf("metrics lack the breaker opening:\n%s", m)
	}

	setFaults(t, e, "momo", gatewaysim.Faults{})
	eventually(t, "a probe closing momo's breaker", func() bool { return momoState() == "closed/closed" })
	o := newOrder(t, e, false)
	a := startAttempt(t, e, o.ID, "ewallet", "momo")
	if a.Gateway != "momo" {
		t.Fatalf("after recovery: attempt at %s", a.Gateway)
	}
	pay(t, e, a, gatewaysim.PaySuccess)
	waitStatus(t, e, o.ID, "paid")
	if m := metrics(t, e); !strings.Contains(m, `civicpay_gateway_breaker_state{breaker="create",gateway="momo"} 0`) ||
		!strings.Contains(m, `civicpay_gateway_breaker_transitions_total{breaker="create",gateway="momo",to="closed"} 1`) ||
		strings.Contains(m, `to="half-open"`) ||
		!strings.Contains(m, `civicpay_gateway_callbacks_total{ack="ok",gateway="momo"} 1`) {
		t.Fatalf("metrics after recovery:\n%s", m)
	}
}

func metrics(t *testing.T, e *apptest.Env) string {
	t.Helper()
	r := e.Metrics(t)
	if r.Status != 200 {
		t.Fatalf("GET /metrics = %d: %.2000s", r.Status, r.Body)
	}
	var lines []string
	for _, l := range strings.Split(string(r.Body), "\n") {
		if strings.HasPrefix(l, "civicpay_gateway_") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// TestGatewayRefusalFailsOver: ZaloPay refuses a payment window under five
// minutes; the attempt goes to MoMo, which serves the same method. With no
// other e-wallet gateway, the refusal is the citizen's answer (422).
func TestGatewayRefusalFailsOver(t *testing.T) {
	t.Parallel()
	soon := func(t *testing.T, e *apptest.Env) orderJSON {
		body := fmt.Sprintf(`{"lines":[{"service":"A-FEE","agency":"AG-A","amount":200000}],"payer":{"name":"An","phone":"0901234567"},
			"description":"d","expires_at":%q}`, time.Now().Add(2*time.Minute).UTC().Format(time.RFC3339))
		var o orderJSON
		create(t, e, e.Portal, fmt.Sprintf("soon-%d", orderSeq.Add(1)), body).JSON(t, &o)
		return o
	}
	e := apptest.NewWithSim(t)
	if a := startAttempt(t, e, soon(t, e).ID, "ewallet", "zalopay"); a.Gateway != "momo" {
		t.Fatalf("attempt at %s, want momo after zalopay's refusal", a.Gateway)
	}
	only := apptest.NewWithSim(t, func(c *config.Config) { c.Paying.Gateways = []string{"zalopay", "vnpay"} })
	r := only.Do(t, "POST", "/v1/orders/"+soon(t, only).ID+"/attempts", only.Portal, `{"method":"ewallet"}`)
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "Refused by the gateway") {
		t.Fatalf("refused everywhere = %d %s", r.Status, r.Body)
	}
	if r := only.Do(t, "POST", "/v1/orders/"+soon(t, only).ID+"/attempts", only.Portal, `{"method":"bank_transfer"}`); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a method no gateway offers = %d %s", r.Status, r.Body)
	}
}

// TestRefundRetries: while the gateway fails, the refund job retries with
// backoff and the failures show on the order's refunds; after recovery the
// refund completes. A refund that never gets an answer fails after its
// tries, visibly, and its amount is refundable again.
func TestRefundRetries(t *testing.T) {
	t.Parallel()
	paidOrder := func(t *testing.T, e *apptest.Env) orderJSON {
		o := newOrder(t, e, false)
		pay(t, e, startAttempt(t, e, o.ID, "ewallet", "momo"), gatewaysim.PaySuccess)
		waitStatus(t, e, o.ID, "paid")
		setFaults(t, e, "momo", gatewaysim.Faults{ErrorRate: 1})
		if r := e.Do(t, "POST", "/v1/orders/"+o.ID+"/refunds", e.AgencyA,
			`{"amount":50000,"expected_refundable":200000,"reason":"nộp thừa"}`); r.Status != http.StatusAccepted {
			t.Fatalf("refund = %d %s", r.Status, r.Body)
		}
		return o
	}
	refunds := func(t *testing.T, e *apptest.Env, id string) []refundJSON {
		var page struct {
			Data []refundJSON `json:"data"`
		}
		e.Do(t, "GET", "/v1/orders/"+id+"/refunds", e.AgencyA, nil).JSON(t, &page)
		return page.Data
	}
	t.Run("recovers", func(t *testing.T) {
		t.Parallel()
		e := apptest.NewWithSim(t, func(c *config.Config) {
			c.Paying.BreakerConsecutiveFailures, c.Paying.RefundMaxTries = 1000, 1000
		})
		o := paidOrder(t, e)
		eventually(t, "failed tries visible", func() bool {
			rs := refunds(t, e, o.ID)
			return rs[0].Tries >= 2 && strings.Contains(rs[0].LastError, "503") && rs[0].Status == "requested"
		})
		if got := getOrder(t, e, o.ID); got.Refundable != "150000" || got.Status != "paid" {
			t.Fatalf("while retrying: %+v", got)
		}
		setFaults(t, e, "momo", gatewaysim.Faults{})
		got := waitStatus(t, e, o.ID, "partially_refunded")
		if got.AmountRefunded != "50000" || got.Refunds[0].Status != "succeeded" || got.Refunds[0].LastError != "" {
			t.Fatalf("after recovery: %+v", got)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		t.Parallel()
		e := apptest.NewWithSim(t, func(c *config.Config) {
			c.Paying.BreakerConsecutiveFailures, c.Paying.RefundMaxTries = 1000, 2
		})
		o := paidOrder(t, e)
		eventually(t, "refund failed", func() bool { return refunds(t, e, o.ID)[0].Status == "failed" })
		rf := refunds(t, e, o.ID)[0]
		got := getOrder(t, e, o.ID)
		if rf.Tries != 2 || !strings.Contains(rf.LastError, "no final answer after 2 tries") || got.Refundable != "200000" ||
			got.Status != "paid" || count(eventTypes(t, e, o.ID), "refund.failed") != 1 || len(ledgerEntries(t, e, o.ID)) != 1 {
			t.Fatalf("refund %+v, order %+v", rf, got)
		}
	})
}

// TestGroupCommitBatchesInMetrics: the three group-commit writers report the
// batches of one payment in /metrics.
func TestGroupCommitBatchesInMetrics(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	o := newOrder(t, e, false)
	a := startAttempt(t, e, o.ID, "card", "vnpay")
	pay(t, e, a, gatewaysim.PaySuccess)
	waitStatus(t, e, o.ID, "paid")
	r := e.Metrics(t)
	if r.Status != 200 {
		t.Fatalf("GET /metrics = %d", r.Status)
	}
	for _, writer := range []string{"orders", "attempts", "results"} {
		m := regexp.MustCompile(`(?m)^civicpay_group_commit_batch_size_count\{writer="` + writer + `"\} (\d+)$`).FindSubmatch(r.Body)
		if m == nil || string(m[1]) == "0" {
			t.Errorf("no %s batch in /metrics", writer)
		}
	}
}
