-- +goose Up
-- National IDs and webhook signing secrets encrypted at rest (issue 10, item 9).
-- Values are sealed in Go (internal/foundation/secretbox: AES-256-GCM, the key id in every
-- value, keys from CIVICPAY_DATA_KEYS) — SQL never sees a key, so this
-- migration cannot encrypt the rows already there. It adds the encrypted
-- columns and leaves existing plaintext readable; `civicpay keys
-- rotate-data-key` then seals every value not under the current key, in
-- batches, and clears the plaintext (run it once after upgrading, and after
-- each key change). New rows are written sealed only; a CHECK keeps a value
-- from being both sealed and in clear.
--
-- Orders: the sealed national ID, its keyed hash (HMAC-SHA256 under
-- CIVICPAY_LOOKUP_KEY, for equality lookups without decrypting) and its masked
-- form (last three digits, as every non-creator already sees it), so the
-- paths that only show the masked number need no key.
ALTER TABLE orders
    ADD COLUMN payer_national_id_enc bytea,
    ADD COLUMN payer_national_id_hash bytea,
    ADD COLUMN payer_national_id_masked text,
    ADD CONSTRAINT orders_payer_national_id_sealed CHECK (payer_national_id IS NULL OR payer_national_id_enc IS NULL),
    ADD CONSTRAINT orders_payer_national_id_hashed CHECK ((payer_national_id_enc IS NULL) = (payer_national_id_hash IS NULL));

-- Webhook endpoints: exactly one of secret (legacy, clear) and secret_enc; the
-- previous secret likewise, kept only during its grace period.
ALTER TABLE webhook_endpoints
    ALTER COLUMN secret DROP NOT NULL,
    ADD COLUMN secret_enc bytea,
    ADD COLUMN previous_secret_enc bytea,
    DROP CONSTRAINT webhook_endpoints_previous_secret,
    ADD CONSTRAINT webhook_endpoints_secret CHECK ((secret IS NULL) <> (secret_enc IS NULL)),
    ADD CONSTRAINT webhook_endpoints_previous_secret CHECK (
        (previous_secret IS NULL AND previous_secret_enc IS NULL) = (previous_secret_expires_at IS NULL)
        AND (previous_secret IS NULL OR previous_secret_enc IS NULL));

-- create_order takes the sealed national ID, its hash and its masked form
-- instead of the national ID.
DROP FUNCTION create_order(uuid, text, text, uuid, text, text, numeric, text, text, text, text, text, text, jsonb,
    timestamptz, timestamptz, text, jsonb, text, bytea, smallint[], text[], text[], text[], numeric[]);
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

-- +goose Down
-- Going down would drop the only copy of every sealed value: refused while any
-- exists (SQL cannot decrypt them).
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM orders WHERE payer_national_id_enc IS NOT NULL)
       OR EXISTS (SELECT 1 FROM webhook_endpoints WHERE secret_enc IS NOT NULL OR previous_secret_enc IS NOT NULL) THEN
        RAISE EXCEPTION 'encrypted national IDs or webhook secrets exist: going below migration 00013 would lose them';
    END IF;
END
$$;
-- +goose StatementEnd
DROP FUNCTION create_order(uuid, text, text, uuid, text, text, numeric, text, bytea, bytea, text, text, text, text, text,
    jsonb, timestamptz, timestamptz, text, jsonb, text, bytea, smallint[], text[], text[], text[], numeric[]);
ALTER TABLE webhook_endpoints
    DROP CONSTRAINT webhook_endpoints_previous_secret,
    DROP CONSTRAINT webhook_endpoints_secret,
    DROP COLUMN previous_secret_enc,
    DROP COLUMN secret_enc,
    ALTER COLUMN secret SET NOT NULL,
    ADD CONSTRAINT webhook_endpoints_previous_secret CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL));
ALTER TABLE orders
    DROP CONSTRAINT orders_payer_national_id_hashed,
    DROP CONSTRAINT orders_payer_national_id_sealed,
    DROP COLUMN payer_national_id_masked,
    DROP COLUMN payer_national_id_hash,
    DROP COLUMN payer_national_id_enc;

-- create_order as migrations/00007 left it.
-- +goose StatementBegin
CREATE FUNCTION create_order(
    p_id uuid, p_reference text, p_agency text, p_client uuid, p_status text, p_currency text, p_total numeric,
    p_payer_name text, p_national_id text, p_email text, p_phone text, p_description text, p_return_url text,
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
        payer_national_id, payer_email, payer_phone, description, return_url, metadata, expires_at, created_at, updated_at,
        idempotency_key, request_hash)
    VALUES (p_id, p_reference, p_agency, p_client, p_status, p_currency, p_total, p_payer_name,
        nullif(p_national_id, ''), nullif(p_email, ''), nullif(p_phone, ''), p_description, nullif(p_return_url, ''),
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
