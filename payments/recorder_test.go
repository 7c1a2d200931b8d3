package payments

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/ledger"
)

// recorderFlow is a flow over pool paying through fakepay, with no River.
func recorderFlow(t *testing.T, pool *pgxpool.Pool) *Paying {
	t.Helper()
	f, err := newRecorderFlow(pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeFlow(f) })
	return f
}

// openAttempt writes an open order of 200 000 VND for agency with a pending
// fakepay attempt, as StartAttempt would leave them, and returns both ids
// and the attempt's gateway reference.
func openAttempt(t *testing.T, pool *pgxpool.Pool, agency string) (order, attempt uuid.UUID, ref string) {
	t.Helper()
	ctx := context.Background()
	order, attempt = uuid.New(), uuid.New()
	now := time.Now().UTC()
	ref = "REF-" + attempt.String()[:13]
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total, payer_name, description,
			expires_at, idempotency_key, request_hash) VALUES ($1, $2, $3, $1, 'open', 'VND', 200000, 'An', 'd', $4, $2, '\x00')`,
			[]any{order, "RF00" + order.String()[:8], agency, now.Add(24 * time.Hour)}},
		{`INSERT INTO order_lines (order_id, line_no, service_code, agency_code, kind, amount)
			VALUES ($1, 1, 'A-FEE', $2, 'fee', 200000)`, []any{order, agency}},
		{`INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, currency, amount, status,
			created_by, created_at, updated_at, expires_at) VALUES ($1, $2, 'fakepay', 'card', $3, 'VND', 200000, 'pending',
			'test', $4, $4, $5)`, []any{attempt, order, ref, now, now.Add(15 * time.Minute)}},
	} {
		if _, err := pool.Exec(ctx, st.sql, st.args...); err != nil {
			t.Fatal(err)
		}
	}
	return order, attempt, ref
}

func result(ref, txn string, status gateways.Status, amount int64) gateways.Result {
	return gateways.Result{GatewayRef: ref, GatewayTxnID: txn, Status: status, Amount: decimal.NewFromInt(amount), Currency: "VND"}
}

func job(r gateways.Result) recordJob {
	return recordJob{gateway: "fakepay", r: r, actor: "gateway:fakepay"}
}

func rowCount(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// One batch of results of every kind: each is answered as RecordResult alone
// would answer it, and the books show exactly what happened.
func TestRecorderBatchOfEveryKind(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := recorderFlow(t, pool)
	var paid []uuid.UUID
	var jobs []recordJob
	for i := range 5 {
		o, _, ref := openAttempt(t, pool, "AG-A")
		paid = append(paid, o)
		jobs = append(jobs, job(result(ref, "TXN-"+ref, gateways.StatusSucceeded, 200000)))
		if i == 0 { // the gateway's duplicate callback, in the same batch
			jobs = append(jobs, job(result(ref, "TXN-"+ref, gateways.StatusSucceeded, 200000)))
		}
	}
	failedOrder, failedAttempt, failedRef := openAttempt(t, pool, "AG-A")
	jobs = append(jobs, job(result(failedRef, "", gateways.StatusFailed, 0)))
	misOrder, _, misRef := openAttempt(t, pool, "AG-A")
	jobs = append(jobs, job(result(misRef, "TXN-MIS", gateways.StatusSucceeded, 199999)))
	jobs = append(jobs, job(result("REF-NOBODY", "TXN-X", gateways.StatusSucceeded, 200000)))
	usdOrder, _, usdRef := openAttempt(t, pool, "AG-A")
	usd := result(usdRef, "TXN-USD", gateways.StatusSucceeded, 200000)
	usd.Currency = "USD"
	jobs = append(jobs, job(usd))
	// Two attempts of one order both succeed: one pays it, the other is an overpayment.
	twiceOrder, _, ref1 := openAttempt(t, pool, "AG-A")
	second := uuid.New()
	if _, err := pool.Exec(context.Background(), `INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref,
		currency, amount, status, created_by, created_at, updated_at, expires_at)
		SELECT $1, order_id, gateway, method, 'REF-SECOND', currency, amount, status, created_by, created_at + interval '1 second',
			updated_at, expires_at FROM payment_attempts WHERE gateway_ref = $2`, second, ref1); err != nil {
		t.Fatal(err)
	}
	jobs = append(jobs, job(result(ref1, "TXN-1", gateways.StatusSucceeded, 200000)),
		job(result("REF-SECOND", "TXN-2", gateways.StatusSucceeded, 200000)))

	res := f.rec.queue.WriteBatch(jobs)

	want := []gateways.Ack{gateways.AckOK, gateways.AckAlreadyConfirmed, gateways.AckOK, gateways.AckOK, gateways.AckOK,
		gateways.AckOK, gateways.AckOK, gateways.AckAmountMismatch, gateways.AckNotFound, gateways.AckAmountMismatch,
		gateways.AckOK, gateways.AckOK}
	for i, j := range jobs {
		if res[i].Err != nil || res[i].Value != want[i] {
			t.Errorf("result %d (%s %s): %s, %v; want %s", i, j.r.GatewayRef, j.r.Status, res[i].Value, res[i].Err, want[i])
		}
	}
	for _, o := range append(paid, twiceOrder) {
		if n := rowCount(t, pool, `SELECT count(*) FROM ledger_entries WHERE kind = 'payment' AND reference LIKE 'order:' || $1 || '/%'`, o.String()); n != 1 {
			t.Errorf("order %s: %d payment entries, want 1", o, n)
		}
		if n := rowCount(t, pool, `SELECT count(*) FROM orders WHERE id = $1 AND status = 'paid'`, o); n != 1 {
			t.Errorf("order %s is not paid", o)
		}
		if n := rowCount(t, pool, `SELECT count(*) FROM order_events WHERE order_id = $1 AND type = 'order.paid'`, o); n != 1 {
			t.Errorf("order %s: %d order.paid events, want 1", o, n)
		}
	}
	if n := rowCount(t, pool, `SELECT count(*) FROM payment_refunds WHERE attempt_id = $1 AND kind = 'overpayment'`, second); n != 1 {
		t.Errorf("%d automatic refunds of the overpaying attempt, want 1", n)
	}
	if n := rowCount(t, pool, `SELECT count(*) FROM ledger_entries WHERE kind = 'overpayment'`); n != 1 {
		t.Errorf("%d overpayment entries, want 1", n)
	}
	if n := rowCount(t, pool, `SELECT count(*) FROM payment_attempts WHERE id = $1 AND status = 'failed'`, failedAttempt); n != 1 {
		t.Error("the failed attempt is not failed")
	}
	for _, o := range []uuid.UUID{failedOrder, misOrder, usdOrder} {
		if n := rowCount(t, pool, `SELECT count(*) FROM orders WHERE id = $1 AND status = 'open'`, o); n != 1 {
			t.Errorf("order %s is not open any more", o)
		}
	}
	report, err := ledger.Verify(context.Background(), pool)
	if err != nil || !report.OK() {
		t.Fatalf("ledger verify: %v %v", report.Findings, err)
	}
}

// A batch that fails writes nothing and answers nobody; its results are then
// recorded one by one, so the good ones are paid and only the bad one fails.
func TestRecorderBatchFailsWhole(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := recorderFlow(t, pool)
	// The agency's ledger account exists in another currency: posting its
	// payment fails inside the transaction.
	if _, err := pool.Exec(context.Background(), `INSERT INTO ledger_accounts (code, kind, currency)
		VALUES ('agency:AG-BAD:collected', 'liability', 'USD')`); err != nil {
		t.Fatal(err)
	}
	good, _, goodRef := openAttempt(t, pool, "AG-A")
	bad, badAttempt, badRef := openAttempt(t, pool, "AG-BAD")
	jobs := []recordJob{job(result(goodRef, "TXN-G", gateways.StatusSucceeded, 200000)),
		job(result(badRef, "TXN-B", gateways.StatusSucceeded, 200000))}

	if _, err := f.recordBatch(context.Background(), jobs); err == nil {
		t.Fatal("the batch did not fail")
	}
	if n := rowCount(t, pool, `SELECT count(*) FROM orders WHERE status = 'paid'`); n != 0 {
		t.Fatalf("%d orders paid by a failed batch", n)
	}

	res := f.rec.queue.WriteBatch(jobs)
	if res[0].Err != nil || res[0].Value != gateways.AckOK {
		t.Fatalf("good result: %s, %v", res[0].Value, res[0].Err)
	}
	if res[1].Err == nil || res[1].Value != gateways.AckError {
		t.Fatalf("bad result: %s, %v; want an error for the gateway to retry", res[1].Value, res[1].Err)
	}
	if n := rowCount(t, pool, `SELECT count(*) FROM orders WHERE id = $1 AND status = 'paid'`, good); n != 1 {
		t.Error("the good order is not paid")
	}
	if n := rowCount(t, pool, `SELECT count(*) FROM orders o JOIN payment_attempts a ON a.order_id = o.id
		WHERE o.id = $1 AND o.status = 'open' AND a.id = $2 AND a.status = 'pending'`, bad, badAttempt); n != 1 {
		t.Error("the bad order or its attempt changed")
	}
}
