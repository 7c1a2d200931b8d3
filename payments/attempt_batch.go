package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/groupcommit"
)

// attemptWriter writes new attempts with their "attempt.created" events by
// group commit: attempts started together go to PostgreSQL in one statement.
// Each is written only while its order is open; a batch that fails is written
// again one attempt at a time, where each has its own answer.
type attemptWriter struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	queue *groupcommit.Queue[*attemptJob]
}

type attemptJob struct {
	a     Attempt
	event json.RawMessage
	res   chan error
}

func newAttemptWriter(pool *pgxpool.Pool, log *slog.Logger, onBatch func(string, int)) *attemptWriter {
	w := &attemptWriter{pool: pool, log: log}
	w.queue = groupcommit.New(writers, 64, observed("attempts", onBatch, w.write))
	return w
}

// insert writes a and its first event, or fails with ErrNotOpen if the order
// is not open.
func (w *attemptWriter) insert(ctx context.Context, a Attempt, event any) error {
	raw, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("order event attempt.created: %w", err)
	}
	j := &attemptJob{a: a, event: raw, res: make(chan error, 1)}
	if err := w.queue.Add(ctx, j); err != nil {
		return err
	}
	return <-j.res // once queued it is written (or not) whatever the caller does
}

func (w *attemptWriter) write(jobs []*attemptJob) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	if len(jobs) > 1 {
		err := w.insertAll(ctx, jobs)
		if err == nil {
			return
		}
		w.log.Warn("attempt batch failed, writing one by one", "attempts", len(jobs), "err", err)
	}
	for _, j := range jobs {
		if err := w.insertAll(ctx, []*attemptJob{j}); err != nil {
			j.res <- err
		}
	}
}

// insertAll writes jobs in one statement and answers each, or answers none and
// returns the statement's error.
func (w *attemptWriter) insertAll(ctx context.Context, jobs []*attemptJob) error {
	written, err := w.insertMany(ctx, jobs)
	if err != nil {
		return fmt.Errorf("insert attempts: %w", err)
	}
	for _, j := range jobs {
		if written[j.a.ID] {
			j.res <- nil
		} else {
			j.res <- fmt.Errorf("%w: it closed while the gateway was called", ErrNotOpen)
		}
	}
	return nil
}

// insertMany writes new pending attempts and their "attempt.created" events
// in one statement, each only while its order is open, and returns the ids
// of those written.
func (w *attemptWriter) insertMany(ctx context.Context, jobs []*attemptJob) (map[uuid.UUID]bool, error) {
	n := len(jobs)
	var (
		ids, orders                    = make([]uuid.UUID, n), make([]uuid.UUID, n)
		gws, methods, refs, currencies = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		redirects, qrs, actors         = make([]string, n), make([]string, n), make([]string, n)
		amounts                        = make([]decimal.Decimal, n)
		created, expires               = make([]time.Time, n), make([]time.Time, n)
		events                         = make([]json.RawMessage, n)
	)
	for i, j := range jobs {
		a := j.a
		ids[i], orders[i], gws[i], methods[i], refs[i], currencies[i] = a.ID, a.OrderID, a.Gateway, string(a.Method), a.GatewayRef, a.Currency
		redirects[i], qrs[i], actors[i], amounts[i] = a.RedirectURL, a.QRPayload, a.CreatedBy, a.Amount
		created[i], expires[i], events[i] = a.CreatedAt, a.ExpiresAt, j.event
	}
	rows, err := w.pool.Query(ctx, `WITH input AS MATERIALIZED (
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[],
			$8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::jsonb[])
			AS t(id, order_id, gateway, method, gateway_ref, currency, amount, redirect_url, qr_payload, created_by,
				created_at, expires_at, event)
	), a AS (
		INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, currency,
			amount, status, redirect_url, qr_payload, created_by, created_at, updated_at, expires_at)
		SELECT id, order_id, gateway, method, gateway_ref, currency, amount, 'pending', nullif(redirect_url, ''),
			nullif(qr_payload, ''), created_by, created_at, created_at, expires_at
		FROM input i
		-- A scalar subquery: a lookup by id per attempt, whatever plan is kept.
		WHERE (SELECT o.status FROM orders o WHERE o.id = i.order_id) = 'open'
		RETURNING id
	), ev AS (
		INSERT INTO order_events (order_id, type, actor, data)
		SELECT i.order_id, 'attempt.created', i.created_by, i.event FROM input i JOIN a ON a.id = i.id
	)
	SELECT id FROM a`, ids, orders, gws, methods, refs, currencies, amounts, redirects, qrs, actors, created, expires, events)
	if err != nil {
		return nil, err
	}
	written, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]bool, len(written))
	for _, id := range written {
		out[id] = true
	}
	return out, nil
}
