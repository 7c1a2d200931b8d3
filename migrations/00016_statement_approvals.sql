-- +goose Up
-- Statements are evidence, not commands. A bank credit that would pay an order
-- with no paid attempt (a VietQR transfer the service never saw) is recorded at
-- once only when the statement came from the authenticated fetch. A credit from
-- an uploaded or imported file waits here, awaiting_approval, for a second
-- treasury key (not the one that brought the file) to approve it.
ALTER TABLE recon_exceptions DROP CONSTRAINT recon_exceptions_status_check;
ALTER TABLE recon_exceptions ADD CONSTRAINT recon_exceptions_status_check
    CHECK (status IN ('open', 'awaiting_approval', 'auto_resolved', 'resolved', 'cleared'));
-- Who brought the file whose credit waits (the approver must be someone else).
ALTER TABLE recon_exceptions ADD COLUMN approval_requested_by text;
ALTER TABLE recon_exceptions ADD CONSTRAINT recon_exceptions_awaiting
    CHECK (status <> 'awaiting_approval' OR approval_requested_by IS NOT NULL);
ALTER TABLE recon_exception_events DROP CONSTRAINT recon_exception_events_action_check;
ALTER TABLE recon_exception_events ADD CONSTRAINT recon_exception_events_action_check
    CHECK (action IN ('raised', 'reclassified', 'auto_resolved', 'resolved', 'cleared', 'reopened', 'awaiting_approval', 'approved'));
CREATE INDEX recon_exceptions_awaiting_idx ON recon_exceptions (business_date, id) WHERE status = 'awaiting_approval';

-- +goose Down
-- Going down forgets which credits waited for approval (they become open
-- exceptions again) and the events that said so; nothing was paid by them.
UPDATE recon_exceptions SET status = 'open' WHERE status = 'awaiting_approval';
ALTER TABLE recon_exception_events DROP CONSTRAINT recon_exception_events_action_check;
ALTER TABLE recon_exception_events ADD CONSTRAINT recon_exception_events_action_check
    CHECK (action IN ('raised', 'reclassified', 'auto_resolved', 'resolved', 'cleared', 'reopened')) NOT VALID;
DROP INDEX recon_exceptions_awaiting_idx;
ALTER TABLE recon_exceptions DROP CONSTRAINT recon_exceptions_awaiting;
ALTER TABLE recon_exceptions DROP COLUMN approval_requested_by;
ALTER TABLE recon_exceptions DROP CONSTRAINT recon_exceptions_status_check;
ALTER TABLE recon_exceptions ADD CONSTRAINT recon_exceptions_status_check
    CHECK (status IN ('open', 'auto_resolved', 'resolved', 'cleared'));
