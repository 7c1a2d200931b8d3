package reconciliation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/foundation/db"
)

// ErrPruned: what the request needs was pruned by retention (a raw file's
// bytes, a day's staging rows).
var ErrPruned = errors.New("pruned by retention")

// PruneStaging deletes the staging rows of closed business days before
// before (a date): the settlement lines of the day's files, the bank entries
// booked that day, and the matched items of the day's runs. A day is pruned
// only when it is closed and none of its exceptions is open; it is then
// recorded in recon_pruned_days, and is not reconciled again (enqueueRun
// refuses it). One day per transaction; progress is told the running count
// of rows deleted. It may run twice, or on two instances at once: a day is
// pruned once (its row in recon_pruned_days is taken first).
func PruneStaging(ctx context.Context, pool *pgxpool.Pool, before time.Time, progress func(int)) (int, error) {
	n, err := db.InBatches(ctx, pool, func(tx pgx.Tx) (int, error) {
		var day time.Time
		err := tx.QueryRow(ctx, `SELECT c.day FROM ledger_closed_days c
			 WHERE c.day < $1
			   AND NOT EXISTS (SELECT 1 FROM recon_pruned_days p WHERE p.day = c.day)
			   AND NOT EXISTS (SELECT 1 FROM recon_exceptions x WHERE x.business_date = c.day AND x.status = 'open')
			   AND NOT EXISTS (SELECT 1 FROM recon_runs r WHERE r.business_date = c.day AND r.status IN ('queued', 'running'))
			 ORDER BY c.day LIMIT 1`, before).Scan(&day)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		// Taken first: a second pruner of the same day waits here, then finds it done.
		tag, err := tx.Exec(ctx, `INSERT INTO recon_pruned_days (day, rows) VALUES ($1, 0) ON CONFLICT DO NOTHING`, day)
		if err != nil || tag.RowsAffected() == 0 {
			return 0, err
		}
		var rows int64
		for _, q := range []string{
			`DELETE FROM recon_settlement_lines WHERE file_id IN (SELECT id FROM recon_files WHERE business_date = $1)`,
			`DELETE FROM recon_bank_entries WHERE booking_date = $1`,
			`DELETE FROM recon_items WHERE class = 'matched' AND run_id IN (SELECT id FROM recon_runs WHERE business_date = $1)`,
		} {
			tag, err := tx.Exec(ctx, q, day)
			if err != nil {
				return 0, err
			}
			rows += tag.RowsAffected()
		}
		if _, err := tx.Exec(ctx, `UPDATE recon_pruned_days SET rows = $2 WHERE day = $1`, day, rows); err != nil {
			return 0, err
		}
		return int(max(rows, 1)), nil // a day with nothing staged still counts as done
	}, progress)
	if err != nil {
		return n, fmt.Errorf("reconciliation: prune staging: %w", err)
	}
	return n, nil
}

// PruneRawFiles deletes the bytes of statement and settlement files
// received before before, batch files per transaction, keeping each file's
// record (hash, size, totals, who brought it) with the time its bytes went;
// GET /v1/statements/{id}/raw then answers 410. progress is told the running
// count of files.
func PruneRawFiles(ctx context.Context, pool *pgxpool.Pool, before time.Time, batch int, progress func(int)) (int, error) {
	n, err := db.InBatches(ctx, pool, func(tx pgx.Tx) (int, error) {
		rows, err := tx.Query(ctx, `UPDATE recon_files SET pruned_at = now() WHERE id IN (
			SELECT id FROM recon_files WHERE received_at < $1 AND pruned_at IS NULL
			 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id`, before, batch)
		if err != nil {
			return 0, err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(ids) == 0 {
			return 0, err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recon_file_chunks WHERE file_id = ANY($1)`, ids); err != nil {
			return 0, err
		}
		return len(ids), nil
	}, progress)
	if err != nil {
		return n, fmt.Errorf("reconciliation: prune raw files: %w", err)
	}
	return n, nil
}

// refusePruned refuses to queue a run of a day whose staging was pruned.
func refusePruned(ctx context.Context, tx pgx.Tx, day time.Time) error {
	var pruned bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM recon_pruned_days WHERE day = $1)`, day).Scan(&pruned); err != nil {
		return fmt.Errorf("reconciliation: pruned day check: %w", err)
	}
	if pruned {
		return fmt.Errorf("reconciliation: %s: its staging rows were %w and it is closed: it is not reconciled again", dayString(day), ErrPruned)
	}
	return nil
}
