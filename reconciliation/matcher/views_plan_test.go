package matcher

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// The matcher reads payments' tables through the views payments publishes
// (migrations/00017). A view of one table is inlined by the planner: each
// statement's plan on the views is its plan on the tables themselves.
func TestMatcherPlansOnViewsAreThePlansOnTables(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	// Enough rows, analysed, for the planner to choose indexes where it would.
	if _, err := pool.Exec(ctx, `
		INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total, amount_paid, payer_name,
			description, expires_at, idempotency_key, request_hash)
		SELECT gen_random_uuid(), 'REF' || g, 'A', gen_random_uuid(), 'paid', 'VND', 1000, 1000, 'P', 'D', now(), 'k' || g, '\x00'
		FROM generate_series(1, 5000) g;
		INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, amount, currency, status, outcome,
			gateway_txn_id, created_by, created_at, updated_at, expires_at, paid_at)
		SELECT gen_random_uuid(), o.id, CASE WHEN o.reference < 'REF3' THEN 'vnpay' ELSE 'vietqr' END, 'card', o.reference,
			1000, 'VND', 'succeeded', 'payment', 'T' || o.reference, 'test', now(), now(), now(), now()
		FROM orders o;
		ANALYZE orders; ANALYZE payment_attempts; ANALYZE payment_refunds;`); err != nil {
		t.Fatalf("seed: %v", err)
	}
	now := time.Now()
	one, zero := decimal.NewFromInt(1), decimal.Zero
	tests := []struct {
		name string
		sql  string
		args []any
	}{
		{"lines and missing", linesAndMissingSQL, []any{int64(1), int64(1), "vnpay", one, one, one, one, 0,
			now.Add(-24 * time.Hour), now, missingTempBase}},
		{"lines and missing, no fee", linesAndMissingSQL, []any{int64(1), int64(1), "vnpay", one, nil, nil, zero, 0,
			now.Add(-24 * time.Hour), now, missingTempBase}},
		{"missing refunds", missingRefundsSQL, []any{int64(1), missingRefundTempBase, "vnpay", now.Add(-24 * time.Hour), now,
			[]int64{1, 2}, int64(1), int64(2)}},
		{"vietqr credits", vietQRCreditsSQL, []any{int64(1), now, []string{}, int64(1), one}},
		{"vietqr missing", vietQRMissingSQL, []any{int64(1), now.Add(-24 * time.Hour), now, RecordSeqBase}},
	}
	onTables := strings.NewReplacer("payments_recon_attempts", "payment_attempts",
		"payments_recon_refunds", "payment_refunds", "payments_recon_orders", "orders")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if onTables.Replace(tt.sql) == tt.sql {
				t.Fatal("the statement reads no view of payments")
			}
			viaViews, viaTables := explain(t, pool, tt.sql, tt.args), explain(t, pool, onTables.Replace(tt.sql), tt.args)
			if viaViews != viaTables {
				t.Errorf("plan on the views:\n%s\nplan on the tables:\n%s", viaViews, viaTables)
			}
		})
	}
}

// explain is the plan of sql with args, without costs, aliases and qualifiers.
func explain(t *testing.T, pool *pgxpool.Pool, sql string, args []any) string {
	t.Helper()
	rows, err := pool.Query(context.Background(), "EXPLAIN (COSTS OFF) "+sql, args...)
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	for i, l := range lines {
		l = scanAlias.ReplaceAllString(l, "$1")
		lines[i] = qualifier.ReplaceAllString(l, "")
	}
	return strings.Join(lines, "\n")
}

// A view names its table without the statement's alias: plans are compared
// without aliases ("on payment_attempts a" is "on payment_attempts") and
// without qualifiers ("a.gateway_ref" is "gateway_ref").
var (
	scanAlias = regexp.MustCompile(`( on \w+) \w+$`)
	qualifier = regexp.MustCompile(`\b\w+\.`)
)
