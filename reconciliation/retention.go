package reconciliation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/partition"
)

// ErrPruned: what the request needs was pruned by retention (a raw file's
// bytes, a day's staging rows).
var ErrPruned = errors.New("pruned by retention")

// PruneStaging deletes the staging rows of closed business days before
// before (a date): the settlement lines of the day's files, the bank entries
// booked that day, and the matched items of the day's runs. A day is pruned
// only when it is closed and none of its exceptions is open; it is then
// recorded in recon_pruned_days, and is not reconciled again (enqueueRun
// refuses it). progress is told the running count of rows deleted. It may
// run twice, or on two instances at once: a day is pruned once (its row in
// recon_pruned_days is taken first).
//
// The staging tables are partitioned by month of staged_at (migration
// 00033). First, month by month (staged before before), the month's
// partitions of both tables are dropped whole when every row in them
// belongs to a day that is pruned or may be pruned now, in one transaction
// with the pruning of those days (their rows in other months deleted).
// Then the remaining days are pruned one per transaction, row by row.
func PruneStaging(ctx context.Context, pool *pgxpool.Pool, before time.Time, progress func(int)) (int, error) {
	done := 0
	tell := func(n int) {
		if progress != nil {
			progress(n)
		}
	}
	months := map[time.Time][]stagingPart{}
	for _, t := range stagingTables {
		parts, err := partition.Months(ctx, pool, t.name)
		if err != nil {
			return done, fmt.Errorf("reconciliation: prune staging: %w", err)
		}
		for _, p := range parts {
			if !p.To.After(before) {
				months[p.From] = append(months[p.From], stagingPart{t, p})
			}
		}
	}
	starts := make([]time.Time, 0, len(months))
	for m := range months {
		starts = append(starts, m)
	}
	slices.SortFunc(starts, time.Time.Compare)
	for _, m := range starts {
		n, err := pruneMonth(ctx, pool, months[m], before)
		if err != nil {
			return done, fmt.Errorf("reconciliation: prune staging: %w", err)
		}
		if n > 0 {
			done += int(n)
			tell(done)
		}
	}
	n, err := db.InBatches(ctx, pool, func(tx pgx.Tx) (int, error) {
		var day time.Time
		err := tx.QueryRow(ctx, `SELECT c.day FROM ledger_closed_days c
			 WHERE c.day < $1 AND `+prunableDay+`
			 ORDER BY c.day LIMIT 1`, before).Scan(&day)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		rows, claimed, err := pruneDay(ctx, tx, day, skip{})
		if err != nil || !claimed {
			return 0, err
		}
		return int(max(rows, 1)), nil // a day with nothing staged still counts as done
	}, func(n int) { tell(done + n) })
	if err != nil {
		return done + n, fmt.Errorf("reconciliation: prune staging: %w", err)
	}
	return done + n, nil
}

// prunableDay is the condition on a closed day c.day that may be pruned now
// and is not yet.
const prunableDay = `NOT EXISTS (SELECT 1 FROM recon_pruned_days p WHERE p.day = c.day)
	AND NOT EXISTS (SELECT 1 FROM recon_exceptions x WHERE x.business_date = c.day AND x.status = 'open')
	AND NOT EXISTS (SELECT 1 FROM recon_runs r WHERE r.business_date = c.day AND r.status IN ('queued', 'running'))`

// stagingTable is a partitioned staging table and how its rows name their
// business day: days is a query, over the partition %s, of (day, rows); a
// row with no day (a bank entry not booked) is never pruned.
type stagingTable struct {
	name string
	days string
}

var stagingTables = []stagingTable{
	{"recon_settlement_lines", `SELECT f.business_date, count(*) FROM %s l LEFT JOIN recon_files f ON f.id = l.file_id GROUP BY 1`},
	{"recon_bank_entries", `SELECT booking_date, count(*) FROM %s GROUP BY 1`},
}

type stagingPart struct {
	table stagingTable
	part  partition.Part
}

// skip is the staging rows a day's deletes leave out: those of the listed
// tables staged in [from, to), a month about to be dropped whole.
type skip struct {
	tables   map[string]bool
	from, to time.Time
}

func (s skip) bounds(table string) (time.Time, time.Time) {
	if !s.tables[table] {
		return time.Time{}, time.Time{} // an empty range: nothing left out
	}
	return s.from, s.to
}

// pruneDay claims day in recon_pruned_days (claimed is false when another
// pruner has it) and deletes its staging rows but those sk leaves out,
// answering how many it deleted.
func pruneDay(ctx context.Context, tx pgx.Tx, day time.Time, sk skip) (rows int64, claimed bool, err error) {
	// Taken first: a second pruner of the same day waits here, then finds it done.
	tag, err := tx.Exec(ctx, `INSERT INTO recon_pruned_days (day, rows) VALUES ($1, 0) ON CONFLICT DO NOTHING`, day)
	if err != nil || tag.RowsAffected() == 0 {
		return 0, false, err
	}
	lf, lt := sk.bounds("recon_settlement_lines")
	bf, bt := sk.bounds("recon_bank_entries")
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM recon_settlement_lines WHERE file_id IN (SELECT id FROM recon_files WHERE business_date = $1)
			AND NOT (staged_at >= $2 AND staged_at < $3)`, []any{day, lf, lt}},
		{`DELETE FROM recon_bank_entries WHERE booking_date = $1 AND NOT (staged_at >= $2 AND staged_at < $3)`, []any{day, bf, bt}},
		{`DELETE FROM recon_items WHERE class = 'matched' AND run_id IN (SELECT id FROM recon_runs WHERE business_date = $1)`, []any{day}},
	} {
		tag, err := tx.Exec(ctx, q.sql, q.args...)
		if err != nil {
			return 0, false, err
		}
		rows += tag.RowsAffected()
	}
	if _, err := tx.Exec(ctx, `UPDATE recon_pruned_days SET rows = $2 WHERE day = $1`, day, rows); err != nil {
		return 0, false, err
	}
	return rows, true, nil
}

// pruneMonth drops, in one transaction, a month's partitions of the staging
// tables (parts, all of one month) when every row in them belongs to a day
// that is pruned already or may be pruned now (closed, before before, no
// open exception, no run queued or running), and prunes those days with
// them; a partition holding a row with no day stays, and its month's rows
// are left to the day by day pass. It answers the rows gone. Behind a lock
// it cannot have within partition.LockTimeout it does nothing (a later run
// drops the month).
func pruneMonth(ctx context.Context, pool *pgxpool.Pool, parts []stagingPart, before time.Time) (int64, error) {
	var total int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		total = 0
		for _, sp := range parts { // in stagingTables' order: the same for every pruner
			if err := partition.Lock(ctx, tx, sp.table.name); err != nil {
				return err
			}
		}
		// counts reads the rows of each droppable partition by day.
		counts := func(parts []stagingPart) ([]stagingPart, map[time.Time]int64, error) {
			var droppable []stagingPart
			days := map[time.Time]int64{}
		next:
			for _, sp := range parts {
				exists, err := partition.Exists(ctx, tx, sp.part)
				if err != nil {
					return nil, nil, err
				}
				if !exists {
					continue
				}
				rows, err := tx.Query(ctx, fmt.Sprintf(sp.table.days, pgx.Identifier{sp.part.Name}.Sanitize()))
				if err != nil {
					return nil, nil, err
				}
				these := map[time.Time]int64{}
				for rows.Next() {
					var day *time.Time
					var n int64
					if err := rows.Scan(&day, &n); err != nil {
						rows.Close()
						return nil, nil, err
					}
					if day == nil {
						rows.Close()
						continue next
					}
					these[*day] += n
				}
				if err := rows.Err(); err != nil {
					return nil, nil, err
				}
				for d, n := range these {
					days[d] += n
				}
				droppable = append(droppable, sp)
			}
			return droppable, days, nil
		}
		droppable, days, err := counts(parts)
		if err != nil || len(droppable) == 0 {
			return err
		}
		var claim []time.Time
		for d := range days {
			var pruned, prunable bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM recon_pruned_days WHERE day = $1),
				EXISTS (SELECT 1 FROM ledger_closed_days c WHERE c.day = $1 AND c.day < $2 AND `+prunableDay+`)`,
				d, before).Scan(&pruned, &prunable); err != nil {
				return err
			}
			if !pruned && !prunable {
				return nil
			}
			if !pruned {
				claim = append(claim, d)
			}
		}
		sk := skip{tables: map[string]bool{}, from: droppable[0].part.From, to: droppable[0].part.To}
		for _, sp := range droppable {
			sk.tables[sp.table.name] = true
		}
		claimed := map[time.Time]bool{}
		for _, d := range claim {
			n, ok, err := pruneDay(ctx, tx, d, sk)
			if err != nil {
				return err
			}
			if ok {
				claimed[d] = true
				total += n
			}
		}
		// Counted again now the claims are settled: a pruner that had one of
		// the days before us has deleted its rows here; nothing else writes
		// rows staged in a past month.
		_, days, err = counts(droppable)
		if err != nil {
			return err
		}
		for d, n := range days {
			if !claimed[d] {
				continue
			}
			total += n
			if _, err := tx.Exec(ctx, `UPDATE recon_pruned_days SET rows = rows + $2 WHERE day = $1`, d, n); err != nil {
				return err
			}
		}
		for _, sp := range droppable {
			if err := partition.Drop(ctx, tx, sp.table.name, sp.part); err != nil {
				return err
			}
		}
		return nil
	})
	if partition.LockTimedOut(err) {
		return 0, nil
	}
	return total, err
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
func refusePruned(ctx context.Context, tx dbtx, day time.Time) error {
	var pruned bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM recon_pruned_days WHERE day = $1)`, day).Scan(&pruned); err != nil {
		return fmt.Errorf("reconciliation: pruned day check: %w", err)
	}
	if pruned {
		return fmt.Errorf("reconciliation: %s: its staging rows were %w and it is closed: it is not reconciled again", dayString(day), ErrPruned)
	}
	return nil
}
