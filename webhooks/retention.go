package webhooks

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/partition"
)

// PruneAttempts deletes the attempt log rows, made before before, of
// deliveries that succeeded, batch rows per transaction; progress is told
// the running count. Events and deliveries stay (an agency may still ask for
// a resend), and so do the attempts of a delivery that failed or is still
// trying. Running it twice, or on two instances at once, deletes each row
// once.
//
// webhook_attempts is partitioned by month of attempted_at (migration
// 00032): a month that ended before before and holds only attempts of
// succeeded deliveries is dropped whole, which costs no row deletes, no
// dead tuples and no vacuum; the rest is deleted row by row.
func PruneAttempts(ctx context.Context, pool *pgxpool.Pool, before time.Time, batch int, progress func(int)) (int, error) {
	done, err := dropAttemptMonths(ctx, pool, before, progress)
	if err != nil {
		return done, err
	}
	n, err := db.InBatches(ctx, pool, func(tx pgx.Tx) (int, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM webhook_attempts WHERE (id, attempted_at) IN (
			SELECT a.id, a.attempted_at FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
			 WHERE a.attempted_at < $1 AND d.state = 'succeeded'
			 ORDER BY a.id LIMIT $2 FOR UPDATE OF a SKIP LOCKED)`, before, batch)
		return int(tag.RowsAffected()), err
	}, func(n int) {
		if progress != nil {
			progress(done + n)
		}
	})
	if err != nil {
		return done + n, fmt.Errorf("webhooks: prune attempts: %w", err)
	}
	return done + n, nil
}

// dropAttemptMonths drops the month partitions of webhook_attempts that
// ended by before and in which every attempt belongs to a succeeded
// delivery (or to none: a delivery deleted with its endpoint).
func dropAttemptMonths(ctx context.Context, pool *pgxpool.Pool, before time.Time, progress func(int)) (int, error) {
	parts, err := partition.Months(ctx, pool, "webhook_attempts")
	if err != nil {
		return 0, fmt.Errorf("webhooks: prune attempts: %w", err)
	}
	done := 0
	for _, p := range parts {
		if p.To.After(before) {
			break
		}
		n, dropped, err := partition.DropIfPrunable(ctx, pool, "webhook_attempts", p,
			func(ctx context.Context, tx pgx.Tx, part string) (rows int64, all bool, err error) {
				var keep int64
				err = tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE d.state IS DISTINCT FROM 'succeeded')
					FROM `+part+` a LEFT JOIN webhook_deliveries d ON d.id = a.delivery_id`).Scan(&rows, &keep)
				return rows, keep == 0, err
			})
		if err != nil {
			return done, fmt.Errorf("webhooks: prune attempts: %w", err)
		}
		if dropped {
			done += int(n)
			if progress != nil {
				progress(done)
			}
		}
	}
	return done, nil
}
