-- +goose Up
-- The entries of one business object (an order's payments, refunds,
-- overpayments and their reversals: reference "order:<id>/…") are read by
-- reference (ledger.OrderEntries, the staff console's order page). The index
-- is in byte order (COLLATE "C") so a prefix is a range scan whatever the
-- database's collation.
--
-- Built in the migration's transaction, not CONCURRENTLY: a concurrent build
-- waits for every older transaction in the database, and a second `civicpay
-- migrate` waiting on the migration lock is one, so the two would wait for
-- each other forever. The build holds off ledger writes while it runs; on a
-- large ledger, create the index CONCURRENTLY by hand first (same statement,
-- with CONCURRENTLY) and this migration finds it there.
CREATE INDEX IF NOT EXISTS ledger_entries_reference_idx ON ledger_entries (reference COLLATE "C", id);

-- +goose Down
DROP INDEX ledger_entries_reference_idx;
