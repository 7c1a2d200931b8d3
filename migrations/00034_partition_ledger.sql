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

-- Entries, by effective_at, like their postings (an entry and its postings
-- share a month). An entry's id and idempotency key were unique, another
-- entry's reverses referred to its id (reversed at most once: a unique
-- index), and so did ledger_entry_requests.entry_id. A partitioned table's
-- unique keys must hold effective_at, so those guarantees move to
-- ledger_entry_keys, which is not partitioned: one narrow row per entry
-- (idempotency key, entry id, effective time, the entry it reverses), with
-- the idempotency key as primary key (the arbiter of PostMany's ON
-- CONFLICT: an existing key is a replay, a concurrent one waits), entry_id
-- and reverses unique, reverses a foreign key to entry_id. PostMany writes
-- the key row first, taking the entry's id from the identity's sequence,
-- then the entry with that id. At commit, the entries' deferred check now
-- also refuses an entry whose key row is missing or differs; so no two
-- entries share an id or a key in any month (each must match the one key
-- row of its key, hence have its id and effective time, hence meet the
-- other in one partition, whose key (id, effective_at) refuses it). Key rows
-- are as immutable as the ledger. `ledger verify` checks keys and entries
-- match one to one.
ALTER TABLE ledger_entry_requests DROP CONSTRAINT ledger_entry_requests_entry_id_fkey;
DROP TRIGGER ledger_entries_open_day ON ledger_entries;
SELECT partition_set_aside('ledger_entries', 'ledger_entries_unpartitioned');
CREATE TABLE ledger_entries (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    kind            text NOT NULL CHECK (kind IN ('payment', 'refund', 'overpayment', 'overpayment_refund',
                        'settlement', 'transfer', 'suspense', 'adjustment', 'reversal')),
    reference       text NOT NULL CHECK (length(reference) <= 255),
    description     text NOT NULL CHECK (length(description) <= 1000),
    recorded_by     text NOT NULL CHECK (length(recorded_by) BETWEEN 1 AND 100),
    reverses        bigint,
    effective_at    timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    xid             bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
    content_hash    bytea NOT NULL CHECK (length(content_hash) = 32),
    CONSTRAINT ledger_entries_reversal_kind CHECK ((kind = 'reversal') = (reverses IS NOT NULL)),
    PRIMARY KEY (id, effective_at)
) PARTITION BY RANGE (effective_at);
CREATE INDEX ledger_entries_xid_idx ON ledger_entries (xid, id);
CREATE INDEX ledger_entries_effective_idx ON ledger_entries (effective_at, id);
-- an order's entries by reference (00024)
CREATE INDEX ledger_entries_reference_idx ON ledger_entries (reference COLLATE "C", id);
INSERT INTO partitioned_tables (parent, key_column, truncate_guard) VALUES ('ledger_entries', 'effective_at', 'ledger_refuse_change');
CREATE TABLE ledger_entries_default PARTITION OF ledger_entries DEFAULT;
CREATE TRIGGER ledger_entries_default_no_truncate BEFORE TRUNCATE ON ledger_entries_default
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
SELECT partition_cover('ledger_entries', 'ledger_entries_unpartitioned');
SELECT partition_copy('ledger_entries_unpartitioned', 'ledger_entries');

CREATE TABLE ledger_entry_keys (
    idempotency_key text PRIMARY KEY,
    entry_id        bigint NOT NULL CONSTRAINT ledger_entry_keys_entry_id_key UNIQUE,
    effective_at    timestamptz NOT NULL,
    -- The name PostMany's errors know: an entry is reversed at most once.
    reverses        bigint CONSTRAINT ledger_entries_reverses_key UNIQUE
                    CONSTRAINT ledger_entry_keys_reverses_fkey REFERENCES ledger_entry_keys (entry_id)
);
INSERT INTO ledger_entry_keys (idempotency_key, entry_id, effective_at, reverses)
SELECT idempotency_key, id, effective_at, reverses FROM ledger_entries_unpartitioned;
DROP TABLE ledger_entries_unpartitioned;
ALTER TABLE ledger_entry_requests ADD CONSTRAINT ledger_entry_requests_entry_id_fkey
    FOREIGN KEY (entry_id) REFERENCES ledger_entry_keys (entry_id);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_check_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    bad text;
BEGIN
    IF NEW.xid <> pg_current_xact_id()::text::bigint OR NEW.recorded_at <> now() THEN
        RAISE EXCEPTION 'ledger: entry % must keep the default xid and recorded_at', NEW.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_stamp';
    END IF;
    SELECT sum(c), min(currency) FILTER (WHERE s <> 0) INTO n, bad
    FROM (SELECT currency, sum(net) AS s, count(*) AS c FROM ledger_postings
          WHERE entry_id = NEW.id AND effective_at = NEW.effective_at GROUP BY currency) t;
    IF coalesce(n, 0) < 2 THEN
        RAISE EXCEPTION 'ledger: entry % has % postings, needs at least 2', NEW.id, coalesce(n, 0)
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_postings';
    END IF;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'ledger: entry % does not balance in %', NEW.id, bad
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_balanced';
    END IF;
    PERFORM FROM ledger_entry_keys k WHERE k.idempotency_key = NEW.idempotency_key AND k.entry_id = NEW.id
        AND k.effective_at = NEW.effective_at AND k.reverses IS NOT DISTINCT FROM NEW.reverses;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger: entry % has no matching row in ledger_entry_keys (key %)', NEW.id, NEW.idempotency_key
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'ledger_entry_keys_pkey';
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- The postings' entry is looked up in its partition (the posting carries its
-- effective time); the second lookup only names the refusal.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_posting_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    e record;
BEGIN
    SELECT xid INTO e FROM ledger_entries WHERE id = NEW.entry_id AND effective_at = NEW.effective_at;
    IF NOT FOUND THEN
        PERFORM FROM ledger_entries WHERE id = NEW.entry_id AND xid = pg_current_xact_id()::text::bigint;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger: a posting of entry % carries its entry''s effective time', NEW.entry_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_posting_effective_at';
        END IF;
    END IF;
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
    RETURN NEW;
END $$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry();
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_open_day AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_open_day();
CREATE TRIGGER ledger_entry_keys_immutable BEFORE UPDATE OR DELETE ON ledger_entry_keys
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entry_keys_no_truncate BEFORE TRUNCATE ON ledger_entry_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- +goose Down
ALTER TABLE ledger_entry_requests DROP CONSTRAINT ledger_entry_requests_entry_id_fkey;
SELECT partition_set_aside('ledger_entries', 'ledger_entries_partitioned');
CREATE TABLE ledger_entries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    kind            text NOT NULL CHECK (kind IN ('payment', 'refund', 'overpayment', 'overpayment_refund',
                        'settlement', 'transfer', 'suspense', 'adjustment', 'reversal')),
    reference       text NOT NULL CHECK (length(reference) <= 255),
    description     text NOT NULL CHECK (length(description) <= 1000),
    recorded_by     text NOT NULL CHECK (length(recorded_by) BETWEEN 1 AND 100),
    reverses        bigint REFERENCES ledger_entries (id),
    effective_at    timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    xid             bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
    content_hash    bytea NOT NULL CHECK (length(content_hash) = 32),
    CONSTRAINT ledger_entries_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT ledger_entries_reversal_kind CHECK ((kind = 'reversal') = (reverses IS NOT NULL))
);
SELECT partition_copy('ledger_entries_partitioned', 'ledger_entries');
DROP TABLE ledger_entries_partitioned, ledger_entry_keys;
DELETE FROM partitioned_tables WHERE parent = 'ledger_entries';
CREATE UNIQUE INDEX ledger_entries_reverses_key ON ledger_entries (reverses) WHERE reverses IS NOT NULL;
CREATE INDEX ledger_entries_xid_idx ON ledger_entries (xid, id);
CREATE INDEX ledger_entries_effective_idx ON ledger_entries (effective_at, id);
-- an order's entries by reference (00024)
CREATE INDEX ledger_entries_reference_idx ON ledger_entries (reference COLLATE "C", id);
ALTER TABLE ledger_entry_requests ADD CONSTRAINT ledger_entry_requests_entry_id_fkey
    FOREIGN KEY (entry_id) REFERENCES ledger_entries (id);
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_check_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    bad text;
BEGIN
    IF NEW.xid <> pg_current_xact_id()::text::bigint OR NEW.recorded_at <> now() THEN
        RAISE EXCEPTION 'ledger: entry % must keep the default xid and recorded_at', NEW.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_stamp';
    END IF;
    SELECT sum(c), min(currency) FILTER (WHERE s <> 0) INTO n, bad
    FROM (SELECT currency, sum(net) AS s, count(*) AS c FROM ledger_postings WHERE entry_id = NEW.id GROUP BY currency) t;
    IF coalesce(n, 0) < 2 THEN
        RAISE EXCEPTION 'ledger: entry % has % postings, needs at least 2', NEW.id, coalesce(n, 0)
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_postings';
    END IF;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'ledger: entry % does not balance in %', NEW.id, bad
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_balanced';
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
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
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry();
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_open_day AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_open_day();

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
