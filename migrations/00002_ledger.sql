-- +goose Up
-- The double-entry ledger (DESIGN.md §5). Append-only: entries and postings are
-- never updated or deleted (triggers refuse it), every entry balances per
-- currency (a deferred constraint trigger checks it at commit), and balances are
-- derived from postings plus snapshots, so no row is updated by every posting.

-- Chart of accounts. Accounts are created on first use; kind and currency
-- never change, and accounts are never deleted (triggers refuse both).
CREATE TABLE ledger_accounts (
    code       text PRIMARY KEY CHECK (code ~ '^[a-z]+(:[A-Za-z0-9][A-Za-z0-9._-]{0,63})*$' AND length(code) <= 160),
    kind       text NOT NULL CHECK (kind IN ('asset', 'liability', 'revenue', 'expense')),
    currency   char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- xid is the (64-bit) id of the transaction that recorded the entry. Identity
-- order is not commit order; xid order lets the sealer and the balance snapshots
-- take exactly the entries no in-flight transaction can still join (see ledger/doc.go).
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
-- An entry is reversed at most once.
CREATE UNIQUE INDEX ledger_entries_reverses_key ON ledger_entries (reverses) WHERE reverses IS NOT NULL;
CREATE INDEX ledger_entries_xid_idx ON ledger_entries (xid, id);
CREATE INDEX ledger_entries_effective_idx ON ledger_entries (effective_at, id);

-- net is the signed amount (debit positive); xid and effective_at are copies of
-- the entry's, set by a trigger, so balance and as-of queries need no join.
-- Neither entry_id nor (account_code, currency) has a foreign key: the stamp
-- trigger checks both (the entry was recorded by this transaction; the account
-- exists in this currency), and neither entries nor accounts can be deleted or
-- changed. A foreign key would take a row lock on the account for every
-- posting: on a hot account, a MultiXact shared by every transaction in flight.
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

-- Balance snapshots: net (debits minus credits) of every posting to the account
-- with xid < up_to_xid. Derived data: rows may be pruned, never changed.
CREATE TABLE ledger_balance_snapshots (
    account_code text NOT NULL REFERENCES ledger_accounts (code),
    up_to_xid    bigint NOT NULL,
    net          numeric NOT NULL,
    postings     bigint NOT NULL CHECK (postings >= 0),
    taken_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_code, up_to_xid)
);

-- The seal chain: batch n covers the entries after batch n-1's last (xid, id)
-- up to and including (last_xid, last_entry_id); hash = SHA-256 over prev_hash
-- and the entries' canonical hashes.
CREATE TABLE ledger_seals (
    batch_no      bigint PRIMARY KEY CHECK (batch_no >= 1),
    last_xid      bigint NOT NULL,
    last_entry_id bigint NOT NULL,
    entry_count   integer NOT NULL CHECK (entry_count >= 1),
    prev_hash     bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash          bytea NOT NULL CHECK (length(hash) = 32),
    sealed_at     timestamptz NOT NULL DEFAULT now()
);

-- +goose StatementBegin
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % on % is refused: the ledger is append-only (post a reversing entry)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;
-- +goose StatementEnd

-- Postings join only an entry recorded by the same transaction, and take its
-- xid and effective time; their account must exist in their currency.
-- +goose StatementBegin
CREATE FUNCTION ledger_posting_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- Runs at commit (deferred): the entry carries this transaction's xid and
-- start time (its column defaults), has at least two postings, and they sum to
-- zero in every currency.
-- +goose StatementBegin
CREATE FUNCTION ledger_check_entry() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry();
CREATE TRIGGER ledger_postings_stamp BEFORE INSERT ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_posting_stamp();

CREATE TRIGGER ledger_accounts_immutable BEFORE UPDATE OR DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_postings_immutable BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_seals_immutable BEFORE UPDATE OR DELETE ON ledger_seals
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_balance_snapshots_immutable BEFORE UPDATE ON ledger_balance_snapshots
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_accounts_no_truncate BEFORE TRUNCATE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_seals_no_truncate BEFORE TRUNCATE ON ledger_seals
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- +goose Down
DROP TABLE ledger_seals, ledger_balance_snapshots, ledger_postings, ledger_entries, ledger_accounts;
DROP FUNCTION ledger_check_entry(), ledger_posting_stamp(), ledger_refuse_change();
