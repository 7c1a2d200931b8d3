-- +goose Up
-- Catalogue: the agencies civicpay collects for and the services they charge.
CREATE TABLE agencies (
    code             text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    treasury_account text NOT NULL CHECK (length(treasury_account) BETWEEN 1 AND 64),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE services (
    code         text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,47}$'),
    agency_code  text NOT NULL REFERENCES agencies (code),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind         text NOT NULL CHECK (kind IN ('fee', 'charge', 'tax', 'fine')),
    currency     char(3) NOT NULL DEFAULT 'VND',
    fixed_amount numeric CHECK (fixed_amount > 0),
    min_amount   numeric CHECK (min_amount > 0),
    max_amount   numeric,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT services_amount_rule CHECK (
        (fixed_amount IS NOT NULL AND min_amount IS NULL AND max_amount IS NULL)
        OR (fixed_amount IS NULL AND min_amount IS NOT NULL AND max_amount IS NOT NULL AND min_amount <= max_amount)
    )
);
CREATE INDEX services_agency_idx ON services (agency_code);

-- API keys: only a SHA-256 of the secret part is stored.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    prefix       text NOT NULL UNIQUE,
    secret_hash  bytea NOT NULL,
    role         text NOT NULL CHECK (role IN ('portal', 'agency', 'treasury', 'admin')),
    agency_code  text REFERENCES agencies (code),
    name         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CONSTRAINT api_keys_agency_role CHECK ((role = 'agency') = (agency_code IS NOT NULL))
);

-- Payment orders.
--
-- Orders, lines and idempotency rows do not declare foreign keys to agencies,
-- services and api_keys: every order would take a FOR KEY SHARE lock on the same few
-- catalogue rows, and under load PostgreSQL turns those shared locks into MultiXacts
-- that serialise order creation. Catalogue rows and keys are never deleted (there is
-- no DELETE; revocation and deactivation are flags), and the service checks codes
-- against the catalogue before inserting, so integrity holds without them.
CREATE TABLE orders (
    id                uuid PRIMARY KEY,
    reference         text NOT NULL UNIQUE,
    agency_code       text NOT NULL,
    created_by        uuid NOT NULL,
    status            text NOT NULL CHECK (status IN ('open', 'paid', 'partially_refunded', 'refunded', 'cancelled', 'expired')),
    currency          char(3) NOT NULL,
    total             numeric NOT NULL CHECK (total > 0),
    amount_paid       numeric NOT NULL DEFAULT 0 CHECK (amount_paid >= 0),
    amount_refunded   numeric NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0 AND amount_refunded <= amount_paid),
    payer_name        text NOT NULL,
    payer_national_id text,
    payer_email       text,
    payer_phone       text,
    description       text NOT NULL,
    return_url        text,
    metadata          jsonb NOT NULL DEFAULT '{}',
    expires_at        timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    paid_at           timestamptz,
    closed_at         timestamptz
);
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
CREATE INDEX orders_agency_created_idx ON orders (agency_code, created_at DESC, id DESC);
CREATE INDEX orders_open_expiry_idx ON orders (expires_at) WHERE status = 'open';

CREATE TABLE order_lines (
    order_id     uuid NOT NULL REFERENCES orders (id),
    line_no      smallint NOT NULL CHECK (line_no BETWEEN 1 AND 5),
    service_code text NOT NULL,
    agency_code  text NOT NULL,
    kind         text NOT NULL,
    amount       numeric NOT NULL CHECK (amount > 0),
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_service_idx ON order_lines (service_code, order_id);

-- The history of every order: written in the same transaction as the change.
CREATE TABLE order_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   uuid NOT NULL REFERENCES orders (id),
    type       text NOT NULL,
    actor      text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_events_order_idx ON order_events (order_id, id);

-- Idempotency of order creation, per API client and key.
CREATE TABLE idempotency_keys (
    client_id    uuid NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    order_id     uuid NOT NULL REFERENCES orders (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, key)
);

-- create_order writes a new order, its lines, its first event and its idempotency
-- row in one round trip and one transaction. It answers:
--   created  — written now;
--   replay   — this client already used the key for the same request (order_id is the original);
--   mismatch — this client used the key for a different request;
--   busy     — a request with the same key is in flight right now (its transaction holds the lock).
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
    SELECT k.request_hash, k.order_id INTO stored_hash, order_id
      FROM idempotency_keys k WHERE k.client_id = p_client AND k.key = p_key;
    IF FOUND THEN
        outcome := CASE WHEN stored_hash = p_hash THEN 'replay' ELSE 'mismatch' END;
        RETURN;
    END IF;
    INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total, payer_name,
        payer_national_id, payer_email, payer_phone, description, return_url, metadata, expires_at, created_at, updated_at)
    VALUES (p_id, p_reference, p_agency, p_client, p_status, p_currency, p_total, p_payer_name,
        nullif(p_national_id, ''), nullif(p_email, ''), nullif(p_phone, ''), p_description, nullif(p_return_url, ''),
        p_metadata, p_expires_at, p_created_at, p_created_at);
    INSERT INTO order_lines (order_id, line_no, service_code, agency_code, kind, amount)
    SELECT p_id, * FROM unnest(l_nos, l_services, l_agencies, l_kinds, l_amounts);
    INSERT INTO order_events (order_id, type, actor, data, created_at)
    VALUES (p_id, 'order.created', p_actor, p_event_data, p_created_at);
    INSERT INTO idempotency_keys (client_id, key, request_hash, order_id) VALUES (p_client, p_key, p_hash, p_id);
    outcome := 'created';
    order_id := p_id;
END
$$;
-- +goose StatementEnd

-- create_orders is create_order for a batch: the service groups orders that arrive
-- together into one statement (group commit), which costs PostgreSQL far less per
-- order than one transaction each. The caller never puts one (client, key) twice in
-- a batch. The idempotency rows are read with the statement's snapshot, taken
-- before the advisory locks: a duplicate committed in between makes the
-- idempotency insert fail, the batch rolls back whole, and the caller retries each
-- order alone through create_order, whose reads follow its lock.
-- +goose StatementBegin
CREATE FUNCTION create_orders(
    p_ids uuid[], p_refs text[], p_agencies text[], p_clients uuid[], p_currencies text[], p_totals numeric[],
    p_payer_names text[], p_national_ids text[], p_emails text[], p_phones text[], p_descriptions text[],
    p_return_urls text[], p_metadata jsonb[], p_expires timestamptz[], p_created timestamptz[], p_actors text[],
    p_event_data jsonb[], p_keys text[], p_hashes bytea[],
    l_order_ids uuid[], l_nos smallint[], l_services text[], l_agencies text[], l_kinds text[], l_amounts numeric[])
RETURNS TABLE (idx bigint, outcome text, order_id uuid)
LANGUAGE sql AS $$
    WITH input AS MATERIALIZED (
        SELECT t.*, pg_try_advisory_xact_lock(hashtextextended(t.client::text || ':' || t.key, 0)) AS locked
        FROM unnest(p_ids, p_refs, p_agencies, p_clients, p_currencies, p_totals, p_payer_names, p_national_ids,
                    p_emails, p_phones, p_descriptions, p_return_urls, p_metadata, p_expires, p_created, p_actors,
                    p_event_data, p_keys, p_hashes)
             WITH ORDINALITY AS t(id, ref, agency, client, currency, total, payer_name, national_id, email, phone,
                                  description, return_url, metadata, expires_at, created_at, actor, event_data, key, hash, idx)
    ), decided AS MATERIALIZED (
        SELECT i.*, k.request_hash AS stored_hash, k.order_id AS stored_order
        FROM input i LEFT JOIN idempotency_keys k ON k.client_id = i.client AND k.key = i.key
    ), fresh AS MATERIALIZED (
        SELECT * FROM decided WHERE locked AND stored_order IS NULL
    ), ins_orders AS (
        INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total, payer_name,
            payer_national_id, payer_email, payer_phone, description, return_url, metadata, expires_at, created_at, updated_at)
        SELECT id, ref, agency, client, 'open', currency, total, payer_name, nullif(national_id, ''), nullif(email, ''),
            nullif(phone, ''), description, nullif(return_url, ''), metadata, expires_at, created_at, created_at
        FROM fresh
    ), ins_lines AS (
        INSERT INTO order_lines (order_id, line_no, service_code, agency_code, kind, amount)
        SELECT l.* FROM unnest(l_order_ids, l_nos, l_services, l_agencies, l_kinds, l_amounts) AS l(order_id, n, s, a, k, amt)
        WHERE l.order_id IN (SELECT id FROM fresh)
    ), ins_events AS (
        INSERT INTO order_events (order_id, type, actor, data, created_at)
        SELECT id, 'order.created', actor, event_data, created_at FROM fresh
    ), ins_idem AS (
        INSERT INTO idempotency_keys (client_id, key, request_hash, order_id)
        SELECT client, key, hash, id FROM fresh
    )
    SELECT idx,
           CASE WHEN NOT locked THEN 'busy'
                WHEN stored_order IS NULL THEN 'created'
                WHEN stored_hash = hash THEN 'replay'
                ELSE 'mismatch' END,
           coalesce(stored_order, id)
    FROM decided -- the INSERTs above run to completion whether or not this reads them
    ORDER BY idx
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION create_orders;
DROP FUNCTION create_order;
DROP TABLE idempotency_keys, order_events, order_lines, orders, api_keys, services, agencies;
