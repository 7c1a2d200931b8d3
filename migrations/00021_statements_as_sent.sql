-- +goose Up
-- Statements as banks send them: camt.052 intraday reports, a tolerant rule
-- per source that loads a file whose own totals do not add up (flagged, with
-- the difference), and the fields of each entry an integrator needs.
-- Package reconciliation owns these tables.
ALTER TABLE recon_files DROP CONSTRAINT recon_files_kind_check;
ALTER TABLE recon_files ADD CONSTRAINT recon_files_kind_check CHECK (kind IN (
    'camt.052', 'camt.053', 'camt.054', 'settlement.vnpay', 'settlement.momo', 'settlement.zalopay'));
-- A file uploaded for a preview is held: stored, never loaded until a person
-- commits it. Its preview (how it would load and match, computed by a job in
-- a transaction that is rolled back) is kept with it.
ALTER TABLE recon_files DROP CONSTRAINT recon_files_status_check;
ALTER TABLE recon_files ADD CONSTRAINT recon_files_status_check
    CHECK (status IN ('held', 'received', 'loading', 'loaded', 'refused'));
ALTER TABLE recon_files
    ADD COLUMN preview      jsonb,
    ADD COLUMN previewed_at timestamptz,
    ADD COLUMN committed_by text;
-- The rule the file was loaded under, and what the load noticed and let
-- through: the codes of every finding (flags), and the file-level findings
-- themselves (a settlement file's trailer that disagrees with its lines; a
-- bank file's are per statement, in recon_bank_statements). A settlement
-- file loaded although its trailer disagrees has its lines' totals in
-- line_count, gross, fees and net (what its staged lines hold, which runs
-- count on) and the trailer's in trailer.
ALTER TABLE recon_files
    ADD COLUMN rule     text NOT NULL DEFAULT 'strict' CHECK (rule IN ('strict', 'tolerant')),
    ADD COLUMN flags    text[] NOT NULL DEFAULT '{}',
    ADD COLUMN findings jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN trailer  jsonb;

-- The statement's header and balances as sent, its TxsSummry, and what the
-- parser found: unbalanced (tolerant rule) by difference = opening + booked
-- entries - closing; findings as statement.Finding values.
ALTER TABLE recon_bank_statements
    ADD COLUMN electronic_seq text NOT NULL DEFAULT '',
    ADD COLUMN created_at     timestamptz,
    ADD COLUMN period_from    timestamptz,
    ADD COLUMN period_to      timestamptz,
    ADD COLUMN opening_type   text,
    ADD COLUMN opening_date   timestamptz,
    ADD COLUMN closing_date   timestamptz,
    ADD COLUMN interim        numeric,
    ADD COLUMN interim_at     timestamptz,
    ADD COLUMN summary        jsonb,
    ADD COLUMN unbalanced     boolean NOT NULL DEFAULT false,
    ADD COLUMN difference     numeric NOT NULL DEFAULT 0,
    ADD COLUMN findings       jsonb NOT NULL DEFAULT '[]',
    ADD CONSTRAINT recon_bank_statements_difference CHECK (unbalanced = (difference <> 0));
-- The latest intraday report of an account is looked up by its position's time.
CREATE INDEX recon_bank_statements_reports_idx ON recon_bank_statements (account, interim_at)
    WHERE kind = 'camt.052';

-- Each entry's value date, its flags (statement.Entry.Flags) and what it says
-- beyond the matched columns (statement.EntryDetails: bank transaction code,
-- batches, charges, amount details, each transaction's references, parties,
-- structured remittance, return reason); NULL when it says nothing more.
ALTER TABLE recon_bank_entries
    ADD COLUMN value_at timestamptz,
    ADD COLUMN flags    text[],
    ADD COLUMN details  jsonb;

-- Entries of camt.052 intraday reports: the day's live position, never
-- reconciled as a closed day (the runs and the matcher read
-- recon_bank_entries only).
CREATE TABLE recon_intraday_entries (LIKE recon_bank_entries INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE recon_intraday_entries ADD PRIMARY KEY (file_id, stmt_seq, entry_seq);

-- +goose Down
-- Going down forgets the intraday entries, the kept fields and findings; a
-- loaded camt.052 file stays stored (its kind no longer checked).
DROP TABLE recon_intraday_entries;
ALTER TABLE recon_bank_entries DROP COLUMN value_at, DROP COLUMN flags, DROP COLUMN details;
DROP INDEX recon_bank_statements_reports_idx;
ALTER TABLE recon_bank_statements
    DROP CONSTRAINT recon_bank_statements_difference,
    DROP COLUMN electronic_seq, DROP COLUMN created_at, DROP COLUMN period_from, DROP COLUMN period_to,
    DROP COLUMN opening_type, DROP COLUMN opening_date, DROP COLUMN closing_date, DROP COLUMN interim,
    DROP COLUMN interim_at, DROP COLUMN summary, DROP COLUMN unbalanced, DROP COLUMN difference, DROP COLUMN findings;
ALTER TABLE recon_files DROP COLUMN rule, DROP COLUMN flags, DROP COLUMN findings, DROP COLUMN trailer,
    DROP COLUMN preview, DROP COLUMN previewed_at, DROP COLUMN committed_by;
-- A held file becomes a received one: its load job was never queued, so it
-- waits for a person to import it again or reconcile its day.
UPDATE recon_files SET status = 'received' WHERE status = 'held';
ALTER TABLE recon_files DROP CONSTRAINT recon_files_status_check;
ALTER TABLE recon_files ADD CONSTRAINT recon_files_status_check
    CHECK (status IN ('received', 'loading', 'loaded', 'refused'));
ALTER TABLE recon_files DROP CONSTRAINT recon_files_kind_check;
ALTER TABLE recon_files ADD CONSTRAINT recon_files_kind_check CHECK (kind IN (
    'camt.053', 'camt.054', 'settlement.vnpay', 'settlement.momo', 'settlement.zalopay')) NOT VALID;
