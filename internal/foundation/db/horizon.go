package db

// HorizonSQL is an SQL expression (bigint) for the transaction id below which
// everything that can write to this database has finished, as of the
// statement's own MVCC snapshot: the lowest xid the snapshot sees as still
// running, ignoring transactions seen running in another database (they can
// never write here; an xid whose database is not seen counts as ours), and at
// most the snapshot's xmax. No row stamped with a lower xid can appear later,
// whatever the commit order, and all of them are visible to the statement.
// Evaluate it inside the statement that reads the rows, so both use one
// snapshot. Unlike pg_snapshot_xmin, a long transaction in another database
// on the same server (a report, a pg_dump) does not hold it back.
const HorizonSQL = `least(pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
	(SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
	 WHERE x::xid NOT IN (SELECT backend_xid FROM pg_stat_activity
		WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())))`
