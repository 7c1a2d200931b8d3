package ledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// snapshotSQL writes, for every account with postings since its latest
// snapshot, a new snapshot at the current horizon: the previous snapshot plus
// the postings in between. One statement, so the horizon and the sums come
// from the same MVCC snapshot. The horizon can step back (a transaction of
// another database that was skipped may have ended unseen), so only a horizon
// beyond the latest snapshot makes a new one.
const snapshotSQL = `
WITH horizon AS (SELECT ` + horizonSQL + ` AS xid),
latest AS (
	SELECT DISTINCT ON (account_code) account_code, up_to_xid, net, postings
	FROM ledger_balance_snapshots ORDER BY account_code, up_to_xid DESC
), moved AS (
	SELECT a.code, coalesce(l.net, 0) + d.net AS net, coalesce(l.postings, 0) + d.n AS postings
	FROM ledger_accounts a
	CROSS JOIN horizon h
	LEFT JOIN latest l ON l.account_code = a.code
	CROSS JOIN LATERAL (SELECT coalesce(sum(p.net), 0) AS net, count(*) AS n FROM ledger_postings p
		WHERE p.account_code = a.code AND p.xid >= coalesce(l.up_to_xid, 0) AND p.xid < h.xid) d
	WHERE d.n > 0 AND h.xid > coalesce(l.up_to_xid, 0)
)
INSERT INTO ledger_balance_snapshots (account_code, up_to_xid, net, postings)
SELECT code, (SELECT xid FROM horizon), net, postings FROM moved
ON CONFLICT DO NOTHING`

// pruneSnapshotsSQL drops snapshots superseded by a later one of the same
// account: readers only ever use the latest.
const pruneSnapshotsSQL = `
DELETE FROM ledger_balance_snapshots s
USING (SELECT account_code, max(up_to_xid) AS latest FROM ledger_balance_snapshots GROUP BY account_code) l
WHERE s.account_code = l.account_code AND s.up_to_xid < l.latest`

// SnapshotBalances records a balance snapshot of every account that moved
// since its last one and drops the superseded snapshots; it returns how many
// accounts it snapshotted. Current balances read the latest snapshot plus the
// postings after it, so running this every few seconds keeps balance reads of
// a hot account short. Safe to run concurrently and repeatedly.
func SnapshotBalances(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, snapshotLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		tag, err := tx.Exec(ctx, snapshotSQL)
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		n = tag.RowsAffected()
		if _, err := tx.Exec(ctx, pruneSnapshotsSQL); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("ledger: snapshot balances: %w", err)
	}
	return n, nil
}
