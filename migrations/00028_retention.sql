-- +goose Up
-- Retention (issue 15): operational rows are pruned on a schedule; the
-- ledger, the audit log, orders and their events never are.
--
-- A raw statement or settlement file's bytes may be pruned after years; its
-- record (hash, size, who brought it, totals) stays, with when the bytes went.
ALTER TABLE recon_files ADD COLUMN pruned_at timestamptz;

-- Business days whose reconciliation staging (settlement lines, bank
-- entries, matched items) was pruned: such a day is not reconciled again.
CREATE TABLE recon_pruned_days (
    day       date PRIMARY KEY,
    pruned_at timestamptz NOT NULL DEFAULT now(),
    rows      bigint NOT NULL CHECK (rows >= 0)
);

-- +goose Down
DROP TABLE recon_pruned_days;
ALTER TABLE recon_files DROP COLUMN pruned_at;
