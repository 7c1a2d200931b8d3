-- +goose NO TRANSACTION
-- +goose Up
-- The entries of one business object (an order's payments, refunds,
-- overpayments and their reversals: reference "order:<id>/…") are read by
-- reference (ledger.OrderEntries, the staff console's order page). The index
-- is in byte order (COLLATE "C") so a prefix is a range scan whatever the
-- database's collation. Built concurrently: ledger writes go on meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS ledger_entries_reference_idx ON ledger_entries (reference COLLATE "C", id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS ledger_entries_reference_idx;
