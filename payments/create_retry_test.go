package payments_test

import (
	"context"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/civicpay/civicpay/internal/foundation/db"
	cpmetrics "github.com/civicpay/civicpay/internal/foundation/metrics"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// An order created under its Idempotency-Key is idempotent, so its write
// runs again when PostgreSQL says it may — a serialization failure, a
// deadlock, and a connection lost during COMMIT (outcome unknown, harmless
// to repeat under the key): the client gets its 201, the order is written
// once, and the retry is counted in civicpay_db_retries_total.
func TestCreateOrderRunsAgainAfterADatabaseFault(t *testing.T) {
	t.Parallel()
	tests := []struct{ code, reason string }{
		{"40001", db.ReasonSerialization},
		{"40P01", db.ReasonDeadlock},
		{pgtest.DieAtCommit, db.ReasonShutdown},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t)
			fault := pgtest.Fault{Table: "orders", Code: tt.code}
			fault.Install(t, e.Pool)
			before := createRetries(t, tt.reason)
			key := "fault-" + tt.code
			if r := create(t, e, e.Portal, key, orderBody("200000")); r.Status != http.StatusCreated {
				t.Fatalf("create = %d %s", r.Status, r.Body)
			}
			var n int
			if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM orders WHERE idempotency_key = $1`, key).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if fired := fault.Fired(t, e.Pool); n != 1 || fired != 2 {
				t.Fatalf("%d orders, written %d times: want 1 order, written again once", n, fired)
			}
			if got := createRetries(t, tt.reason) - before; got != 1 {
				t.Fatalf("civicpay_db_retries_total{op=orders.create,reason=%s} grew by %v, want 1", tt.reason, got)
			}
		})
	}
}

func createRetries(t *testing.T, reason string) float64 {
	t.Helper()
	var m dto.Metric
	if err := cpmetrics.DBRetries.WithLabelValues("orders.create", reason).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
