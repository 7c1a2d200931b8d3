-- +goose Up
-- Reconciliation staging by month (issue 15; the machinery is 00032's). The
-- settlement lines and bank entries gain staged_at, the time of the
-- transaction that staged them: the load of one file is one transaction
-- (reconciliation.Service.Load), which also sets the file's loaded_at to
-- the same now(), so all the rows of a file share one staged_at and sit in
-- one partition. They are partitioned on it: retention drops a month whose
-- rows all belong to prunable business days (reconciliation.PruneStaging),
-- and a load ANALYZEs only the partition it wrote.
--
-- recon_bank_entries' key was (file_id, stmt_seq, entry_seq); a partitioned
-- table's must hold staged_at too. It stays unique as it was because all the
-- rows of a file have one staged_at: the statement trigger below refuses
-- rows of a file with another staged_at than its rows already there (or
-- than each other), so a duplicate (file_id, stmt_seq, entry_seq) has the
-- same staged_at, lands in the same partition, and its key refuses it.
-- recon_settlement_lines had no unique key.

-- The rows already staged take their file's loaded_at (or received_at).
SELECT partition_set_aside('recon_settlement_lines', 'recon_settlement_lines_unpartitioned');
CREATE VIEW recon_settlement_lines_restaged AS
SELECT l.*, coalesce(f.loaded_at, f.received_at, now()) AS staged_at
FROM recon_settlement_lines_unpartitioned l LEFT JOIN recon_files f ON f.id = l.file_id;
CREATE TABLE recon_settlement_lines (
    file_id        bigint NOT NULL,
    line           integer NOT NULL,
    gateway_txn_id text NOT NULL,
    reference      text NOT NULL,
    type           text NOT NULL CHECK (type IN ('payment', 'refund')),
    gross          numeric NOT NULL,
    fee            numeric NOT NULL,
    net            numeric NOT NULL,
    currency       char(3) NOT NULL,
    at             timestamptz NOT NULL,
    staged_at      timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (staged_at);
CREATE INDEX recon_settlement_lines_file_idx ON recon_settlement_lines USING brin (file_id);
INSERT INTO partitioned_tables (parent, key_column) VALUES ('recon_settlement_lines', 'staged_at');
CREATE TABLE recon_settlement_lines_default PARTITION OF recon_settlement_lines DEFAULT;
SELECT partition_cover('recon_settlement_lines', 'recon_settlement_lines_restaged');
SELECT partition_copy('recon_settlement_lines_restaged', 'recon_settlement_lines');
DROP VIEW recon_settlement_lines_restaged;
DROP TABLE recon_settlement_lines_unpartitioned;

SELECT partition_set_aside('recon_bank_entries', 'recon_bank_entries_unpartitioned');
CREATE VIEW recon_bank_entries_restaged AS
SELECT b.*, coalesce(f.loaded_at, f.received_at, now()) AS staged_at
FROM recon_bank_entries_unpartitioned b LEFT JOIN recon_files f ON f.id = b.file_id;
CREATE TABLE recon_bank_entries (
    file_id            bigint NOT NULL,
    stmt_seq           integer NOT NULL,
    entry_seq          integer NOT NULL,
    entry_key          text NOT NULL,
    account            text NOT NULL,
    amount             numeric NOT NULL CHECK (amount >= 0),
    currency           char(3) NOT NULL,
    credit             boolean NOT NULL,
    reversal           boolean NOT NULL,
    status             text NOT NULL,
    booking_date       date,
    booked_at          timestamptz,
    acct_svcr_ref      text NOT NULL DEFAULT '',
    end_to_end_id      text NOT NULL DEFAULT '',
    remittance         text NOT NULL DEFAULT '',
    settlement_file_id text,
    payment_ref        text,
    -- what a bank sent beyond the matched columns (00021)
    value_at           timestamptz,
    flags              text[],
    details            jsonb,
    staged_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (file_id, stmt_seq, entry_seq, staged_at)
) PARTITION BY RANGE (staged_at);
CREATE INDEX recon_bank_entries_day_idx ON recon_bank_entries (booking_date, entry_key);
CREATE INDEX recon_bank_entries_key_idx ON recon_bank_entries (entry_key);
CREATE INDEX recon_bank_entries_payment_ref_idx ON recon_bank_entries (payment_ref) WHERE payment_ref IS NOT NULL;
INSERT INTO partitioned_tables (parent, key_column) VALUES ('recon_bank_entries', 'staged_at');
CREATE TABLE recon_bank_entries_default PARTITION OF recon_bank_entries DEFAULT;
SELECT partition_cover('recon_bank_entries', 'recon_bank_entries_restaged');
SELECT partition_copy('recon_bank_entries_restaged', 'recon_bank_entries');
DROP VIEW recon_bank_entries_restaged;
DROP TABLE recon_bank_entries_unpartitioned;

-- All the rows of a file have one staged_at (see above). Per statement (a
-- load's COPY is one), not per row: the check costs a lookup per file.
-- +goose StatementBegin
CREATE FUNCTION recon_bank_entries_one_staging() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    split bigint;
BEGIN
    SELECT n.file_id INTO split
      FROM (SELECT file_id, min(staged_at) AS lo, max(staged_at) AS hi FROM new_entries GROUP BY file_id) n
     WHERE n.lo <> n.hi
        OR EXISTS (SELECT 1 FROM recon_bank_entries b WHERE b.file_id = n.file_id AND b.staged_at <> n.lo)
     LIMIT 1;
    IF split IS NOT NULL THEN
        RAISE EXCEPTION 'reconciliation: the bank entries of file % are staged by one transaction (one staged_at)', split
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'recon_bank_entries_pkey';
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER recon_bank_entries_one_staging AFTER INSERT ON recon_bank_entries
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION recon_bank_entries_one_staging();

-- +goose Down
DROP TRIGGER recon_bank_entries_one_staging ON recon_bank_entries;
DROP FUNCTION recon_bank_entries_one_staging();

SELECT partition_set_aside('recon_bank_entries', 'recon_bank_entries_partitioned');
CREATE TABLE recon_bank_entries (
    file_id            bigint NOT NULL,
    stmt_seq           integer NOT NULL,
    entry_seq          integer NOT NULL,
    entry_key          text NOT NULL,
    account            text NOT NULL,
    amount             numeric NOT NULL CHECK (amount >= 0),
    currency           char(3) NOT NULL,
    credit             boolean NOT NULL,
    reversal           boolean NOT NULL,
    status             text NOT NULL,
    booking_date       date,
    booked_at          timestamptz,
    acct_svcr_ref      text NOT NULL DEFAULT '',
    end_to_end_id      text NOT NULL DEFAULT '',
    remittance         text NOT NULL DEFAULT '',
    settlement_file_id text,
    payment_ref        text,
    value_at           timestamptz,
    flags              text[],
    details            jsonb,
    PRIMARY KEY (file_id, stmt_seq, entry_seq)
);
CREATE INDEX recon_bank_entries_day_idx ON recon_bank_entries (booking_date, entry_key);
CREATE INDEX recon_bank_entries_key_idx ON recon_bank_entries (entry_key);
CREATE INDEX recon_bank_entries_payment_ref_idx ON recon_bank_entries (payment_ref) WHERE payment_ref IS NOT NULL;
SELECT partition_copy('recon_bank_entries_partitioned', 'recon_bank_entries');
DROP TABLE recon_bank_entries_partitioned;
DELETE FROM partitioned_tables WHERE parent = 'recon_bank_entries';

SELECT partition_set_aside('recon_settlement_lines', 'recon_settlement_lines_partitioned');
CREATE TABLE recon_settlement_lines (
    file_id        bigint NOT NULL,
    line           integer NOT NULL,
    gateway_txn_id text NOT NULL,
    reference      text NOT NULL,
    type           text NOT NULL CHECK (type IN ('payment', 'refund')),
    gross          numeric NOT NULL,
    fee            numeric NOT NULL,
    net            numeric NOT NULL,
    currency       char(3) NOT NULL,
    at             timestamptz NOT NULL
);
CREATE INDEX recon_settlement_lines_file_idx ON recon_settlement_lines USING brin (file_id);
SELECT partition_copy('recon_settlement_lines_partitioned', 'recon_settlement_lines');
DROP TABLE recon_settlement_lines_partitioned;
DELETE FROM partitioned_tables WHERE parent = 'recon_settlement_lines';
