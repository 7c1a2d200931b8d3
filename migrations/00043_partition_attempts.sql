-- +goose Up
-- Payment attempts by month (issue 15; the machinery is 00032's), on
-- created_at. An attempt's row is updated through its life (pending →
-- succeeded, failed or expired), so unlike the ledger's its rows are not
-- immutable; its identity and partition are: id, order_id, gateway and
-- gateway_ref never change, and created_at only moves it (tests backdate
-- attempts; see payment_attempt_key_update).
--
-- A partitioned table's unique keys must hold created_at, so the global
-- guarantees move to payment_attempt_keys, which is not partitioned: one
-- narrow row per attempt, written by the attempts' own triggers in the
-- statement that writes the attempt (its id, order, gateway reference and
-- time, and the three columns the unique rules read: status, outcome,
-- gateway_txn_id). There:
--   * id is the primary key: an id used twice, in any month, is refused;
--   * payment_attempts_one_payment (order_id WHERE outcome = 'payment'): one
--     attempt pays an order, whatever month the racing attempts are in;
--   * payment_attempts_txn_key (gateway, gateway_txn_id WHERE status =
--     'succeeded'): one gateway transaction is the success of one attempt;
--   * payment_refunds.attempt_id references its id;
--   * an attempt is found by id or by (gateway, gateway_ref) with its
--     created_at, so that the lookup then reads one partition.
-- The unique indexes keep their names, so a refusal names the rule as before.
DROP VIEW payments_recon_attempts;
ALTER TABLE payment_refunds DROP CONSTRAINT payment_refunds_attempt_id_fkey;
SELECT partition_set_aside('payment_attempts', 'payment_attempts_unpartitioned');
CREATE TABLE payment_attempts (
    id             uuid NOT NULL,
    order_id       uuid NOT NULL REFERENCES orders (id),
    gateway        text NOT NULL CHECK (gateway ~ '^[a-z][a-z0-9_-]{0,31}$'),
    method         text NOT NULL CHECK (method ~ '^[a-z][a-z0-9_-]{0,31}$'),
    gateway_ref    text NOT NULL CHECK (length(gateway_ref) BETWEEN 1 AND 64),
    gateway_txn_id text CHECK (length(gateway_txn_id) BETWEEN 1 AND 128),
    currency       char(3) NOT NULL,
    amount         numeric NOT NULL CHECK (amount > 0),
    status         text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'expired')),
    outcome        text CHECK (outcome IN ('payment', 'overpayment')),
    redirect_url   text,
    qr_payload     text,
    result_code    text,
    result_message text,
    last_result    jsonb,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    paid_at        timestamptz,
    followed_at    timestamptz,
    CONSTRAINT payment_attempts_outcome CHECK ((status = 'succeeded') = (outcome IS NOT NULL)),
    CONSTRAINT payment_attempts_success CHECK (status <> 'succeeded' OR (gateway_txn_id IS NOT NULL AND paid_at IS NOT NULL)),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX payment_attempts_ref_idx ON payment_attempts (gateway, gateway_ref);
CREATE INDEX payment_attempts_order_idx ON payment_attempts (order_id, created_at);
CREATE INDEX payment_attempts_recon_paid_idx ON payment_attempts (gateway, paid_at) WHERE status = 'succeeded';
CREATE INDEX payment_attempts_unfollowed_idx ON payment_attempts (created_at)
    WHERE status = 'pending' AND followed_at IS NULL;
INSERT INTO partitioned_tables (parent, key_column) VALUES ('payment_attempts', 'created_at');
CREATE TABLE payment_attempts_default PARTITION OF payment_attempts DEFAULT;

CREATE TABLE payment_attempt_keys (
    id             uuid PRIMARY KEY,
    order_id       uuid NOT NULL,
    gateway        text NOT NULL,
    gateway_ref    text NOT NULL,
    created_at     timestamptz NOT NULL,
    status         text NOT NULL,
    outcome        text,
    gateway_txn_id text
);
CREATE INDEX payment_attempt_keys_ref_idx ON payment_attempt_keys (gateway, gateway_ref, created_at);
-- One attempt pays an order; any other success is an overpayment.
CREATE UNIQUE INDEX payment_attempts_one_payment ON payment_attempt_keys (order_id) WHERE outcome = 'payment';
-- One gateway transaction is recorded as the success of one attempt.
CREATE UNIQUE INDEX payment_attempts_txn_key ON payment_attempt_keys (gateway, gateway_txn_id) WHERE status = 'succeeded';

-- A new attempt's key row. ON CONFLICT: an attempt whose created_at an
-- update moved to another month arrives here as an insert into that month's
-- partition, its key row already moved by payment_attempt_key_update; any
-- other attempt whose id is taken is refused, under the primary key's name.
-- A concurrent insert of the same id waits here for the other's commit.
-- +goose StatementBegin
CREATE FUNCTION payment_attempt_key_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO payment_attempt_keys (id, order_id, gateway, gateway_ref, created_at, status, outcome, gateway_txn_id)
    VALUES (NEW.id, NEW.order_id, NEW.gateway, NEW.gateway_ref, NEW.created_at, NEW.status, NEW.outcome, NEW.gateway_txn_id)
    ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        PERFORM FROM payment_attempt_keys k WHERE k.id = NEW.id AND k.order_id = NEW.order_id
            AND k.gateway = NEW.gateway AND k.gateway_ref = NEW.gateway_ref AND k.created_at = NEW.created_at
            AND k.status = NEW.status AND k.outcome IS NOT DISTINCT FROM NEW.outcome
            AND k.gateway_txn_id IS NOT DISTINCT FROM NEW.gateway_txn_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'payments: attempt % exists already', NEW.id
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'payment_attempts_pkey';
        END IF;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- An attempt's change carried to its key row, before the row is written (a
-- refusal by the key table's unique indexes refuses the update). BEFORE, not
-- AFTER: an update that moves the row to another partition fires the BEFORE
-- UPDATE triggers and then the insert's, never AFTER UPDATE.
-- +goose StatementBegin
CREATE FUNCTION payment_attempt_key_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id <> OLD.id OR NEW.order_id <> OLD.order_id OR NEW.gateway <> OLD.gateway OR NEW.gateway_ref <> OLD.gateway_ref THEN
        RAISE EXCEPTION 'payments: attempt % keeps its id, order and gateway reference', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'payment_attempts_identity';
    END IF;
    IF NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.status IS DISTINCT FROM OLD.status
            OR NEW.outcome IS DISTINCT FROM OLD.outcome OR NEW.gateway_txn_id IS DISTINCT FROM OLD.gateway_txn_id THEN
        UPDATE payment_attempt_keys SET created_at = NEW.created_at, status = NEW.status, outcome = NEW.outcome,
            gateway_txn_id = NEW.gateway_txn_id
        WHERE id = OLD.id;
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER payment_attempts_key_insert AFTER INSERT ON payment_attempts
    FOR EACH ROW EXECUTE FUNCTION payment_attempt_key_insert();
CREATE TRIGGER payment_attempts_key_update BEFORE UPDATE ON payment_attempts
    FOR EACH ROW EXECUTE FUNCTION payment_attempt_key_update();

SELECT partition_cover('payment_attempts', 'payment_attempts_unpartitioned');
-- The copy fills payment_attempt_keys through the insert trigger.
SELECT partition_copy('payment_attempts_unpartitioned', 'payment_attempts');
DROP TABLE payment_attempts_unpartitioned;
ALTER TABLE payment_refunds ADD CONSTRAINT payment_refunds_attempt_id_fkey
    FOREIGN KEY (attempt_id) REFERENCES payment_attempt_keys (id);

-- payments: attempts as reconciliation matches them (00017).
CREATE VIEW payments_recon_attempts AS
SELECT id, order_id, gateway, gateway_ref, gateway_txn_id, status, amount, currency, paid_at, created_at
FROM payment_attempts;

-- +goose Down
DROP VIEW payments_recon_attempts;
ALTER TABLE payment_refunds DROP CONSTRAINT payment_refunds_attempt_id_fkey;
SELECT partition_set_aside('payment_attempts', 'payment_attempts_partitioned');
CREATE TABLE payment_attempts (
    id             uuid PRIMARY KEY,
    order_id       uuid NOT NULL REFERENCES orders (id),
    gateway        text NOT NULL CHECK (gateway ~ '^[a-z][a-z0-9_-]{0,31}$'),
    method         text NOT NULL CHECK (method ~ '^[a-z][a-z0-9_-]{0,31}$'),
    gateway_ref    text NOT NULL CHECK (length(gateway_ref) BETWEEN 1 AND 64),
    gateway_txn_id text CHECK (length(gateway_txn_id) BETWEEN 1 AND 128),
    currency       char(3) NOT NULL,
    amount         numeric NOT NULL CHECK (amount > 0),
    status         text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'expired')),
    outcome        text CHECK (outcome IN ('payment', 'overpayment')),
    redirect_url   text,
    qr_payload     text,
    result_code    text,
    result_message text,
    last_result    jsonb,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    paid_at        timestamptz,
    followed_at    timestamptz,
    CONSTRAINT payment_attempts_outcome CHECK ((status = 'succeeded') = (outcome IS NOT NULL)),
    CONSTRAINT payment_attempts_success CHECK (status <> 'succeeded' OR (gateway_txn_id IS NOT NULL AND paid_at IS NOT NULL))
);
SELECT partition_copy('payment_attempts_partitioned', 'payment_attempts');
DROP TABLE payment_attempts_partitioned, payment_attempt_keys;
DROP FUNCTION payment_attempt_key_insert(), payment_attempt_key_update();
DELETE FROM partitioned_tables WHERE parent = 'payment_attempts';
CREATE INDEX payment_attempts_ref_idx ON payment_attempts (gateway, gateway_ref);
CREATE INDEX payment_attempts_order_idx ON payment_attempts (order_id, created_at);
CREATE UNIQUE INDEX payment_attempts_one_payment ON payment_attempts (order_id) WHERE outcome = 'payment';
CREATE UNIQUE INDEX payment_attempts_txn_key ON payment_attempts (gateway, gateway_txn_id) WHERE status = 'succeeded';
CREATE INDEX payment_attempts_recon_paid_idx ON payment_attempts (gateway, paid_at) WHERE status = 'succeeded';
CREATE INDEX payment_attempts_unfollowed_idx ON payment_attempts (created_at)
    WHERE status = 'pending' AND followed_at IS NULL;
ALTER TABLE payment_refunds ADD CONSTRAINT payment_refunds_attempt_id_fkey
    FOREIGN KEY (attempt_id) REFERENCES payment_attempts (id);
CREATE VIEW payments_recon_attempts AS
SELECT id, order_id, gateway, gateway_ref, gateway_txn_id, status, amount, currency, paid_at, created_at
FROM payment_attempts;
