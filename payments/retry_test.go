package payments

import (
	"context"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/metrics"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

func reason(f pgtest.Fault) string {
	switch f.Code {
	case "40001":
		return db.ReasonSerialization
	case "40P01":
		return db.ReasonDeadlock
	}
	return db.ReasonShutdown
}

func retried(t *testing.T, op, reason string) float64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.DBRetries.WithLabelValues(op, reason).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// A gateway result is recorded once whatever happens (idempotent), so its
// transaction runs again when PostgreSQL says it may: after a deadlock, and
// after a connection lost during COMMIT (outcome unknown, harmless to
// repeat). The result is acknowledged, the order paid once, and the retry
// counted in civicpay_db_retries_total.
func TestRecordingAResultRunsAgain(t *testing.T) {
	t.Parallel()
	for _, f := range []pgtest.Fault{{Table: "payment_attempts", Code: "40P01"}, {Table: "payment_attempts", Code: pgtest.DieAtCommit}} {
		t.Run(f.Code, func(t *testing.T) {
			t.Parallel()
			pool := pgtest.New(t)
			fl := recorderFlow(t, pool)
			order, _, ref := openAttempt(t, pool, "AG-A")
			f.Install(t, pool)
			before := retried(t, "payments.record_result", reason(f))
			ack, err := fl.RecordResult(context.Background(), "fakepay", result(ref, "TXN-1", gateways.StatusSucceeded, 200000), "gateway:fakepay")
			if err != nil || ack != gateways.AckOK {
				t.Fatalf("RecordResult = %v, %v", ack, err)
			}
			if n := rowCount(t, pool, `SELECT count(*) FROM ledger_entries WHERE kind = 'payment'`); n != 1 ||
				rowCount(t, pool, `SELECT count(*) FROM orders WHERE id = $1 AND status = 'paid'`, order) != 1 {
				t.Fatalf("%d payment entries, order not paid: want it paid once", n)
			}
			if got := retried(t, "payments.record_result", reason(f)) - before; got != 1 {
				t.Fatalf("civicpay_db_retries_total{op=payments.record_result,reason=%s} grew by %v, want 1", reason(f), got)
			}
		})
	}
}

// A refund request carries no idempotency key: it runs again where
// PostgreSQL says nothing was written (a serialization failure), but not
// after a connection lost during COMMIT, when nobody knows whether it was
// done — run blindly again, it could reserve the refund twice. The error
// then says the outcome is unknown (the HTTP answer is 503 outcome-unknown),
// and the caller who looks and asks again is answered once.
func TestRefundRequestIsNotRetriedBlindly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault   pgtest.Fault
		ok      bool
		retries float64
	}{
		{pgtest.Fault{Table: "payment_refunds", Code: "40001"}, true, 1},
		{pgtest.Fault{Table: "payment_refunds", Code: pgtest.DieAtCommit}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.fault.Code, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := pgtest.New(t)
			fl := recorderFlow(t, pool)
			orderID := paidOrder(t, pool)
			tt.fault.Install(t, pool)
			before := retried(t, "payments.request_refund", reason(tt.fault))
			treasury := auth.Principal{Role: auth.RoleTreasury, Prefix: "t"}
			ask := RefundRequest{Amount: vnd(50000), ExpectedRefundable: ptr(vnd(200000)), Reason: "test"}
			_, err := fl.RequestRefund(ctx, treasury, orderID, ask)
			if (err == nil) != tt.ok || !tt.ok && !db.OutcomeUnknown(err) {
				t.Fatalf("RequestRefund = %v, want success %v (else an unknown outcome)", err, tt.ok)
			}
			if got := retried(t, "payments.request_refund", reason(tt.fault)) - before; got != tt.retries {
				t.Fatalf("civicpay_db_retries_total{op=payments.request_refund} grew by %v, want %v", got, tt.retries)
			}
			// Written twice in the database's eyes when run again after the
			// serialization failure; once (not run again) after the lost commit.
			if fired, want := tt.fault.Fired(t, pool), 1+int(tt.retries); fired != want {
				t.Fatalf("the refund's transaction was run %d times, want %d", fired, want)
			}
			if !tt.ok {
				// The backend died before its commit was durable: nothing
				// was reserved, and the request asked again is answered.
				if n := rowCount(t, pool, `SELECT count(*) FROM payment_refunds`); n != 0 {
					t.Fatalf("%d refunds after the lost commit, want 0", n)
				}
				if _, err := fl.RequestRefund(ctx, treasury, orderID, ask); err != nil {
					t.Fatalf("asked again: %v", err)
				}
			}
			if n := rowCount(t, pool, `SELECT count(*) FROM payment_refunds`); n != 1 {
				t.Fatalf("%d refunds, want 1", n)
			}
		})
	}
}
