package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
)

// Rollups: the revenue rollups (ledger_revenue_rollups per business day and
// ledger_revenue_rollups_monthly per month of business days, each per agency,
// service, channel and currency) and the daily balance checkpoints
// (ledger_balance_checkpoints, per account and business day) — and the
// revenue rollups without the channel that the database sums from the first
// two (migration 00039's triggers) — cover exactly
// the postings with xid below one horizon, ledger_rollup_horizon.up_to_xid.
// RollUp moves that horizon forward the way SnapshotBalances does for
// snapshots: to the lowest xid still running (db.HorizonSQL), below which
// every transaction has ended, so no posting can appear below it later,
// whatever the commit order or the effective time a posting carries (a
// payment the gateway reports a day late lands in an old day's rows). Each
// run adds, in one transaction, the postings in [old horizon, new horizon):
// each rollup and checkpoint row changes at most once per run, never per
// posting (the hot-account rule, doc.go), and the horizon moves in the same
// transaction, so a reader that reads the horizon and the rows in one
// snapshot adds exactly the postings at or above the horizon (the live tail)
// and never counts one twice.

// bizDaySQL is the business day (date) of a posting's effective time.
const bizDaySQL = `(p.effective_at AT TIME ZONE INTERVAL '` + bizday.SQLOffset + `')::date`

// newPostingsSQL joins the postings recorded by transactions with xid in
// [$1, $2) through the entries' xid index (postings have none on xid alone),
// each entry's postings in its month's partition (by id alone, every
// month's partition would be looked into for every entry).
const newPostingsSQL = `ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id AND p.effective_at = e.effective_at
	WHERE e.xid >= $1 AND e.xid < $2`

// revenueSumsSQL are the revenue sums over postings p, in Revenue's order:
// gross, refunds, adjustments, net, postings.
const revenueSumsSQL = `coalesce(sum(greatest(-p.net, 0)) FILTER (WHERE p.channel <> '` + AdjustmentChannel + `'), 0),
	coalesce(sum(greatest(p.net, 0)) FILTER (WHERE p.channel <> '` + AdjustmentChannel + `'), 0),
	coalesce(-sum(p.net) FILTER (WHERE p.channel = '` + AdjustmentChannel + `'), 0),
	-sum(p.net), count(*)`

// bizMonthSQL is the month of a posting's business day, as its first day.
const bizMonthSQL = `date_trunc('month', ` + bizDaySQL + `)::date`

// revenueRollups are the revenue rollup tables: per business day, and per
// month of business days (what Revenue reads when it does not group by day).
var revenueRollups = []struct {
	table, key, keySQL string
}{
	{"ledger_revenue_rollups", "day", bizDaySQL},
	{"ledger_revenue_rollups_monthly", "month", bizMonthSQL},
}

// rollRevenueSQL adds the revenue postings in [$1, $2) to their rows of a
// revenue rollup table.
func rollRevenueSQL(table, key, keySQL string) string {
	return `
INSERT INTO ` + table + ` AS r (` + key + `, agency, service, channel, currency, gross, refunds, adjustments, net, postings)
SELECT ` + keySQL + `, split_part(p.account_code, ':', 2), p.service_code, p.channel, p.currency, ` + revenueSumsSQL + `
FROM ` + newPostingsSQL + ` AND p.service_code IS NOT NULL AND p.account_code LIKE 'agency:%:collected'
GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (` + key + `, agency, service, channel, currency) DO UPDATE SET
	gross = r.gross + EXCLUDED.gross, refunds = r.refunds + EXCLUDED.refunds,
	adjustments = r.adjustments + EXCLUDED.adjustments, net = r.net + EXCLUDED.net,
	postings = r.postings + EXCLUDED.postings`
}

// rollCheckpointsSQL adds the postings in [$1, $2) to the checkpoints: a
// checkpoint is cumulative, so a posting effective on day d changes its
// account's checkpoint of d (made if missing, from the latest one before it)
// and every later one. d holds the new postings' sums per account and day; k
// the checkpoints that change, with their part of the new sums; each is the
// latest stored checkpoint at or before its day plus the new postings up to
// its day.
const rollCheckpointsSQL = `
WITH d AS (
	SELECT p.account_code, ` + bizDaySQL + ` AS day, sum(p.net) AS net, count(*) AS n
	FROM ` + newPostingsSQL + `
	GROUP BY 1, 2
), k AS (
	SELECT account_code, day, net, n FROM d
	UNION ALL
	SELECT c.account_code, c.day, 0, 0 FROM ledger_balance_checkpoints c
	JOIN (SELECT account_code, min(day) AS first FROM d GROUP BY 1) f ON f.account_code = c.account_code AND c.day > f.first
), s AS (
	SELECT account_code, day, sum(sum(net)) OVER w AS net, sum(sum(n)) OVER w AS n
	FROM k GROUP BY account_code, day
	WINDOW w AS (PARTITION BY account_code ORDER BY day)
)
INSERT INTO ledger_balance_checkpoints AS c (account_code, day, net, postings)
SELECT s.account_code, s.day, coalesce(o.net, 0) + s.net, coalesce(o.postings, 0) + s.n
FROM s LEFT JOIN LATERAL (
	SELECT net, postings FROM ledger_balance_checkpoints o
	WHERE o.account_code = s.account_code AND o.day <= s.day ORDER BY o.day DESC LIMIT 1) o ON true
ON CONFLICT (account_code, day) DO UPDATE SET net = EXCLUDED.net, postings = EXCLUDED.postings`

// RollupResult is what one RollUp run did.
type RollupResult struct {
	From, To    int64 // the horizon moved from From to To (equal: nothing to do)
	Entries     int64 // entries with xid in [From, To)
	Revenue     int64 // daily revenue rollup rows written
	Checkpoints int64 // balance checkpoints written
}

// RollUp moves the rollups' horizon to the current one, adding the postings
// recorded below it since the last run to the revenue rollups and the balance
// checkpoints. Safe to run concurrently and repeatedly (runs serialise on an
// advisory lock; a run that finds the horizon where it is does nothing).
func RollUp(ctx context.Context, pool *pgxpool.Pool) (RollupResult, error) {
	return rollUpTo(ctx, pool, 0)
}

// rollUpTo is RollUp with the new horizon at most limit (0: no limit).
func rollUpTo(ctx context.Context, pool *pgxpool.Pool, limit int64) (RollupResult, error) {
	var res RollupResult
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, rollupLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		// The horizon is taken in its own statement, after the lock (so the
		// stored horizon read with it is the last run's). The statements
		// below read postings in later snapshots, which see every
		// transaction below it ended, as the horizon's own snapshot did.
		if err := tx.QueryRow(ctx, `SELECT up_to_xid, `+horizonSQL+` FROM ledger_rollup_horizon`).Scan(&res.From, &res.To); err != nil {
			return fmt.Errorf("horizon: %w", err)
		}
		if limit > 0 && res.To > limit {
			res.To = limit
		}
		if res.To <= res.From { // nothing new, or the horizon stepped back (see snapshotSQL)
			res.To = res.From
			return nil
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM ledger_entries WHERE xid >= $1 AND xid < $2`, res.From, res.To).Scan(&res.Entries); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		if res.Entries > 0 {
			for _, r := range revenueRollups {
				tag, err := tx.Exec(ctx, rollRevenueSQL(r.table, r.key, r.keySQL), res.From, res.To)
				if err != nil {
					return fmt.Errorf("revenue %s: %w", r.table, err)
				}
				if r.key == "day" {
					res.Revenue = tag.RowsAffected()
				}
			}
			tag, err := tx.Exec(ctx, rollCheckpointsSQL, res.From, res.To)
			if err != nil {
				return fmt.Errorf("checkpoints: %w", err)
			}
			res.Checkpoints = tag.RowsAffected()
		}
		_, err := tx.Exec(ctx, `UPDATE ledger_rollup_horizon SET up_to_xid = $1, rolled_at = now()`, res.To)
		return err
	})
	if err != nil {
		return RollupResult{}, fmt.Errorf("ledger: roll up: %w", err)
	}
	return res, nil
}

// RebuildProgress is reported after each step of RebuildRollups.
type RebuildProgress struct {
	Entries, Total int64 // entries rolled up so far, of the entries below the target horizon
	UpToXID        int64
}

// rebuildStep is how many entries one step of RebuildRollups rolls up.
const rebuildStep = 200_000

// RebuildRollups drops the revenue rollups and balance checkpoints and rolls
// the postings up again from the first, a step of entries per transaction,
// calling progress after each; the drop is audited (action
// ledger.rollups.rebuild; ctx names the actor). Reads stay exact meanwhile
// (they read whatever is above the horizon from the postings), only slower
// until the rebuild has passed the history. If the periodic job runs in
// between, it carries the rebuild along (it rolls up to the current horizon).
func RebuildRollups(ctx context.Context, pool *pgxpool.Pool, progress func(RebuildProgress)) (RebuildProgress, error) {
	var p RebuildProgress
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, rollupLockKey); err != nil {
			return err
		}
		var before struct {
			UpToXID     int64 `json:"up_to_xid"`
			Revenue     int64 `json:"revenue_rollups"`
			Monthly     int64 `json:"monthly_revenue_rollups"`
			Checkpoints int64 `json:"balance_checkpoints"`
		}
		if err := tx.QueryRow(ctx, `SELECT (SELECT up_to_xid FROM ledger_rollup_horizon),
			(SELECT count(*) FROM ledger_revenue_rollups), (SELECT count(*) FROM ledger_revenue_rollups_monthly),
			(SELECT count(*) FROM ledger_balance_checkpoints)`).
			Scan(&before.UpToXID, &before.Revenue, &before.Monthly, &before.Checkpoints); err != nil {
			return err
		}
		// The rollups by service follow the others (00039's triggers); what
		// remains of them after (rows changed by hand) goes too.
		for _, q := range []string{`DELETE FROM ledger_revenue_rollups`, `DELETE FROM ledger_revenue_rollups_monthly`,
			`DELETE FROM ledger_revenue_rollups_service`, `DELETE FROM ledger_revenue_rollups_service_monthly`, `DELETE FROM ledger_balance_checkpoints`,
			`UPDATE ledger_rollup_horizon SET up_to_xid = 0, rolled_at = now()`} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		if err := audit.Record(ctx, tx, audit.Event{Action: "ledger.rollups.rebuild", ResourceType: "ledger_rollups",
			ResourceID: "all", Before: before}); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT `+horizonSQL).Scan(&p.UpToXID)
	})
	if err != nil {
		return p, fmt.Errorf("ledger: rebuild rollups: reset: %w", err)
	}
	target := p.UpToXID
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_entries WHERE xid < $1`, target).Scan(&p.Total); err != nil {
		return p, fmt.Errorf("ledger: rebuild rollups: count: %w", err)
	}
	p.UpToXID = 0
	for stuck := 0; p.UpToXID < target; {
		if err := ctx.Err(); err != nil {
			return p, err
		}
		// The next step ends at the xid of the entry a step further on (all
		// of one transaction's entries go in one step).
		var next int64
		err := pool.QueryRow(ctx, `SELECT greatest(coalesce(
			(SELECT xid FROM ledger_entries WHERE xid >= $1 AND xid < $3 ORDER BY xid OFFSET $2 LIMIT 1), $3),
			(SELECT coalesce(min(xid), $3) FROM ledger_entries WHERE xid > $1 AND xid < $3))`,
			p.UpToXID, rebuildStep, target).Scan(&next)
		if err != nil {
			return p, fmt.Errorf("ledger: rebuild rollups: step: %w", err)
		}
		res, err := rollUpTo(ctx, pool, next)
		if err != nil {
			return p, err
		}
		switch {
		case res.From != p.UpToXID: // the periodic job rolled up meanwhile: count again
			p.UpToXID = res.To
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_entries WHERE xid < least($1, $2)`, p.UpToXID, target).Scan(&p.Entries); err != nil {
				return p, fmt.Errorf("ledger: rebuild rollups: count: %w", err)
			}
		case res.To == res.From: // the horizon is behind next: a transaction older than the rebuild is still open
			if stuck++; stuck > 600 {
				return p, errors.New("ledger: rebuild rollups: the horizon has not moved for a minute (a transaction older than the rebuild is still open)")
			}
			time.Sleep(100 * time.Millisecond)
			continue
		default:
			p.UpToXID, p.Entries = res.To, p.Entries+res.Entries
		}
		stuck = 0
		if progress != nil {
			progress(p)
		}
	}
	return p, nil
}
