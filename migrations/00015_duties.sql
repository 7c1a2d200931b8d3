-- +goose Up
-- Separation of duties (DESIGN.md §8, issue 10 item 8).

-- An admin key manages keys, users and the catalogue and reads everything, but
-- moves no money unless it is also given treasury, explicitly, at creation.
-- Only admin keys take an extra role, and the only extra role is treasury.
ALTER TABLE api_keys ADD COLUMN extra_roles text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT api_keys_extra_roles CHECK (
        extra_roles <@ ARRAY['treasury']::text[] AND (cardinality(extra_roles) = 0 OR role = 'admin'));

-- Four eyes on manual ledger entries: an entry (or a reversal) that touches an
-- agency account, or moves more than the configured amount, waits here until
-- a second, different treasury key approves it; then it is posted under the
-- request's idempotency key, in the approving transaction. The audit log keeps
-- who asked, approved or rejected (each in the transaction that did it).
CREATE TABLE ledger_entry_requests (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    kind            text NOT NULL CHECK (kind IN ('entry', 'reversal')),
    request         jsonb NOT NULL,             -- the manual entry or reversal as asked
    content_hash    bytea NOT NULL,             -- replaying the key needs the same request
    reasons         text[] NOT NULL,            -- why it needs approval: agency_account, amount
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'posted', 'rejected')),
    requested_by    text NOT NULL,
    requested_key   uuid NOT NULL,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    decided_by      text,
    decided_key     uuid,
    decided_at      timestamptz,
    note            text,
    entry_id        bigint REFERENCES ledger_entries (id),
    CONSTRAINT ledger_entry_requests_decided CHECK ((status = 'pending') = (decided_key IS NULL AND decided_at IS NULL)),
    CONSTRAINT ledger_entry_requests_posted CHECK ((status = 'posted') = (entry_id IS NOT NULL)),
    -- the four eyes: whoever posts a request is not whoever asked for it
    CONSTRAINT ledger_entry_requests_four_eyes CHECK (status <> 'posted' OR decided_key <> requested_key)
);
CREATE INDEX ledger_entry_requests_pending_idx ON ledger_entry_requests (id) WHERE status = 'pending';

-- Closed business days (GMT+7): treasury closes a day once it is reconciled,
-- and from then no ledger entry may take effect in it. Closing is final.
CREATE TABLE ledger_closed_days (
    day       date PRIMARY KEY,
    closed_by text NOT NULL CHECK (closed_by <> ''),
    closed_at timestamptz NOT NULL DEFAULT now(),
    note      text NOT NULL DEFAULT ''
);
CREATE TRIGGER ledger_closed_days_immutable BEFORE UPDATE OR DELETE ON ledger_closed_days
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_closed_days_no_truncate BEFORE TRUNCATE ON ledger_closed_days
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- No entry takes effect in a closed day, however it is inserted. One check per
-- statement (the payment flow's group commit inserts many entries in one), on
-- the statement's new rows joined with the (small, indexed) closed days.
-- +goose StatementBegin
CREATE FUNCTION ledger_check_open_day() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    closed date;
    entry bigint;
BEGIN
    SELECT c.day, n.id INTO closed, entry
      FROM added n JOIN ledger_closed_days c ON c.day = (n.effective_at AT TIME ZONE INTERVAL '+07:00')::date
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: entry % would take effect on %, a closed business day', entry, closed
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_open_day';
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER ledger_entries_open_day AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_open_day();

-- +goose Down
DROP TRIGGER ledger_entries_open_day ON ledger_entries;
DROP FUNCTION ledger_check_open_day();
DROP TABLE ledger_closed_days, ledger_entry_requests;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_extra_roles, DROP COLUMN extra_roles;
