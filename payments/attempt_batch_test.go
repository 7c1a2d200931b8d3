package payments

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/civicpay/civicpay/internal/pgtest"
)

// Attempts started together are written together, each only while its order
// is open, each with its event; a closed order's attempt gets ErrNotOpen.
func TestAttemptWriterBatch(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	w := newAttemptWriter(pool, slog.New(slog.DiscardHandler), nil)
	var jobs []*attemptJob
	var orders []uuid.UUID
	for range 4 {
		o, _, _ := openAttempt(t, pool, "AG-A")
		orders = append(orders, o)
		now := time.Now().UTC().Truncate(time.Microsecond)
		a := Attempt{ID: uuid.Must(uuid.NewV7()), OrderID: o, Gateway: "fakepay", Method: "card",
			GatewayRef: "NEW-" + o.String()[:12], Currency: "VND", Amount: vnd(200000), Status: AttemptPending,
			CreatedBy: "citizen", CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
		jobs = append(jobs, &attemptJob{a: a, event: []byte(`{"n":1}`), res: make(chan error, 1)})
	}
	if _, err := pool.Exec(ctx, `UPDATE orders SET status = 'cancelled' WHERE id = $1`, orders[2]); err != nil {
		t.Fatal(err)
	}
	w.write(jobs)
	for i, j := range jobs {
		err := <-j.res
		if (i == 2) != errors.Is(err, ErrNotOpen) || (i != 2 && err != nil) {
			t.Fatalf("attempt %d: %v", i, err)
		}
		want := 1
		if i == 2 {
			want = 0
		}
		if n := rowCount(t, pool, `SELECT count(*) FROM payment_attempts WHERE id = $1`, j.a.ID); n != want {
			t.Errorf("attempt %d: %d rows, want %d", i, n, want)
		}
		if n := rowCount(t, pool, `SELECT count(*) FROM order_events WHERE order_id = $1 AND type = 'attempt.created'
			AND data->>'n' = '1'`, j.a.OrderID); n != want {
			t.Errorf("attempt %d: %d attempt.created events, want %d", i, n, want)
		}
	}
}
