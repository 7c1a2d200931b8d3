-- +goose Up
-- Closing a business day from the treasury's workspace (issue 14, part 4):
-- exceptions carried forward, the day's totals kept with its closing, and
-- reopening a closed day on a second treasury person's approval.

-- What the closer recorded of the day: reconciliation's totals at the moment
-- of closing (per gateway ours, theirs and the bank's; per agency; the
-- exceptions), kept with the closing so the day's report says what was
-- closed whatever changes later. Closings from before this migration have {}.
ALTER TABLE ledger_closed_days ADD COLUMN totals jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Reopening a closed day. A closing is still never changed; it may only be
-- deleted, and only in the transaction that approves a reopen request for
-- that very closing (day and closed_at): the request is made by one treasury
-- person, approved by another (never its requester), and keeps the closing as
-- it was. Everything that asks whether a day is closed (the entries' trigger,
-- the ledger's rules) keeps reading ledger_closed_days alone; closing the day
-- again inserts a new closing.
CREATE TABLE ledger_day_reopens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    day           date NOT NULL,
    -- which closing of the day it reopens, and that closing as it was
    closed_at     timestamptz NOT NULL,
    closing       jsonb NOT NULL,
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by  text NOT NULL CHECK (requested_by <> ''),
    requested_at  timestamptz NOT NULL DEFAULT now(),
    decided_by    text,
    decided_at    timestamptz,
    decision_note text NOT NULL DEFAULT '',
    -- the transaction that approved it: the only one that may delete the closing
    decided_xact  xid8,
    CONSTRAINT ledger_day_reopens_decided CHECK ((status = 'pending') = (decided_by IS NULL AND decided_at IS NULL)),
    CONSTRAINT ledger_day_reopens_approved CHECK ((status = 'approved') = (decided_xact IS NOT NULL)),
    -- the four eyes: whoever approves a reopening is not whoever asked for it
    CONSTRAINT ledger_day_reopens_four_eyes CHECK (status <> 'approved' OR decided_by <> requested_by)
);
CREATE UNIQUE INDEX ledger_day_reopens_pending_key ON ledger_day_reopens (day) WHERE status = 'pending';
CREATE UNIQUE INDEX ledger_day_reopens_closing_key ON ledger_day_reopens (day, closed_at) WHERE status = 'approved';
CREATE INDEX ledger_day_reopens_day_idx ON ledger_day_reopens (day, id);

-- A request is decided once; none is deleted.
-- +goose StatementBegin
CREATE FUNCTION ledger_day_reopen_decided_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'pending' THEN
        RAISE EXCEPTION 'ledger: reopen request % is % already', OLD.id, OLD.status USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER ledger_day_reopens_decided_once BEFORE UPDATE ON ledger_day_reopens
    FOR EACH ROW EXECUTE FUNCTION ledger_day_reopen_decided_once();
CREATE TRIGGER ledger_day_reopens_no_delete BEFORE DELETE ON ledger_day_reopens
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_day_reopens_no_truncate BEFORE TRUNCATE ON ledger_day_reopens
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- A closing is never updated; it is deleted only by its approved reopening.
DROP TRIGGER ledger_closed_days_immutable ON ledger_closed_days;
CREATE TRIGGER ledger_closed_days_no_update BEFORE UPDATE ON ledger_closed_days
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
-- +goose StatementBegin
CREATE FUNCTION ledger_closed_day_reopen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_day_reopens r
                WHERE r.day = OLD.day AND r.closed_at = OLD.closed_at AND r.status = 'approved'
                  AND r.decided_xact = pg_current_xact_id()) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'ledger: closed business day % is reopened only by an approved reopen request, in the transaction that approves it', OLD.day
        USING ERRCODE = 'restrict_violation';
END $$;
-- +goose StatementEnd
CREATE TRIGGER ledger_closed_days_reopen BEFORE DELETE ON ledger_closed_days
    FOR EACH ROW EXECUTE FUNCTION ledger_closed_day_reopen();

-- Exceptions carried forward: an exception still open when its day closes,
-- explicitly moved on by a treasury person with a note. It stays open (it is
-- still to be worked, in the queue) but no longer holds its day open.
CREATE TABLE recon_exception_carries (
    exception_id  bigint PRIMARY KEY REFERENCES recon_exceptions (id),
    business_date date NOT NULL,
    note          text NOT NULL CHECK (length(note) BETWEEN 1 AND 2000),
    carried_by    text NOT NULL CHECK (carried_by <> ''),
    carried_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recon_exception_carries_day_idx ON recon_exception_carries (business_date);

-- The carry is in the exception's history. (The list keeps every action the
-- exception queue records, migration 00026, so that this file may run after it.)
ALTER TABLE recon_exception_events DROP CONSTRAINT recon_exception_events_action_check;
ALTER TABLE recon_exception_events ADD CONSTRAINT recon_exception_events_action_check
    CHECK (action IN ('raised', 'reclassified', 'auto_resolved', 'resolved', 'cleared', 'reopened', 'awaiting_approval', 'approved',
                      'acknowledged', 'assigned', 'noted', 'snoozed', 'resolution_requested', 'resolution_rejected',
                      'carried_forward'));

-- +goose Down
-- Going down keeps the carry events (the constraint is not checked against
-- existing rows) and forgets the reopen requests and the closings' totals.
ALTER TABLE recon_exception_events DROP CONSTRAINT recon_exception_events_action_check;
ALTER TABLE recon_exception_events ADD CONSTRAINT recon_exception_events_action_check
    CHECK (action IN ('raised', 'reclassified', 'auto_resolved', 'resolved', 'cleared', 'reopened', 'awaiting_approval', 'approved',
                      'acknowledged', 'assigned', 'noted', 'snoozed', 'resolution_requested', 'resolution_rejected'))
    NOT VALID;
DROP TABLE recon_exception_carries;
DROP TRIGGER ledger_closed_days_reopen ON ledger_closed_days;
DROP FUNCTION ledger_closed_day_reopen();
DROP TRIGGER ledger_closed_days_no_update ON ledger_closed_days;
CREATE TRIGGER ledger_closed_days_immutable BEFORE UPDATE OR DELETE ON ledger_closed_days
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
DROP TABLE ledger_day_reopens;
DROP FUNCTION ledger_day_reopen_decided_once();
ALTER TABLE ledger_closed_days DROP COLUMN totals;
