-- +goose Up
-- Daily balance checkpoints (ledger/rollup.go): for each account and each
-- business day (GMT+7) on which it has postings below the rollups' horizon
-- (ledger_rollup_horizon, migration 00019), the net and count of its postings
-- below that horizon effective up to the end of that day. An as-of balance is
-- the latest checkpoint before the as-of day plus at most a day of postings
-- plus the postings above the horizon. Derived data, maintained, rebuilt and
-- verified with the revenue rollups.
CREATE TABLE ledger_balance_checkpoints (
    account_code text NOT NULL REFERENCES ledger_accounts (code),
    day          date NOT NULL,
    net          numeric NOT NULL,
    postings     bigint NOT NULL CHECK (postings >= 1),
    PRIMARY KEY (account_code, day)
);

-- +goose Down
DROP TABLE ledger_balance_checkpoints;
