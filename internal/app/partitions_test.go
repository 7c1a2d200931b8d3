package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/app"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/partition"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// TestPartitionsJobCreatesAheadAndWarnsOfDefaultRows: the partitions job runs
// when the app starts and creates, for every partitioned table, the month the
// app's clock is in and partition.Ahead months after it; run again, it
// creates nothing. A row that lands in a DEFAULT partition (no month
// partition for its time) is logged as a warning naming the table.
func TestPartitionsJobCreatesAheadAndWarnsOfDefaultRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewRunning(time.Date(2049, 10, 20, 9, 0, 0, 0, bizday.Zone))
	e := apptest.New(t, apptest.WithClock(clk))
	tables, err := partition.Tables(ctx, e.Pool)
	if err != nil || len(tables) == 0 {
		t.Fatalf("tables %v, %v", tables, err)
	}
	months := []string{"204910", "204911", "204912", "205001"}
	count := func() int {
		var n int
		if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_class c, unnest($1::text[]) t, unnest($2::text[]) m
			WHERE c.relname = t || '_p' || m`, tables, months).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); count() != len(tables)*len(months); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d partitions for October 2049 to January 2050 after 30 s", count(), len(tables)*len(months))
		}
	}
	var beyond int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname LIKE 'order_events_p205002'`).Scan(&beyond); err != nil || beyond != 0 {
		t.Fatalf("February 2050 made too (%d, %v): the job goes %d months ahead", beyond, err, partition.Ahead)
	}

	// An order created in 2060 by the clock: its first event is in DEFAULT.
	clk.Set(time.Date(2060, 1, 1, 9, 0, 0, 0, bizday.Zone))
	if r := e.Do(t, "POST", "/v1/orders", e.Portal, `{"lines":[{"service":"A-FEE","agency":"AG-A","amount":200000}],
		"payer":{"name":"An","email":"an@example.vn"},"description":"x"}`, "Idempotency-Key", "far"); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	clk.Set(time.Date(2049, 10, 20, 9, 0, 0, 0, bizday.Zone))
	if _, err := e.App.River.Insert(ctx, app.PartitionsArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		warned := false
		for _, r := range e.Logs(t) {
			if r["level"] == "WARN" && r["table"] == "order_events" && r["msg"] == "partitions: rows in the DEFAULT partition (outside every month partition)" {
				warned = true
			}
		}
		if warned {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no warning of the row in order_events_default after 30 s")
		}
	}
	if n := count(); n != len(tables)*len(months) {
		t.Fatalf("%d partitions after the second run, want %d", n, len(tables)*len(months))
	}
}
