package webhooks

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/internal/domain/auth"
)

// PublishMany writes the events in the order given, and each fans out by its
// own agency and owner: agency A's endpoint gets A's event only, the portal's
// endpoint the event it owns, the treasury's every event.
func TestPublishManyFansOutEachEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	agencyA, agencyB := e.key(auth.RoleAgency, "AG-A"), e.key(auth.RoleAgency, "AG-B")
	portal, treasury := e.key(auth.RolePortal, ""), e.key(auth.RoleTreasury, "")
	rc := newReceiver(t, answer(200)) // never called: no client works the jobs
	epA := e.endpoint(agencyA, rc.url("/a"), EventOrderPaid)
	epB := e.endpoint(agencyB, rc.url("/b"), EventOrderPaid)
	epPortal := e.endpoint(portal, rc.url("/portal"), EventOrderPaid)
	epTreasury := e.endpoint(treasury, rc.url("/treasury"), EventOrderPaid)
	owner := portal.KeyID
	events := []Event{orderPaid("AG-A", nil), orderPaid("AG-B", &owner), orderPaid("AG-A", nil)}
	var ids []string
	err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
		var err error
		ids, err = e.pub.PublishMany(context.Background(), tx, events)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var inOrder bool
	if err := e.pool.QueryRow(context.Background(), `SELECT array_agg(id ORDER BY seq) = $1::text[] FROM webhook_events`,
		ids).Scan(&inOrder); err != nil || !inOrder {
		t.Fatalf("events not stored in the order given (%v)", err)
	}
	want := map[string]int{epA.ID.String(): 2, epB.ID.String(): 1, epPortal.ID.String(): 1, epTreasury.ID.String(): 3}
	for ep, n := range want {
		if got := e.count(`SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1`, ep); got != n {
			t.Errorf("endpoint %s: %d deliveries, want %d", ep, got, n)
		}
	}
	if got := e.count(`SELECT count(*) FROM river_job WHERE kind = 'webhooks.deliver'`); got != 7 {
		t.Errorf("%d delivery jobs, want 7", got)
	}
}
