package payments_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/partition"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// Order events are partitioned by month (migration 00032): orders created in
// different months (by the app's clock, midnight in Vietnam being the
// boundary) have their first event in that month's partition, an order's
// history reads across partitions, and an idempotency key used again in
// another month still gives back the original order (idempotency_keys is
// not partitioned), and with another body is still refused.
func TestOrderEventsLandInTheirMonthPartition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2052, 1, 15, 10, 0, 0, 0, bizday.Zone))
	e := apptest.New(t, apptest.WithClock(clk))
	if _, err := partition.Ensure(ctx, e.Pool, clk.Now(), 3); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2052, 1, 15, 10, 0, 0, 0, bizday.Zone), "order_events_p205201"},
		{time.Date(2052, 2, 29, 23, 59, 0, 0, bizday.Zone), "order_events_p205202"},
		// 2052-02-29 17:30 UTC is already March in Vietnam.
		{time.Date(2052, 2, 29, 17, 30, 0, 0, time.UTC), "order_events_p205203"},
		{time.Date(2052, 4, 30, 12, 0, 0, 0, bizday.Zone), "order_events_p205204"},
		// No partition made this far ahead: DEFAULT takes it, the insert does not fail.
		{time.Date(2053, 1, 1, 12, 0, 0, 0, bizday.Zone), "order_events_default"},
	}
	var first orderJSON
	for i, c := range cases {
		clk.Set(c.at)
		r := create(t, e, e.Portal, "month-"+c.want, orderBody("200000"))
		if r.Status != http.StatusCreated {
			t.Fatalf("create at %v: %d %s", c.at, r.Status, r.Body)
		}
		var o orderJSON
		r.JSON(t, &o)
		if i == 0 {
			first = o
		}
		var part string
		if err := e.Pool.QueryRow(ctx, `SELECT tableoid::regclass::text FROM order_events
			WHERE order_id = $1 AND type = 'order.created'`, o.ID).Scan(&part); err != nil {
			t.Fatal(err)
		}
		if part != c.want {
			t.Errorf("order created at %v: its event is in %s, want %s", c.at, part, c.want)
		}
	}

	// January's key, in April: the same order; with another body: refused.
	clk.Set(cases[3].at)
	again := create(t, e, e.Portal, "month-order_events_p205201", orderBody("200000"))
	var o orderJSON
	again.JSON(t, &o)
	if again.Status != http.StatusOK || o.ID != first.ID {
		t.Fatalf("January's key replayed in April = %d %s, want 200 with %s", again.Status, again.Body, first.ID)
	}
	if r := create(t, e, e.Portal, "month-order_events_p205201", orderBody("300000")); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("January's key in April with another body = %d, want 422", r.Status)
	}

	// A later event lands in another month's partition; the history has both, in order.
	if r := e.Do(t, "POST", "/v1/orders/"+first.ID+"/cancel", e.Portal, nil); r.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	var history struct {
		Data []struct {
			Type string `json:"type"`
		} `json:"data"`
	}
	r := e.Do(t, "GET", "/v1/orders/"+first.ID+"/events", e.Portal, nil)
	r.JSON(t, &history)
	if h := history.Data; len(h) != 2 || h[0].Type != "order.created" || h[1].Type != "order.cancelled" {
		t.Fatalf("history %s", r.Body)
	}
	var parts int
	if err := e.Pool.QueryRow(ctx, `SELECT count(DISTINCT tableoid) FROM order_events WHERE order_id = $1`, first.ID).Scan(&parts); err != nil {
		t.Fatal(err)
	}
	if parts != 2 {
		t.Fatalf("the order's two events are in %d partitions, want 2 (January's and today's)", parts)
	}

	// Event ids stay unique across partitions: the identity gives them, and
	// an insert that names one is refused.
	if _, err := e.Pool.Exec(ctx, `INSERT INTO order_events (id, order_id, type, actor, created_at)
		SELECT id, order_id, type, actor, created_at + interval '1 month' FROM order_events WHERE order_id = $1 LIMIT 1`, first.ID); err == nil {
		t.Fatal("an order event with an existing id was accepted")
	}
	var dupes int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) - count(DISTINCT id) FROM order_events`).Scan(&dupes); err != nil || dupes != 0 {
		t.Fatalf("duplicate event ids: %d (%v)", dupes, err)
	}
}
