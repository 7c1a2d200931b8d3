package payments

import (
	"context"
	"log/slog"
	"testing"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// TestRefundRequestIsAudited: a refund request leaves one audit row naming
// the key that asked, in the request's transaction; a refused request leaves
// none. On main refunds wrote no audit row.
func TestRefundRequestIsAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	router, err := gateways.NewRouter(gateways.RouterConfig{Breaker: testBreaker(5)}, refundGateway{})
	if err != nil {
		t.Fatal(err)
	}
	flow := NewPaying(NewOrders(pool, nil, testOrdersConfig(), nil, slog.New(slog.DiscardHandler)), router, testPayingConfig(3))
	flow.SetJobs(noJobs{})
	t.Cleanup(func() { closeFlow(flow) })
	orderID := paidOrder(t, pool)
	p := auth.Principal{Role: auth.RoleTreasury, Prefix: "abcdefabcdef"}
	if _, err := flow.RequestRefund(ctx, p, orderID, RefundRequest{Amount: vnd(500000), ExpectedRefundable: ptr(vnd(200000)), Reason: "too much"}); err == nil {
		t.Fatal("a refund above the refundable amount was accepted")
	}
	rf, err := flow.RequestRefund(ctx, p, orderID, RefundRequest{Amount: vnd(50000), ExpectedRefundable: ptr(vnd(200000)), Reason: "duplicate fee"})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var actor, role, id, amount, order string
	if err := pool.QueryRow(ctx, `SELECT count(*), min(actor), min(actor_role), min(resource_id), min(after->>'amount'), min(after->>'order_id')
		FROM audit_log WHERE action = 'refund.request'`).Scan(&n, &actor, &role, &id, &amount, &order); err != nil {
		t.Fatal(err)
	}
	if n != 1 || actor != "key:abcdefabcdef" || role != "treasury" || id != rf.ID.String() || amount != "50000" || order != orderID.String() {
		t.Fatalf("%d rows: actor %q role %q refund %q amount %q order %q", n, actor, role, id, amount, order)
	}
}
