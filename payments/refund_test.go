package payments

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// refundGateway answers every refund call (and refund status query) the same way.
type refundGateway struct {
	res gateways.RefundResult
	err error
}

func (refundGateway) Name() string                             { return "fakepay" }
func (refundGateway) Methods() []gateways.Method               { return []gateways.Method{gateways.MethodCard} }
func (refundGateway) Reply(gateways.Ack) (int, string, []byte) { return 200, "", nil }
func (refundGateway) Create(context.Context, gateways.CreateRequest) (gateways.CreateResult, error) {
	return gateways.CreateResult{}, gateways.ErrUnsupported
}
func (refundGateway) ParseCallback(gateways.CallbackRequest) (gateways.Result, error) {
	return gateways.Result{}, gateways.ErrUnsupported
}
func (refundGateway) Query(context.Context, gateways.QueryRequest) (gateways.Result, error) {
	return gateways.Result{}, gateways.ErrUnsupported
}
func (g refundGateway) Refund(context.Context, gateways.RefundRequest) (gateways.RefundResult, error) {
	return g.res, g.err
}
func (g refundGateway) QueryRefund(context.Context, gateways.RefundRequest) (gateways.RefundResult, error) {
	return g.res, g.err
}

// noJobs accepts job inserts without a River client: the test drives the steps.
type noJobs struct{}

func (noJobs) InsertTx(context.Context, pgx.Tx, river.JobArgs, *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return &rivertype.JobInsertResult{}, nil
}

func (noJobs) InsertManyTx(context.Context, pgx.Tx, []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	return nil, nil
}

// TestRefundOutcomes drives a refund's job steps against gateways that
// always answer one way, and checks what is left on the order and refund.
func TestRefundOutcomes(t *testing.T) {
	t.Parallel()
	tech := &gateways.TechnicalError{Op: "fakepay: refund", Err: errors.New("http status 503")}
	tests := []struct {
		name                  string
		gw                    refundGateway
		status                RefundStatus
		orderStatus           Status
		pending, refunded     int64
		failedEvents, entries int
	}{
		{"refunded", refundGateway{res: gateways.RefundResult{Status: gateways.StatusSucceeded, GatewayRefundID: "R1"}},
			RefundSucceeded, StatusPartiallyRefunded, 0, 50000, 0, 1},
		{"refused", refundGateway{res: gateways.RefundResult{Status: gateways.StatusFailed, Code: "95"}},
			RefundFailed, StatusPaid, 0, 0, 1, 0},
		{"gateway down throughout", refundGateway{err: tech}, RefundFailed, StatusPaid, 0, 0, 1, 0},
		{"in progress forever stays reserved", refundGateway{res: gateways.RefundResult{Status: gateways.StatusPending}},
			RefundPending, StatusPaid, 50000, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := pgtest.New(t)
			router, err := gateways.NewRouter(gateways.RouterConfig{Breaker: testBreaker(100)}, tt.gw)
			if err != nil {
				t.Fatal(err)
			}
			flow := NewPaying(NewOrders(pool, nil, testOrdersConfig(), nil, slog.New(slog.DiscardHandler)), router,
				testPayingConfig(3))
			flow.SetJobs(noJobs{})
			t.Cleanup(func() { closeFlow(flow) })
			orderID := paidOrder(t, pool)
			rf, err := flow.RequestRefund(ctx, auth.Principal{Role: auth.RoleTreasury, Prefix: "t"}, orderID, RefundRequest{
				Amount: vnd(50000), ExpectedRefundable: ptr(vnd(200000)), Reason: "test"})
			if err != nil {
				t.Fatal(err)
			}
			for step := 0; step < 10; step++ {
				wait, err := flow.advanceRefund(ctx, rf.ID, step)
				if err != nil {
					t.Fatal(err)
				}
				if wait == 0 {
					break
				}
			}
			got, err := getRefund(ctx, pool, rf.ID, false)
			if err != nil {
				t.Fatal(err)
			}
			o, err := getOrder(ctx, pool, "o.id = $1", orderID, false)
			if err != nil {
				t.Fatal(err)
			}
			var failedEvents, entries int
			_ = pool.QueryRow(ctx, `SELECT count(*) FROM order_events WHERE order_id = $1 AND type = 'refund.failed'`, orderID).Scan(&failedEvents)
			_ = pool.QueryRow(ctx, `SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1`, "refund:"+rf.ID.String()).Scan(&entries)
			if got.Status != tt.status || o.Status != tt.orderStatus || !o.AmountRefundPending.Equal(vnd(tt.pending)) ||
				!o.AmountRefunded.Equal(vnd(tt.refunded)) || failedEvents != tt.failedEvents || entries != tt.entries {
				t.Fatalf("refund %s (%d tries, %q), order %s pending %s refunded %s, %d refund.failed, %d entries",
					got.Status, got.Tries, got.LastError, o.Status, o.AmountRefundPending, o.AmountRefunded, failedEvents, entries)
			}
			if wait, err := flow.advanceRefund(ctx, rf.ID, 0); err != nil || (got.Final() && wait != 0) {
				t.Fatalf("a finished refund's job ran again: wait %s, %v", wait, err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// paidOrder writes an order of 200 000 VND paid through fakepay, as the flow
// would have left it.
func paidOrder(t *testing.T, pool *pgxpool.Pool) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	id, attempt, now := uuid.New(), uuid.New(), time.Now().UTC()
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total, amount_paid, payer_name,
			description, expires_at, paid_at, idempotency_key, request_hash)
			VALUES ($1, $2, 'AG-A', $1, 'paid', 'VND', 200000, 200000, 'An', 'd', $3, $4, $2, '\x00')`,
			[]any{id, "RF00" + attempt.String()[:8], now.Add(24 * time.Hour), now}},
		{`INSERT INTO order_lines (order_id, line_no, service_code, agency_code, kind, amount)
			VALUES ($1, 1, 'A-FEE', 'AG-A', 'fee', 200000)`, []any{id}},
		{`INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, gateway_txn_id, currency, amount, status,
			outcome, created_by, created_at, updated_at, expires_at, paid_at)
			VALUES ($1, $2, 'fakepay', 'card', 'REF', 'TXN', 'VND', 200000, 'succeeded', 'payment', 'test', $3, $3, $3, $3)`,
			[]any{attempt, id, now}},
	} {
		if _, err := pool.Exec(ctx, st.sql, st.args...); err != nil {
			t.Fatal(err)
		}
	}
	return id
}
