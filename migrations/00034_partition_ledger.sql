-- +goose Up
-- The ledger by month (issue 15; the machinery is 00032's). The ledger stays
-- append-only: every partition inherits the row triggers that refuse UPDATE
-- and DELETE, and each gets its own BEFORE TRUNCATE trigger (truncate_guard:
-- TRUNCATE may name a partition, and statement triggers are not inherited).
-- Retention never drops a ledger partition.

-- Postings, by effective_at: the time of their entry, which the stamp
-- trigger now requires the insert to carry (it is the partition key, and a
-- BEFORE trigger may not move a row to another partition) instead of filling
-- it in. The key was (entry_id, leg); it becomes (entry_id, leg,
-- effective_at), and (entry_id, leg) stays unique across partitions because
-- every posting of an entry has its entry's effective_at (the stamp trigger
-- refuses any other, and an entry never changes): all the postings of an
-- entry are in one partition, where the key refuses a duplicate leg.
SELECT partition_set_aside('ledger_postings', 'ledger_postings_unpartitioned');
CREATE TABLE ledger_postings (
    entry_id     bigint NOT NULL,
    leg          smallint NOT NULL CHECK (leg BETWEEN 1 AND 100),
    account_code text NOT NULL,
    currency     char(3) NOT NULL,
    direction    text NOT NULL CHECK (direction IN ('debit', 'credit')),
    amount       numeric NOT NULL CHECK (amount > 0),
    net          numeric NOT NULL GENERATED ALWAYS AS (CASE direction WHEN 'debit' THEN amount ELSE -amount END) STORED,
    service_code text CHECK (service_code IS NULL OR account_code ~ '^agency:[^:]+:collected$'),
    channel      text CHECK ((channel IS NULL) = (service_code IS NULL)),
    effective_at timestamptz NOT NULL,
    xid          bigint NOT NULL,
    PRIMARY KEY (entry_id, leg, effective_at)
) PARTITION BY RANGE (effective_at);
CREATE INDEX ledger_postings_account_xid_idx ON ledger_postings (account_code, xid) INCLUDE (net);
CREATE INDEX ledger_postings_account_effective_idx ON ledger_postings (account_code, effective_at, entry_id) INCLUDE (net);
INSERT INTO partitioned_tables (parent, key_column, truncate_guard) VALUES ('ledger_postings', 'effective_at', 'ledger_refuse_change');
CREATE TABLE ledger_postings_default PARTITION OF ledger_postings DEFAULT;
CREATE TRIGGER ledger_postings_default_no_truncate BEFORE TRUNCATE ON ledger_postings_default
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
SELECT partition_cover('ledger_postings', 'ledger_postings_unpartitioned');
SELECT partition_copy('ledger_postings_unpartitioned', 'ledger_postings');
DROP TABLE ledger_postings_unpartitioned;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_posting_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    e record;
BEGIN
    SELECT xid, effective_at INTO e FROM ledger_entries WHERE id = NEW.entry_id;
    IF NOT FOUND OR e.xid <> pg_current_xact_id()::text::bigint THEN
        RAISE EXCEPTION 'ledger: postings may only be added by the transaction that records entry %', NEW.entry_id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.effective_at IS DISTINCT FROM e.effective_at THEN
        RAISE EXCEPTION 'ledger: a posting of entry % carries its entry''s effective time', NEW.entry_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_posting_effective_at';
    END IF;
    PERFORM FROM ledger_accounts WHERE code = NEW.account_code AND currency = NEW.currency;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger: account % does not exist in %', NEW.account_code, NEW.currency
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'ledger_postings_account_currency';
    END IF;
    NEW.xid := e.xid;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER ledger_postings_stamp BEFORE INSERT ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_posting_stamp();
CREATE TRIGGER ledger_postings_immutable BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- +goose Down
SELECT partition_set_aside('ledger_postings', 'ledger_postings_partitioned');
CREATE TABLE ledger_postings (
    entry_id     bigint NOT NULL,
    leg          smallint NOT NULL CHECK (leg BETWEEN 1 AND 100),
    account_code text NOT NULL,
    currency     char(3) NOT NULL,
    direction    text NOT NULL CHECK (direction IN ('debit', 'credit')),
    amount       numeric NOT NULL CHECK (amount > 0),
    net          numeric NOT NULL GENERATED ALWAYS AS (CASE direction WHEN 'debit' THEN amount ELSE -amount END) STORED,
    service_code text CHECK (service_code IS NULL OR account_code ~ '^agency:[^:]+:collected$'),
    channel      text CHECK ((channel IS NULL) = (service_code IS NULL)),
    effective_at timestamptz NOT NULL,
    xid          bigint NOT NULL,
    PRIMARY KEY (entry_id, leg)
);
CREATE INDEX ledger_postings_account_xid_idx ON ledger_postings (account_code, xid) INCLUDE (net);
CREATE INDEX ledger_postings_account_effective_idx ON ledger_postings (account_code, effective_at, entry_id) INCLUDE (net);
SELECT partition_copy('ledger_postings_partitioned', 'ledger_postings');
DROP TABLE ledger_postings_partitioned;
DELETE FROM partitioned_tables WHERE parent = 'ledger_postings';
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_posting_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    e record;
BEGIN
    SELECT xid, effective_at INTO e FROM ledger_entries WHERE id = NEW.entry_id;
    IF NOT FOUND OR e.xid <> pg_current_xact_id()::text::bigint THEN
        RAISE EXCEPTION 'ledger: postings may only be added by the transaction that records entry %', NEW.entry_id
            USING ERRCODE = 'restrict_violation';
    END IF;
    PERFORM FROM ledger_accounts WHERE code = NEW.account_code AND currency = NEW.currency;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger: account % does not exist in %', NEW.account_code, NEW.currency
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'ledger_postings_account_currency';
    END IF;
    NEW.xid := e.xid;
    NEW.effective_at := e.effective_at;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER ledger_postings_stamp BEFORE INSERT ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_posting_stamp();
CREATE TRIGGER ledger_postings_immutable BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
