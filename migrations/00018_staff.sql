-- +goose Up
-- Staff accounts of the console (/console): people, apart from the API keys of
-- auth_keys. A user is created by `civicpay users create` with no password and
-- a one-time set-password link; the user sets a password (argon2id) and enrols
-- a TOTP second factor, and receives ten recovery codes, stored hashed.
CREATE TABLE staff_users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email           text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
    role            text NOT NULL CHECK (role IN ('agency', 'treasury', 'admin')),
    agency_code     text REFERENCES agencies (code),
    can_refund      boolean NOT NULL DEFAULT false,
    disabled        boolean NOT NULL DEFAULT false,
    -- argon2id in the PHC string format; NULL until the user sets one.
    password_hash   text,
    -- The TOTP secret sealed with the data keys (secretbox, associated data
    -- "staff_users.totp_secret:<id>"); totp_confirmed_at is when the user
    -- proved it with a code. Until then the account cannot sign in.
    totp_secret     bytea,
    totp_confirmed_at timestamptz,
    -- The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step  bigint NOT NULL DEFAULT 0,
    -- Consecutive failed sign-ins (password, code) and the lock they led to:
    -- in the database, so every instance counts the same failures.
    failed_logins   integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'agency') = (agency_code IS NOT NULL))
);
CREATE UNIQUE INDEX staff_users_email_key ON staff_users (lower(email));

-- Recovery codes stand in for a TOTP code once each (SHA-256 of the code: each
-- has 80 random bits).
CREATE TABLE staff_recovery_codes (
    user_id    uuid NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at    timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- Sessions live in the database, so any instance serves any request and a
-- revocation is seen everywhere. The cookie holds a random token; only its
-- SHA-256 is stored. stage is 'active' for a signed-in session, 'mfa' between
-- the password and the second factor, 'enrol' between setting the password
-- and confirming the TOTP enrolment.
CREATE TABLE staff_sessions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash          bytea NOT NULL UNIQUE,
    user_id             uuid NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    stage               text NOT NULL CHECK (stage IN ('mfa', 'enrol', 'active')),
    created_at          timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    idle_expires_at     timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    user_agent          text NOT NULL DEFAULT '',
    ip                  text NOT NULL DEFAULT '',
    revoked_at          timestamptz
);
CREATE INDEX staff_sessions_user_idx ON staff_sessions (user_id, created_at DESC);

-- One-time links to set a password (and enrol TOTP); only the SHA-256 of the
-- token is stored.
CREATE TABLE staff_password_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX staff_password_tokens_user_idx ON staff_password_tokens (user_id);

-- +goose Down
DROP TABLE staff_password_tokens;
DROP TABLE staff_sessions;
DROP TABLE staff_recovery_codes;
DROP TABLE staff_users;
