-- +goose Up
-- Outbound webhooks (DESIGN.md §7, issue 5): endpoints owned by API keys, the
-- events written in the same transaction as the change they describe, one
-- delivery per (endpoint, event) and a log row per attempt.

CREATE TABLE webhook_endpoints (
    id              uuid PRIMARY KEY,
    owner_key_id    uuid NOT NULL REFERENCES api_keys (id),
    url             text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description     text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    event_types     text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 32),
    enabled         boolean NOT NULL DEFAULT true,
    disabled_reason text,
    -- Signing secrets must be readable to sign (HMAC), so they are stored as is;
    -- the API shows them once and no log line ever carries them.
    secret                     text NOT NULL,
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    -- Start of the current run of failed attempts; NULL while healthy. The sweeper
    -- disables endpoints whose run is older than the configured period.
    failing_since   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_endpoints_previous_secret CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL))
);
CREATE INDEX webhook_endpoints_owner_idx ON webhook_endpoints (owner_key_id, id);
CREATE INDEX webhook_endpoints_types_idx ON webhook_endpoints USING gin (event_types) WHERE enabled;
CREATE INDEX webhook_endpoints_failing_idx ON webhook_endpoints (failing_since) WHERE enabled AND failing_since IS NOT NULL;

-- Events: payload is the exact body every delivery sends (json keeps the text as
-- written). xact_id orders the list by commit horizon: GET /v1/events only shows
-- events whose transaction is older than every running one, so a poller walking
-- the (xact_id, seq) cursor never skips an event that commits late.
CREATE TABLE webhook_events (
    id           text PRIMARY KEY CHECK (id ~ '^msg_[0-9a-z]{26}$'),
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    xact_id      xid8 NOT NULL DEFAULT pg_current_xact_id(),
    type         text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    agency_code  text REFERENCES agencies (code),
    owner_key_id uuid REFERENCES api_keys (id),
    subject      text NOT NULL DEFAULT '' CHECK (length(subject) <= 200),
    payload      json NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX webhook_events_order_idx ON webhook_events (xact_id, seq);
CREATE INDEX webhook_events_agency_idx ON webhook_events (agency_code, xact_id, seq) WHERE agency_code IS NOT NULL;
CREATE INDEX webhook_events_owner_idx ON webhook_events (owner_key_id, xact_id, seq) WHERE owner_key_id IS NOT NULL;
CREATE INDEX webhook_events_subject_idx ON webhook_events (subject, xact_id, seq) WHERE subject <> '';

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        text NOT NULL REFERENCES webhook_events (id),
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed')),
    -- Each retry or resend starts a new generation with a new job; a job of an
    -- older generation still waiting in the queue finds itself superseded and
    -- sends nothing.
    generation      integer NOT NULL DEFAULT 1 CHECK (generation >= 1),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_attempt_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id   uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    attempted_at  timestamptz NOT NULL,
    status_code   integer CHECK (status_code BETWEEN 100 AND 999),
    latency_ms    integer NOT NULL CHECK (latency_ms >= 0),
    response_body text NOT NULL DEFAULT '' CHECK (octet_length(response_body) <= 1024),
    error         text,
    outcome       text NOT NULL CHECK (outcome IN ('succeeded', 'retrying', 'failed'))
);
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, id DESC);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id);

-- +goose Down
DROP TABLE webhook_attempts, webhook_deliveries, webhook_events, webhook_endpoints;
