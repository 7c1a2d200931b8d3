package ledger

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/metrics"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// A manual entry is posted under its Idempotency-Key, so its transaction
// runs again when PostgreSQL says it may — a deadlock, a connection lost
// during COMMIT — and the entry is posted once, answered 201, and the retry
// counted in civicpay_db_retries_total{op="ledger.manual_post"}.
func TestManualPostRunsAgainAfterADatabaseFault(t *testing.T) {
	t.Parallel()
	tests := []struct{ code, reason string }{
		{"40P01", db.ReasonDeadlock},
		{pgtest.DieAtCommit, db.ReasonShutdown},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t)
			fault := pgtest.Fault{Table: "ledger_entries", Code: tt.code}
			fault.Install(t, a.pool)
			before := manualRetries(t, tt.reason)
			at, _ := recent()
			if r := a.do("treasury", "POST", "/v1/ledger/entries", manualBody("5000", at), "Idempotency-Key", "k"); r.status != 201 {
				t.Fatalf("post = %d %s", r.status, r.body)
			}
			if n, fired := count(t, a.pool, `SELECT count(*) FROM ledger_entries`), fault.Fired(t, a.pool); n != 1 || fired != 2 {
				t.Fatalf("%d entries, written %d times: want 1 entry, written again once", n, fired)
			}
			if got := manualRetries(t, tt.reason) - before; got != 1 {
				t.Fatalf("civicpay_db_retries_total{op=ledger.manual_post,reason=%s} grew by %v, want 1", tt.reason, got)
			}
		})
	}
}

func manualRetries(t *testing.T, reason string) float64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.DBRetries.WithLabelValues("ledger.manual_post", reason).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
