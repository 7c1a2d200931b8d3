package payments_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation"
)

// reconcileAndClose marks every source of day reconciled and closes the day
// through the API, as treasury does after the daily reconciliation.
func reconcileAndClose(t *testing.T, e *apptest.Env, day string) {
	t.Helper()
	if r := e.Do(t, "POST", "/v1/days/"+day+"/close", e.Treasury, `{}`); r.Status != http.StatusConflict {
		t.Fatalf("closing an unreconciled day: %d %s", r.Status, r.Body)
	}
	for _, src := range reconciliation.Sources() {
		if _, err := e.Pool.Exec(context.Background(), `INSERT INTO recon_runs (source, business_date, trigger, requested_by, status)
			VALUES ($1, $2, 'test', 'test', 'completed')`, src, day); err != nil {
			t.Fatal(err)
		}
	}
	if r := e.Do(t, "POST", "/v1/days/"+day+"/close", e.Admin, `{}`); r.Status != http.StatusForbidden {
		t.Fatalf("admin closing a day: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/v1/days/"+day+"/close", e.Treasury, `{"note":"reconciled"}`); r.Status != http.StatusOK ||
		!strings.Contains(string(r.Body), `"closed_by":"treasury:`) {
		t.Fatalf("close %s: %d %s", day, r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/v1/days/"+day+"/close", e.Treasury, `{}`); r.Status != http.StatusConflict {
		t.Fatalf("closing twice: %d %s", r.Status, r.Body)
	}
}

// A gateway's callback that arrives after its business day was closed is
// still recorded: the order is paid, the attempt keeps the gateway's time,
// and the ledger entry takes effect now, in the open day.
func TestLateCallbackAfterDayClosedIsRecordedInTheOpenDay(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	ctx := context.Background()
	// Today by the wall clock (the app's), read before and after the request:
	// if midnight fell between, the day asked about may already be over, and
	// the request is made again for the new day.
	for {
		today := ledger.DayOf(time.Now()).Format(ledger.DayLayout)
		r := e.Do(t, "POST", "/v1/days/"+today+"/close", e.Treasury, `{}`)
		if ledger.DayOf(time.Now()).Format(ledger.DayLayout) != today {
			continue
		}
		if r.Status != http.StatusConflict {
			t.Fatalf("closing today: %d %s", r.Status, r.Body)
		}
		break
	}
	o := newOrder(t, e, true)
	a := startAttempt(t, e, o.ID, "card", "vnpay")
	paidAt := time.Now().Add(-30 * time.Hour).Truncate(time.Second)
	closed := ledger.DayOf(paidAt).Format(ledger.DayLayout)
	reconcileAndClose(t, e, closed)
	if r := e.Do(t, "GET", "/v1/days/"+closed, e.Admin, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"closed":{`) {
		t.Fatalf("GET day: %d %s", r.Status, r.Body)
	}

	before := time.Now().Truncate(time.Microsecond)
	p := e.App.Config.Paying
	q := url.Values{
		"vnp_TmnCode": {p.VNPAYTmnCode}, "vnp_Amount": {vnpay.FormatAmount(250000)}, "vnp_BankCode": {"NCB"},
		"vnp_CardType": {"ATM"}, "vnp_OrderInfo": {"late"}, "vnp_PayDate": {vnpay.FormatTime(paidAt)},
		"vnp_ResponseCode": {"00"}, "vnp_TransactionNo": {"14990001"}, "vnp_TransactionStatus": {"00"}, "vnp_TxnRef": {a.GatewayRef},
	}
	q.Set("vnp_SecureHash", vnpay.Sign(q, p.VNPAYHashSecret))
	if r := e.Do(t, "GET", "/callbacks/vnpay?"+q.Encode(), "", nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"RspCode":"00"`) {
		t.Fatalf("late IPN: %d %s", r.Status, r.Body)
	}
	if got := getOrder(t, e, o.ID); got.Status != "paid" {
		t.Fatalf("order %+v", got)
	}
	var effective, attemptPaid time.Time
	if err := e.Pool.QueryRow(ctx, `SELECT e.effective_at, a.paid_at FROM ledger_entries e JOIN payment_attempts a ON e.idempotency_key = 'payment:' || a.id
		WHERE a.id = $1`, a.ID).Scan(&effective, &attemptPaid); err != nil {
		t.Fatal(err)
	}
	if effective.Before(before) || ledger.DayOf(effective).Format(ledger.DayLayout) == closed || !attemptPaid.Equal(paidAt) {
		t.Fatalf("payment entry effective %s (closed day %s), attempt paid %s (want %s)", effective, closed, attemptPaid, paidAt)
	}
	var n int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'ledger.day.close' AND resource_id = $1`, closed).Scan(&n); err != nil || n != 1 {
		t.Fatalf("audit rows of the closing: %d %v", n, err)
	}
}
