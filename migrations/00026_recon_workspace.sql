-- +goose Up
-- The treasury's exception queue (issue 14): exceptions are worked by people.
-- An open exception may be acknowledged (someone is on it), assigned to a
-- treasury user, snoozed until a day (hidden from the queue's default view
-- until then) and discussed in notes; all of it is in recon_exception_events.
-- Acknowledged stays status 'open' with acknowledged_at set, so every rule
-- that counts or clears open exceptions (runs, closing a day) counts it too.
ALTER TABLE recon_exceptions
    ADD COLUMN assignee text CHECK (length(assignee) BETWEEN 1 AND 300),
    ADD COLUMN acknowledged_by text,
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN snoozed_until date,
    -- A resolution that moves money and waits for a second treasury approver.
    ADD COLUMN pending_resolution_id bigint,
    ADD CONSTRAINT recon_exceptions_acknowledged CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL));
-- The queue's default view: what is still to be worked, newest last.
CREATE INDEX recon_exceptions_queue_idx ON recon_exceptions (id) WHERE status IN ('open', 'awaiting_approval');

ALTER TABLE recon_exception_events DROP CONSTRAINT recon_exception_events_action_check;
ALTER TABLE recon_exception_events ADD CONSTRAINT recon_exception_events_action_check
    CHECK (action IN ('raised', 'reclassified', 'auto_resolved', 'resolved', 'cleared', 'reopened', 'awaiting_approval', 'approved',
                      'acknowledged', 'assigned', 'noted', 'snoozed', 'resolution_requested', 'resolution_rejected'));

-- Resolutions that do something: a hand match, a move out of suspense to an
-- order or back to the sender, a write-off, a gateway's fee accepted. Each is
-- recorded with what was asked and the ledger entries it posted (the link
-- from the exception to the ledger). At most one is pending or posted per
-- exception, which with the ledger's idempotency keys makes a retried or
-- double-submitted resolution post once. One above the configured amount
-- waits (pending) for a second treasury approver, never its requester.
CREATE TABLE recon_resolutions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exception_id     bigint NOT NULL REFERENCES recon_exceptions (id),
    kind             text NOT NULL CHECK (kind IN ('match', 'to_order', 'refund_sender', 'write_off', 'accept_fee')),
    request          jsonb NOT NULL,
    amount           numeric NOT NULL CHECK (amount >= 0),
    difference       numeric NOT NULL DEFAULT 0,
    currency         char(3) NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'posted', 'rejected')),
    requested_by     text NOT NULL,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    -- Who approved (NULL: no approval was needed) or rejected it.
    decided_by       text,
    decided_at       timestamptz,
    decision_note    text,
    ledger_entry_ids bigint[] NOT NULL DEFAULT '{}',
    CONSTRAINT recon_resolutions_decided CHECK ((status = 'pending') = (decided_at IS NULL)),
    -- the four eyes: whoever approves a resolution is not whoever asked
    -- for it (the requester may withdraw it: reject).
    CONSTRAINT recon_resolutions_four_eyes CHECK (status <> 'posted' OR decided_by IS NULL OR decided_by <> requested_by)
);
CREATE UNIQUE INDEX recon_resolutions_active_key ON recon_resolutions (exception_id) WHERE status IN ('pending', 'posted');
CREATE INDEX recon_resolutions_pending_idx ON recon_resolutions (id) WHERE status = 'pending';
ALTER TABLE recon_exceptions ADD CONSTRAINT recon_exceptions_pending_resolution
    FOREIGN KEY (pending_resolution_id) REFERENCES recon_resolutions (id);

-- +goose Down
ALTER TABLE recon_exceptions DROP CONSTRAINT recon_exceptions_pending_resolution;
DROP TABLE recon_resolutions;
-- Going down keeps the events of the queue's actions (who acknowledged,
-- assigned, noted): the constraint is not checked against existing rows.
ALTER TABLE recon_exception_events DROP CONSTRAINT recon_exception_events_action_check;
ALTER TABLE recon_exception_events ADD CONSTRAINT recon_exception_events_action_check
    CHECK (action IN ('raised', 'reclassified', 'auto_resolved', 'resolved', 'cleared', 'reopened', 'awaiting_approval', 'approved'))
    NOT VALID;
DROP INDEX recon_exceptions_queue_idx;
ALTER TABLE recon_exceptions DROP CONSTRAINT recon_exceptions_acknowledged,
    DROP COLUMN pending_resolution_id, DROP COLUMN snoozed_until, DROP COLUMN acknowledged_at, DROP COLUMN acknowledged_by,
    DROP COLUMN assignee;
