package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// Attempts started together are written together, each only while its order
// is open, each with its event; a closed order's attempt gets ErrNotOpen.
func TestAttemptWriterBatch(t *testing.T) {
	t.Parallel()
	for _, maxOpen := range []int{0, 5} {
		t.Run(fmt.Sprintf("max open %d", maxOpen), func(t *testing.T) {
			t.Parallel()
			testAttemptWriterBatch(t, maxOpen)
		})
	}
}

func testAttemptWriterBatch(t *testing.T, maxOpen int) {
	pool := pgtest.New(t)
	ctx := context.Background()
	w := newAttemptWriter(pool, slog.New(slog.DiscardHandler), Config{}, maxOpen)
	t.Cleanup(w.queue.Close)
	var jobs []attemptJob
	var orders []uuid.UUID
	for range 4 {
		o, _, _ := openAttempt(t, pool, "AG-A")
		orders = append(orders, o)
		now := time.Now().UTC().Truncate(time.Microsecond)
		a := Attempt{ID: uuid.Must(uuid.NewV7()), OrderID: o, Gateway: "fakepay", Method: "card",
			GatewayRef: "NEW-" + o.String()[:12], Currency: "VND", Amount: vnd(200000), Status: AttemptPending,
			CreatedBy: "citizen", CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
		jobs = append(jobs, attemptJob{a: a, event: []byte(`{"n":1}`)})
	}
	if _, err := pool.Exec(ctx, `UPDATE orders SET status = 'cancelled' WHERE id = $1`, orders[2]); err != nil {
		t.Fatal(err)
	}
	res := w.queue.WriteBatch(jobs)
	for i, j := range jobs {
		err := res[i].Err
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

// With a cap, attempts of one order in one batch count each other: an order
// with one open attempt (and one expired, which does not count) and a cap of
// 3 takes two of four new ones; the others get a *TooManyAttemptsError
// saying to retry when the open attempt expires.
func TestAttemptWriterCapsOpenAttemptsInABatch(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	w := newAttemptWriter(pool, slog.New(slog.DiscardHandler), Config{}, 3)
	t.Cleanup(w.queue.Close)
	order, _, _ := openAttempt(t, pool, "AG-A") // pending, expires in 15 minutes
	if _, err := pool.Exec(ctx, `INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, currency,
		amount, status, created_by, created_at, updated_at, expires_at) VALUES ($1, $2, 'fakepay', 'card', 'OLD', 'VND',
		200000, 'pending', 'test', now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 minute')`,
		uuid.New(), order); err != nil {
		t.Fatal(err)
	}
	var jobs []attemptJob
	for i := range 4 {
		now := time.Now().UTC().Truncate(time.Microsecond)
		a := Attempt{ID: uuid.Must(uuid.NewV7()), OrderID: order, Gateway: "fakepay", Method: "card",
			GatewayRef: fmt.Sprintf("NEW-%d", i), Currency: "VND", Amount: vnd(200000), Status: AttemptPending,
			CreatedBy: "citizen", CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
		jobs = append(jobs, attemptJob{a: a, event: []byte(`{}`)})
	}
	res := w.queue.WriteBatch(jobs)
	for i := range jobs {
		err := res[i].Err
		var tooMany *TooManyAttemptsError
		switch {
		case i < 2 && err != nil:
			t.Errorf("attempt %d: %v", i, err)
		case i >= 2 && (!errors.As(err, &tooMany) || !errors.Is(err, ErrTooManyAttempts)):
			t.Errorf("attempt %d: %v, want ErrTooManyAttempts", i, err)
		case i >= 2 && (tooMany.RetryAfter() < 14*time.Minute || tooMany.RetryAfter() > 15*time.Minute):
			t.Errorf("attempt %d: retry after %s, want when the open attempt expires (~15m)", i, tooMany.RetryAfter())
		}
	}
	if n := rowCount(t, pool, `SELECT count(*) FROM payment_attempts WHERE order_id = $1 AND status = 'pending'
		AND expires_at > now()`, order); n != 3 {
		t.Errorf("%d open attempts, want 3", n)
	}
}
