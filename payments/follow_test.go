package payments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// queryCounter counts the status queries the simulated MoMo gets, by the
// merchant's order id (the attempt's gateway reference).
type queryCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (q *queryCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/momo"+momo.QueryPath {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var b momo.QueryBody
			_ = json.Unmarshal(body, &b)
			q.mu.Lock()
			q.n[b.OrderID]++
			q.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (q *queryCounter) get(ref string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n[ref]
}

// TestFollowSweepNeedsNoLeader: the instance that made the attempts is gone
// and, as after a kill -9, River's leadership is held by a dead instance
// whose lease has not run out — no periodic job runs anywhere. The attempts,
// paid at MoMo whose callbacks were lost, are due for their status query.
// Two instances starting then follow them at once, without a leader; each
// attempt gets one status job and MoMo one query per attempt, though both
// instances swept them at start.
func TestFollowSweepNeedsNoLeader(t *testing.T) {
	t.Parallel()
	q := &queryCounter{n: map[string]int{}}
	e := apptest.NewWithSimHandler(t, q.wrap, func(c *config.Config) { c.Paying.StatusPollDelay = time.Hour })
	setFaults(t, e, "momo", gatewaysim.Faults{CallbackDropRate: 1})
	var attempts []attemptJSON
	var orders, ids []string
	for range 10 {
		o := newOrder(t, e, false)
		a := startAttempt(t, e, o.ID, "ewallet", "momo")
		pay(t, e, a, gatewaysim.PaySuccess)
		attempts, orders, ids = append(attempts, a), append(orders, o.ID), append(ids, a.ID)
	}
	if err := e.Stop(t); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.Pool.Exec(ctx, `INSERT INTO river_leader (leader_id, elected_at, expires_at)
		VALUES ('crashed-instance', now(), now() + interval '1 hour')
		ON CONFLICT (name) DO UPDATE SET leader_id = EXCLUDED.leader_id, expires_at = EXCLUDED.expires_at`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE payment_attempts SET created_at = created_at - interval '2 hours'
		WHERE id = ANY($1::uuid[])`, ids); err != nil { // the first status query is due
		t.Fatal(err)
	}

	one, _ := e.Another(t), e.Another(t)
	for _, id := range orders {
		waitStatus(t, one, id, "paid")
	}
	var leader string
	if err := e.Pool.QueryRow(ctx, `SELECT leader_id FROM river_leader`).Scan(&leader); err != nil || leader != "crashed-instance" {
		t.Fatalf("River leader %q (%v): the test needs the dead one to keep it", leader, err)
	}
	for _, a := range attempts {
		if n := q.get(a.GatewayRef); n != 1 {
			t.Errorf("attempt %s: MoMo got %d status queries, want 1", a.ID, n)
		}
		var jobs int
		if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'payments.attempt_status'
			AND args->>'attempt_id' = $1`, a.ID).Scan(&jobs); err != nil || jobs != 1 {
			t.Errorf("attempt %s: %d status jobs (%v), want 1", a.ID, jobs, err)
		}
	}
}
