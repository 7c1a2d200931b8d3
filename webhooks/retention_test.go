package webhooks

import (
	"context"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/domain/auth"
)

// TestPruneAttempts: only the attempt logs of deliveries that succeeded,
// made before the cut, go; a failed delivery's and a pending one's stay, as
// do the events and deliveries themselves. A second run deletes nothing.
func TestPruneAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ctx := context.Background()
	p := e.key(auth.RoleAgency, "AG-R")
	ep := e.endpoint(p, "http://127.0.0.1:1/hook", EventOrderPaid)
	old, recent := time.Now().AddDate(0, 0, -100), time.Now().AddDate(0, 0, -10)
	// One delivery per state, each with an old and a recent attempt.
	for _, state := range []string{"succeeded", "failed", "pending"} {
		ev := e.publish(orderPaid("AG-R", nil))
		var delivery string
		if err := e.pool.QueryRow(ctx, `UPDATE webhook_deliveries SET state = $2 WHERE event_id = $1 AND endpoint_id = $3 RETURNING id`,
			ev, state, ep.ID).Scan(&delivery); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{old, recent} {
			if _, err := e.pool.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, status_code, latency_ms, outcome)
				VALUES ($1, $2, $3, 200, 5, 'succeeded')`, delivery, ep.ID, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	var seen []int
	n, err := PruneAttempts(ctx, e.pool, time.Now().AddDate(0, 0, -90), 1, func(done int) { seen = append(seen, done) })
	if err != nil || n != 1 || len(seen) != 1 || seen[0] != 1 {
		t.Fatalf("pruned %d (progress %v), %v; want the one old attempt of the succeeded delivery", n, seen, err)
	}
	if got := e.count(`SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
		WHERE d.state = 'succeeded' AND a.attempted_at < now() - interval '90 days'`); got != 0 {
		t.Errorf("%d old attempts of succeeded deliveries left", got)
	}
	if got := e.count(`SELECT count(*) FROM webhook_attempts`); got != 5 {
		t.Errorf("%d attempts left, want 5", got)
	}
	if got := e.count(`SELECT count(*) FROM webhook_deliveries`); got != 3 {
		t.Errorf("%d deliveries left, want 3", got)
	}
	if n, err := PruneAttempts(ctx, e.pool, time.Now().AddDate(0, 0, -90), 1, nil); err != nil || n != 0 {
		t.Errorf("second run pruned %d, %v; want 0", n, err)
	}
}
