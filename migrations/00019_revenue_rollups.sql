-- +goose Up
-- Revenue rollups (ledger/rollup.go): revenue per business day (GMT+7), and
-- per month, agency, service, channel and currency, summed from the postings of agency
-- collected accounts that carry a service, for every posting below the
-- rollups' horizon. Derived data: a periodic job adds what committed below the
-- next horizon, `civicpay ledger rebuild-rollups` recomputes it, and `ledger
-- verify` compares it with the postings.

-- The horizon of every rollup (this table and 00020's checkpoints): they cover
-- exactly the postings with xid < up_to_xid, every one of which had committed
-- or aborted when the horizon was taken. One row, changed once per job run in
-- the same transaction as the rollups, never by a posting.
CREATE TABLE ledger_rollup_horizon (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    up_to_xid  bigint NOT NULL CHECK (up_to_xid >= 0),
    rolled_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ledger_rollup_horizon (up_to_xid) VALUES (0);

-- Sums as ledger.Revenue reports them: gross and refunds of the postings not on
-- the adjustment channel, adjustments of those on it, net of all, postings
-- counted. A row changes once per job run that brings postings of its key.
CREATE TABLE ledger_revenue_rollups (
    day         date NOT NULL,
    agency      text NOT NULL,
    service     text NOT NULL,
    channel     text NOT NULL,
    currency    char(3) NOT NULL,
    gross       numeric NOT NULL,
    refunds     numeric NOT NULL,
    adjustments numeric NOT NULL,
    net         numeric NOT NULL,
    postings    bigint NOT NULL CHECK (postings >= 1),
    PRIMARY KEY (day, agency, service, channel, currency)
);
CREATE INDEX ledger_revenue_rollups_agency_idx ON ledger_revenue_rollups (agency, day);

-- The same per calendar month of business days (month is its first day), for
-- reads not grouped by day: a year is 12 rows per key instead of 365.
CREATE TABLE ledger_revenue_rollups_monthly (
    month       date NOT NULL CHECK (extract(day FROM month) = 1),
    agency      text NOT NULL,
    service     text NOT NULL,
    channel     text NOT NULL,
    currency    char(3) NOT NULL,
    gross       numeric NOT NULL,
    refunds     numeric NOT NULL,
    adjustments numeric NOT NULL,
    net         numeric NOT NULL,
    postings    bigint NOT NULL CHECK (postings >= 1),
    PRIMARY KEY (month, agency, service, channel, currency)
);
CREATE INDEX ledger_revenue_rollups_monthly_agency_idx ON ledger_revenue_rollups_monthly (agency, month);

-- +goose Down
DROP TABLE ledger_revenue_rollups_monthly, ledger_revenue_rollups, ledger_rollup_horizon;
