package payments

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/groupcommit"
)

// attemptWriter writes new attempts with their "attempt.created" events by
// group commit: attempts started together go to PostgreSQL in one round trip.
// Each is written only while its order is open and, with a cap (maxOpen > 0),
// has fewer than maxOpen open attempts, counted with the order's row locked;
// a batch that fails is written again one attempt at a time (groupcommit),
// where each has its own answer.
type attemptWriter struct {
	pool    *pgxpool.Pool
	queue   *groupcommit.Queue[attemptJob, struct{}]
	maxOpen int
}

type attemptJob struct {
	a     Attempt
	event json.RawMessage
}

// newAttemptWriter starts the attempt writers; queue.Close stops them.
func newAttemptWriter(pool *pgxpool.Pool, log *slog.Logger, cfg Config, maxOpen int) *attemptWriter {
	w := &attemptWriter{pool: pool, maxOpen: maxOpen}
	w.queue = groupcommit.New(queueOptions("attempts", 64, log, cfg), w.write)
	return w
}

// insert writes a and its first event, or fails with ErrNotOpen if the order
// is not open, or a *TooManyAttemptsError if it has no room for one more.
func (w *attemptWriter) insert(ctx context.Context, a Attempt, event any) error {
	raw, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("order event attempt.created: %w", err)
	}
	_, err = w.queue.Do(ctx, attemptJob{a: a, event: raw})
	return err
}

// write writes jobs in one statement and answers each, or answers none and
// returns the statement's error.
func (w *attemptWriter) write(ctx context.Context, jobs []attemptJob) ([]groupcommit.Result[struct{}], error) {
	var outcomes map[uuid.UUID]insertOutcome
	insert := func(ctx context.Context) (err error) {
		outcomes, err = w.insertMany(ctx, jobs)
		return err
	}
	var err error
	if len(jobs) == 1 {
		// Alone (groupcommit's fallback, or a batch of one), an attempt runs again
		// only where PostgreSQL says nothing was written (db.RetryRolledBack):
		// written twice it would clash with itself.
		err = db.RetryRolledBack(ctx, "payments.insert_attempt", insert)
	} else {
		err = insert(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("insert %d attempts: %w", len(jobs), err)
	}
	out := make([]groupcommit.Result[struct{}], len(jobs))
	for i, j := range jobs {
		switch o := outcomes[j.a.ID]; {
		case o.written:
		case !o.open:
			out[i].Err = fmt.Errorf("%w: it closed while the gateway was called", ErrNotOpen)
		default:
			var after time.Duration
			if o.freesAt != nil {
				after = o.freesAt.Sub(j.a.CreatedAt)
			}
			out[i].Err = &TooManyAttemptsError{Max: w.maxOpen, After: after}
		}
	}
	return out, nil
}

// insertOutcome is what became of one attempt of a batch.
type insertOutcome struct {
	written, open bool
	freesAt       *time.Time // when the order's oldest open attempt expires
}

// insertAttemptsSQL is insertMany's statement: one row per attempt (id,
// written, order open, when the order's oldest open attempt expires).
// $1..$13 the attempts' columns, $14 the cap on open attempts per order (0:
// none). The order is open by the state table's guard for starting an
// attempt ({{start_attempt_guard}} in the file); its open attempts are read
// through attemptsByKeys ({{attempts_by_keys}}).
var insertAttemptsSQL = strings.NewReplacer(
	"{{start_attempt_guard}}", evStartAttempt.sqlGuard("(SELECT o.status FROM orders o WHERE o.id = i.order_id)"),
	"{{attempts_by_keys}}", attemptsByKeys,
).Replace(insertAttemptsTemplate)

//go:embed sql/insert_attempts.sql
var insertAttemptsTemplate string

// insertMany writes new pending attempts and their "attempt.created" events
// in one statement, each only while its order is open and has room, and
// returns what became of each.
//
// With a cap, the statement follows one that locks the orders (in id order,
// like every path that locks several), in the same implicit transaction (one
// batch, one round trip): it then counts every open attempt committed before
// it, and attempts of one order in the batch count each other in turn, so
// starts racing on one order cannot pass the cap together.
func (w *attemptWriter) insertMany(ctx context.Context, jobs []attemptJob) (map[uuid.UUID]insertOutcome, error) {
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
	b := &pgx.Batch{}
	if w.maxOpen > 0 {
		b.Queue(`SELECT 1 FROM orders WHERE id = ANY($1) ORDER BY id FOR UPDATE`, orders)
	}
	var out map[uuid.UUID]insertOutcome
	b.Queue(insertAttemptsSQL,
		ids, orders, gws, methods, refs, currencies, amounts, redirects, qrs, actors, created, expires, events,
		w.maxOpen).Query(func(rows pgx.Rows) error {
		out = make(map[uuid.UUID]insertOutcome, n)
		var (
			id uuid.UUID
			o  insertOutcome
		)
		_, err := pgx.ForEachRow(rows, []any{&id, &o.written, &o.open, &o.freesAt}, func() error {
			out[id] = o
			o.freesAt = nil // pgx would scan the next row into the same time.Time
			return nil
		})
		return err
	})
	if err := w.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return out, nil
}
