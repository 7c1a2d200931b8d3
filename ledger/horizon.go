package ledger

// Advisory lock keys (transaction level) of the ledger's maintenance jobs.
const (
	snapshotLockKey int64 = 0x6c65646765720001 // "ledger" + 1
	sealLockKey     int64 = 0x6c65646765720002
)

// horizonSQL is the transaction id below which everything that can write to
// this database has finished, as of the statement's own MVCC snapshot: the
// lowest xid the snapshot sees as still running, ignoring transactions seen
// running in another database (they can never write here; an xid whose
// database is not seen counts as ours), and at most the snapshot's xmax. No
// entry or posting with a lower xid can appear later, whatever the commit
// order, and all of them are visible to the statement. It must be evaluated
// inside the statement that reads the rows, so both use one snapshot.
const horizonSQL = `least(pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
	(SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
	 WHERE x::xid NOT IN (SELECT backend_xid FROM pg_stat_activity
		WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())))`
