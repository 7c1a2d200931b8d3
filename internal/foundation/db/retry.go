package db

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/internal/foundation/metrics"
)

// MaxTries bounds how many times Retry and its kin run an operation in all.
const MaxTries = 3

// retryBase is the backoff before the first retry; it doubles for each
// next one, and each wait is drawn in [d/2, d) so that the transactions
// that collided do not collide again in step.
const retryBase = 20 * time.Millisecond

// Retry runs fn, an idempotent operation named op (the `op` label of
// civicpay_db_retries_total), and runs it again — at most MaxTries times in
// all, after a jittered backoff, while ctx lasts — when PostgreSQL says it
// may: the error's Class is RolledBack or Lost. Idempotent means that
// running it again after a lost connection, whose outcome is unknown,
// does no harm: an order create under its Idempotency-Key, a gateway result
// (recorded once), a ledger entry under its key. fn must have no effect
// outside the database that a second run would repeat.
//
// The error returned is the last one, unchanged.
func Retry(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return retry(ctx, op, fn, func(c Class, _ bool) bool { return c == RolledBack || c == Lost })
}

// RetryRolledBack is Retry for an operation that is not idempotent: it runs
// again only when PostgreSQL did nothing (RolledBack), never after a lost
// connection, whose statement may have been done.
func RetryRolledBack(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return retry(ctx, op, fn, func(c Class, _ bool) bool { return c == RolledBack })
}

// Beginner starts transactions: a *pgxpool.Pool, a *pgx.Conn, or a pgx.Tx
// (a savepoint).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Tx runs fn in a transaction begun on b, committed when fn returns nil
// (rolled back otherwise), and runs the whole transaction again when
// PostgreSQL says it did not commit: Class RolledBack, or a connection lost
// before COMMIT was sent (the server rolled it back). A connection lost
// during COMMIT leaves the outcome unknown: Tx then returns the error and
// does not run fn again, so fn need not be idempotent. fn may run several
// times: it must have no effect outside tx (reset what it sets on each run).
func Tx(ctx context.Context, b Beginner, op string, fn func(pgx.Tx) error) error {
	return retry(ctx, op, inTx(b, fn), func(c Class, atCommit bool) bool {
		return c == RolledBack || c == Lost && !atCommit
	})
}

// IdempotentTx is Tx for an idempotent transaction: it also runs again
// after a connection lost during COMMIT.
func IdempotentTx(ctx context.Context, b Beginner, op string, fn func(pgx.Tx) error) error {
	return retry(ctx, op, inTx(b, fn), func(c Class, _ bool) bool { return c == RolledBack || c == Lost })
}

// commitError marks an error COMMIT returned.
type commitError struct{ err error }

func (e *commitError) Error() string { return e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

func inTx(b Beginner, fn func(pgx.Tx) error) func(context.Context) error {
	return func(ctx context.Context) error {
		tx, err := b.Begin(ctx)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return &commitError{err}
		}
		return nil
	}
}

func retry(ctx context.Context, op string, fn func(context.Context) error, may func(c Class, atCommit bool) bool) error {
	for try := 1; ; try++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		var ce *commitError
		atCommit := errors.As(err, &ce)
		if atCommit {
			err = ce.err
		}
		class, reason := Classify(err)
		if try >= MaxTries || ctx.Err() != nil || !may(class, atCommit) {
			return err
		}
		metrics.DBRetries.WithLabelValues(op, reason).Inc()
		d := retryBase << (try - 1)
		t := time.NewTimer(d/2 + rand.N(d/2))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
