-- +goose Up
-- The audit log: who did what, when, from where, to which resource — every
-- mutation a person or a key makes through the API or the CLI (keys, catalogue,
-- refunds, manual ledger entries, statements, reconciliation, webhook endpoints,
-- approvals, closed days). A row is written by the transaction that makes the
-- change (internal/domain/audit.Record), so a change without its audit row cannot
-- commit and an audit row without its change cannot exist. Like the ledger it is
-- append-only: UPDATE, DELETE and TRUNCATE are refused. It is never pruned.
--
-- Orders created by portals and payments made by citizens and gateways are not
-- here: each order keeps its own append-only trail in order_events.
CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor         text NOT NULL CHECK (actor <> ''),      -- key:<prefix>, user:<id>, cli:<os user>, system
    actor_role    text NOT NULL,
    action        text NOT NULL CHECK (action <> ''),     -- e.g. key.create, catalogue.agency.update
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    source_ip     text NOT NULL DEFAULT '',
    request_id    text NOT NULL DEFAULT '',
    route         text NOT NULL DEFAULT '',               -- "POST /v1/keys" or "civicpay keys create"
    before        jsonb,
    after         jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
CREATE INDEX audit_log_resource_idx ON audit_log (resource_type, resource_id, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);

-- +goose StatementBegin
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit: % on % is refused: the audit log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- Keys may expire: an expired key authenticates no more, like a revoked one.
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN expires_at;
DROP TABLE audit_log;
DROP FUNCTION audit_refuse_change();
