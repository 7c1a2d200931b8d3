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
CREATE TABLE orders (
    id                uuid PRIMARY KEY,
    reference         text NOT NULL UNIQUE,
    agency_code       text NOT NULL REFERENCES agencies (code),
    created_by        uuid NOT NULL REFERENCES api_keys (id),
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
CREATE INDEX orders_status_created_idx ON orders (status, created_at DESC, id DESC);
CREATE INDEX orders_open_expiry_idx ON orders (expires_at) WHERE status = 'open';

CREATE TABLE order_lines (
    order_id     uuid NOT NULL REFERENCES orders (id),
    line_no      smallint NOT NULL CHECK (line_no BETWEEN 1 AND 5),
    service_code text NOT NULL REFERENCES services (code),
    agency_code  text NOT NULL REFERENCES agencies (code),
    kind         text NOT NULL,
    amount       numeric NOT NULL CHECK (amount > 0),
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_service_idx ON order_lines (service_code, order_id);
CREATE INDEX order_lines_agency_idx ON order_lines (agency_code, order_id);

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
    client_id    uuid NOT NULL REFERENCES api_keys (id),
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    order_id     uuid NOT NULL REFERENCES orders (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, key)
);

-- +goose Down
DROP TABLE idempotency_keys, order_events, order_lines, orders, api_keys, services, agencies;
