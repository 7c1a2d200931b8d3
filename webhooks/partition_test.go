package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/partition"
)

// attemptsIn inserts one attempt of delivery at each time and answers the
// partition each landed in.
func (e *env) attemptsIn(delivery, endpoint string, at ...time.Time) []string {
	e.t.Helper()
	var parts []string
	for _, t := range at {
		var part string
		if err := e.pool.QueryRow(context.Background(), `INSERT INTO webhook_attempts
			(delivery_id, endpoint_id, attempted_at, status_code, latency_ms, outcome)
			VALUES ($1, $2, $3, 200, 5, 'succeeded') RETURNING tableoid::regclass::text`, delivery, endpoint, t).Scan(&part); err != nil {
			e.t.Fatal(err)
		}
		parts = append(parts, part)
	}
	return parts
}

// deliveryIn publishes an event to ep and sets its delivery's state.
func (e *env) deliveryIn(ep EndpointWithSecret, state string) string {
	e.t.Helper()
	ev := e.publish(orderPaid("AG-R", nil))
	var delivery string
	if err := e.pool.QueryRow(context.Background(), `UPDATE webhook_deliveries SET state = $2
		WHERE event_id = $1 AND endpoint_id = $3 RETURNING id`, ev, state, ep.ID).Scan(&delivery); err != nil {
		e.t.Fatal(err)
	}
	return delivery
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, bizday.Zone) }

// TestPruneAttemptsDropsWholeMonths: webhook_attempts is partitioned by month
// (migration 00032). Attempts land in their month's partition; a month that
// ended before the cut and holds only attempts of succeeded deliveries is
// dropped whole, a month with one attempt that must stay is pruned row by
// row, and so is the month the cut falls in. Two pruners at once prune each
// row once between them; ids stay unique across months.
func TestPruneAttemptsDropsWholeMonths(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ctx := context.Background()
	if _, err := partition.Ensure(ctx, e.pool, day(2020, 1, 1), 2); err != nil {
		t.Fatal(err)
	}
	p := e.key(auth.RoleAgency, "AG-R")
	ep := e.endpoint(p, "http://127.0.0.1:1/hook", EventOrderPaid)
	ok, failed := e.deliveryIn(ep, "succeeded"), e.deliveryIn(ep, "failed")

	got := e.attemptsIn(ok, ep.ID.String(), day(2020, 1, 5), day(2020, 1, 20), day(2020, 2, 3), day(2020, 3, 10), day(2020, 3, 25),
		// 31 January 18:00 UTC is 1 February in Vietnam.
		time.Date(2020, 1, 31, 18, 0, 0, 0, time.UTC))
	got = append(got, e.attemptsIn(failed, ep.ID.String(), day(2020, 2, 4))...)
	want := []string{"webhook_attempts_p202001", "webhook_attempts_p202001", "webhook_attempts_p202002", "webhook_attempts_p202003",
		"webhook_attempts_p202003", "webhook_attempts_p202002", "webhook_attempts_p202002"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("attempts landed in %v, want %v", got, want)
		}
	}
	if n := e.count(`SELECT count(*) - count(DISTINCT id) FROM webhook_attempts`); n != 0 {
		t.Fatalf("%d duplicate attempt ids", n)
	}

	// Cut on 20 March: January goes whole (2 rows); February keeps the failed
	// delivery's attempt and loses the two others; March loses the 10th only.
	cut := day(2020, 3, 20)
	var wg sync.WaitGroup
	counts, errs := make([]int, 2), make([]error, 2)
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = PruneAttempts(ctx, e.pool, cut, 1, nil)
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || counts[0]+counts[1] != 5 {
		t.Fatalf("two pruners at once pruned %v (%v, %v), want 5 in all", counts, errs[0], errs[1])
	}
	parts, err := partition.Months(ctx, e.pool, "webhook_attempts")
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range parts {
		if part.Name == "webhook_attempts_p202001" {
			t.Fatal("January's partition was not dropped")
		}
	}
	for part, want := range map[string]int{"webhook_attempts_p202002": 1, "webhook_attempts_p202003": 1} {
		if n := e.count(`SELECT count(*) FROM ` + part); n != want {
			t.Errorf("%s keeps %d attempts, want %d", part, n, want)
		}
	}
	if n := e.count(`SELECT count(*) FROM webhook_attempts WHERE delivery_id = $1`, failed); n != 1 {
		t.Errorf("the failed delivery keeps %d attempts, want 1", n)
	}
	var seen []int
	if n, err := PruneAttempts(ctx, e.pool, cut, 1, func(d int) { seen = append(seen, d) }); err != nil || n != 0 || len(seen) != 0 {
		t.Fatalf("second run pruned %d (progress %v), %v; want nothing", n, seen, err)
	}

	// Once the failed delivery succeeds on a resend, February can go whole too.
	if _, err := e.pool.Exec(ctx, `UPDATE webhook_deliveries SET state = 'succeeded' WHERE id = $1`, failed); err != nil {
		t.Fatal(err)
	}
	if n, err := PruneAttempts(ctx, e.pool, cut, 100, func(d int) { seen = append(seen, d) }); err != nil || n != 1 || len(seen) != 1 || seen[0] != 1 {
		t.Fatalf("after the resend: pruned %d (progress %v), %v; want February's last attempt", n, seen, err)
	}
	if n := e.count(`SELECT count(*) FROM pg_class WHERE relname = 'webhook_attempts_p202002'`); n != 0 {
		t.Fatal("February's partition was pruned row by row, not dropped")
	}
}

// TestEventsArePartitionedAndIDsStayUnique: webhook_events is partitioned by
// month of created_at (migration 00032). Events published in different
// months (by the app's clock) land in their month's partition, are read and
// delivered as before, and an id stays unique across partitions: the key
// table refuses the same id in another month, and a delivery of an event
// that does not exist.
func TestEventsArePartitionedAndIDsStayUnique(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(day(2022, 1, 10))
	cfg := testConfig()
	cfg.Clock = clk
	e := newEnv(t, cfg)
	if _, err := partition.Ensure(ctx, e.pool, clk.Now(), 2); err != nil {
		t.Fatal(err)
	}
	p := e.key(auth.RoleAgency, "AG-R")
	e.endpoint(p, "http://127.0.0.1:1/hook", EventOrderPaid)
	var ids []string
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{day(2022, 1, 10), "webhook_events_p202201"},
		{time.Date(2022, 1, 31, 17, 0, 0, 0, time.UTC), "webhook_events_p202202"}, // 1 February in Vietnam
		{day(2022, 3, 31), "webhook_events_p202203"},
		{day(2030, 6, 1), "webhook_events_default"},
	} {
		clk.Set(c.at)
		id := e.publish(orderPaid("AG-R", nil))
		ids = append(ids, id)
		var part string
		var deliveries int
		if err := e.pool.QueryRow(ctx, `SELECT tableoid::regclass::text, (SELECT count(*) FROM webhook_deliveries WHERE event_id = $1)
			FROM webhook_events WHERE id = $1`, id).Scan(&part, &deliveries); err != nil {
			t.Fatal(err)
		}
		if part != c.want || deliveries != 1 {
			t.Errorf("event published at %v: in %s with %d deliveries, want %s with 1", c.at, part, deliveries, c.want)
		}
		raw, err := e.svc.Event(ctx, p, id)
		var got Envelope
		if err == nil {
			err = json.Unmarshal(raw, &got)
		}
		if err != nil || got.ID != id || !got.Timestamp.Equal(c.at) {
			t.Errorf("reading event %s back: %s, %v", id, raw, err)
		}
	}

	// January's id again, in March: refused by the key table.
	_, err := e.pool.Exec(ctx, `INSERT INTO webhook_events (id, type, payload, created_at)
		SELECT id, type, payload, created_at + interval '2 months' FROM webhook_events WHERE id = $1`, ids[0])
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" || pgErr.ConstraintName != "webhook_event_ids_pkey" {
		t.Fatalf("the same event id in another month: %v, want a unique violation of webhook_event_ids_pkey", err)
	}
	// A delivery of an event that does not exist: refused by the foreign key.
	_, err = e.pool.Exec(ctx, `INSERT INTO webhook_deliveries (endpoint_id, event_id)
		SELECT endpoint_id, 'msg_00000000000000000000000000' FROM webhook_deliveries LIMIT 1`)
	if !errors.As(err, &pgErr) || pgErr.Code != "23503" {
		t.Fatalf("a delivery of no event: %v, want a foreign key violation", err)
	}
	// An event's time does not move (it would leave its key row behind).
	if _, err := e.pool.Exec(ctx, `UPDATE webhook_events SET created_at = created_at + interval '1 day' WHERE id = $1`, ids[0]); err == nil {
		t.Fatal("an event's created_at was changed")
	}
	if n := e.count(`SELECT count(*) FROM webhook_events e FULL JOIN webhook_event_ids k USING (id, created_at)
		WHERE e.id IS NULL OR k.id IS NULL`); n != 0 {
		t.Fatalf("%d events without their key row or key rows without their event", n)
	}
}
