// Package ledger is civicpay's double-entry ledger: accounts,
// entries and postings in PostgreSQL, the posting rules the payment flow calls,
// balances, tamper-evident sealing, verification, and the revenue agencies
// query. It knows nothing of payments: rules take plain structs.
//
// # Books
//
// An entry has two or more postings that sum to zero per currency. Post checks
// that in Go, and the database checks it again at commit (a deferred
// constraint trigger), so SQL that bypasses Post cannot commit an unbalanced
// entry either. Triggers refuse UPDATE, DELETE and TRUNCATE of entries,
// postings, accounts and seals: a mistake is corrected by Reverse. Every entry
// carries an idempotency key: the same key and content returns the original,
// the same key with other content is ErrIdempotencyConflict. Post and the rules
// take a DBTX, so the payment flow posts in the transaction that changes the
// order; each writes with a single statement (accounts upserted, entry inserted
// unless its key exists, postings inserted), one round trip.
//
// Accounts are created on first use with the kind their code implies (see
// KindOf): gateway:<name>:clearing (asset), gateway:<name>:fees (expense),
// agency:<code>:collected (liability), treasury:<account>:bank (asset),
// overpayments and suspense (liabilities), revenue:<name>, expense:<name>.
// An account's currency is fixed by its first posting.
//
// # Hot accounts
//
// Every payment through a gateway debits the same clearing account, so no row
// may be updated by every posting: a balance row would serialise all of them
// on its row lock. Postings are append-only, and a balance is derived:
//
//	balance = latest snapshot (account, up_to_xid, net) + Σ postings with xid ≥ up_to_xid
//
// Each entry and posting stores xid, the 64-bit id of the transaction that
// recorded it. SnapshotBalances (a River periodic job, every 15 s) writes, for
// each account that moved, the sum of its postings below the horizon: the
// lowest xid that the job's MVCC snapshot sees still running in this database
// (pg_snapshot_xip of pg_current_snapshot, less transactions seen running in
// other databases). Every transaction below it has finished and is visible, so
// no posting can later appear below it, whatever the commit order — unlike
// identity order, where a transaction holding id 10 may commit after one
// holding id 11. Postings also take no row lock on their account (the account
// is checked by a trigger, not a foreign key, since accounts can be neither
// changed nor deleted), so a posting costs the same on a hot account as on a
// quiet one: index inserts, no shared row. A current-balance read sums at
// most one snapshot interval of postings. cmd/benchledger measures hot
// against spread traffic.
//
// # Rollups and checkpoints
//
// Revenue and as-of balances must not read years of postings. RollUp (a
// River periodic job, every 15 s) keeps two derived tables below one horizon
// (ledger_rollup_horizon), moved forward the same way as the snapshots':
// revenue rollups, the Revenue sums per business day (and per month of
// business days, for reads not grouped by day), agency, service, channel and
// currency; and daily balance checkpoints, each account's net
// (and posting count) up to the end of each business day on which it moved.
// Each run adds the postings recorded in [old horizon, new horizon) — whatever
// day they take effect in, so a payment recorded a day late corrects that
// day's rows — and moves the horizon in the same transaction; a row changes
// once per run at most, never per posting. Revenue reads the rollups of the
// whole days (or months) of its range, the postings of the partial days at its ends, and
// the live tail (postings at or above the horizon) of the whole days; an
// as-of balance reads the latest checkpoint before the as-of day, that day's
// postings before the as-of time, and the tail. Each reads the horizon first
// and checks, in the statement that reads the rows, that it has not moved
// (else it reads again), so the result is exactly what RevenueScan and
// AccountBalanceScan, which read every posting, give. The tables are derived:
// RebuildRollups (civicpay ledger rebuild-rollups) recomputes them, and
// Verify compares them with the postings.
//
// # Tamper evidence
//
// Seal (a River periodic job, every minute) chains SHA-256 over batches of
// entries in (xid, id) order, taking only entries below the same horizon, so
// an entry still in flight can never need a place before a sealed one. Each
// batch hashes its number, the previous batch's hash and every entry's seal
// hash (all its columns and, through the content hash, all its postings).
// Posting takes no lock for this; sealers serialise on a transaction advisory
// lock on the chain head, so two runs at once seal each batch once.
//
// Verify re-derives everything from the rows in one snapshot: each entry
// balances and matches its content hash, the postings agree with their
// entries and accounts, the trial balance is zero per currency, every stored
// snapshot, revenue rollup and balance checkpoint equals its postings, and
// every seal batch matches its entries and its predecessor. A superuser who disables the triggers and edits rows is
// caught by whichever of these the edit breaks; an edit of a sealed entry
// always breaks its batch.
//
// Limits: an entry is tamper evident once sealed; until then (a minute) only
// the balance checks and snapshots cover it. The chain is plain SHA-256, so
// someone able to rewrite every row could rebuild it: keep the head that Seal
// returns outside the database. Two transactions that
// each create the same new accounts through several entries, in opposite
// orders, can deadlock (PostgreSQL aborts one; retry it).
//
// # Revenue
//
// Revenue is read from the ledger itself: postings to agency collected
// accounts that carry a service code and channel (payments and refunds, and
// their reversals), grouped by business day (GMT+7), service, channel and
// agency, per currency, over [from, to) of effective time (through the
// rollups above).
package ledger
