-- +goose Up
-- Orders are written by one statement for one order and for a batch
-- (payments/sql/create_orders.sql), which holds the idempotency rules once:
-- the create_order function that held a second copy of them goes.
DROP FUNCTION create_order(uuid, text, text, uuid, text, text, numeric, text, bytea, bytea, text, text, text, text, text,
    jsonb, timestamptz, timestamptz, text, jsonb, text, bytea, smallint[], text[], text[], text[], numeric[]);

-- What other packages read of a package's tables, published by the package
-- that owns them: reconciliation and webhooks read these views, never the
-- tables, so the owner may change its tables behind them. Each is a plain
-- projection of one table, inlined by the planner (same plans as on the table).

-- payments: attempts as reconciliation matches them.
CREATE VIEW payments_recon_attempts AS
SELECT id, order_id, gateway, gateway_ref, gateway_txn_id, status, amount, currency, paid_at, created_at
FROM payment_attempts;

-- payments: refunds as reconciliation matches them (attempt_id leads to the
-- attempt, and so to its gateway).
CREATE VIEW payments_recon_refunds AS
SELECT id, attempt_id, gateway_refund_id, status, amount, currency, completed_at
FROM payment_refunds;

-- payments: orders as reconciliation matches a bank credit to them (by
-- payment reference).
CREATE VIEW payments_recon_orders AS
SELECT id, reference, status, total, currency
FROM orders;

-- auth: who an API key is, for the webhooks' fan-out (role, agency, revoked).
CREATE VIEW auth_key_roles AS
SELECT id, role, agency_code, revoked_at
FROM api_keys;

-- +goose Down
DROP VIEW auth_key_roles;
DROP VIEW payments_recon_orders;
DROP VIEW payments_recon_refunds;
DROP VIEW payments_recon_attempts;

-- create_order as migrations/00013 left it.
-- +goose StatementBegin
CREATE FUNCTION create_order(
    p_id uuid, p_reference text, p_agency text, p_client uuid, p_status text, p_currency text, p_total numeric,
    p_payer_name text, p_national_id_enc bytea, p_national_id_hash bytea, p_national_id_masked text,
    p_email text, p_phone text, p_description text, p_return_url text,
    p_metadata jsonb, p_expires_at timestamptz, p_created_at timestamptz, p_actor text, p_event_data jsonb,
    p_key text, p_hash bytea,
    l_nos smallint[], l_services text[], l_agencies text[], l_kinds text[], l_amounts numeric[],
    OUT outcome text, OUT order_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    stored_hash bytea;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(p_client::text || ':' || p_key, 0)) THEN
        outcome := 'busy';
        RETURN;
    END IF;
    SELECT o.request_hash, o.id INTO stored_hash, order_id
      FROM orders o WHERE o.created_by = p_client AND o.idempotency_key = p_key;
    IF FOUND THEN
        outcome := CASE WHEN stored_hash = p_hash THEN 'replay' ELSE 'mismatch' END;
        RETURN;
    END IF;
    INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total, payer_name,
        payer_national_id_enc, payer_national_id_hash, payer_national_id_masked,
        payer_email, payer_phone, description, return_url, metadata, expires_at, created_at, updated_at,
        idempotency_key, request_hash)
    VALUES (p_id, p_reference, p_agency, p_client, p_status, p_currency, p_total, p_payer_name,
        p_national_id_enc, p_national_id_hash, nullif(p_national_id_masked, ''),
        nullif(p_email, ''), nullif(p_phone, ''), p_description, nullif(p_return_url, ''),
        p_metadata, p_expires_at, p_created_at, p_created_at, p_key, p_hash);
    INSERT INTO order_lines (order_id, line_no, service_code, agency_code, kind, amount)
    SELECT p_id, * FROM unnest(l_nos, l_services, l_agencies, l_kinds, l_amounts);
    INSERT INTO order_events (order_id, type, actor, data, created_at)
    VALUES (p_id, 'order.created', p_actor, p_event_data, p_created_at);
    outcome := 'created';
    order_id := p_id;
END
$$;
-- +goose StatementEnd
