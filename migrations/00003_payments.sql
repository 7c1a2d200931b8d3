-- +goose Up
-- Paying (DESIGN.md §3–4): attempts at gateways, refunds, and the constraints that
-- make paying twice or refunding more than was paid impossible in the database
-- itself, whatever the Go code does.

-- Orders: money in and out.
--   amount_paid            the order's total once one attempt paid it (never a sum of attempts:
--                          a second success is an overpayment, recorded apart);
--   amount_refunded        refunds the gateway confirmed;
--   amount_refund_pending  refunds requested and not yet final. Reserving it here, under the
--                          order's row lock, is what stops two refunds at once from exceeding
--                          what was paid: the CHECK below refuses the second reservation.
ALTER TABLE orders
    ADD COLUMN amount_refund_pending numeric NOT NULL DEFAULT 0
        CONSTRAINT orders_refund_pending_nonnegative CHECK (amount_refund_pending >= 0),
    ADD CONSTRAINT orders_refunds_within_paid CHECK (amount_refunded + amount_refund_pending <= amount_paid),
    ADD CONSTRAINT orders_paid_in_full CHECK (amount_paid = 0 OR amount_paid = total),
    ADD CONSTRAINT orders_paid_status CHECK ((amount_paid > 0) = (status IN ('paid', 'partially_refunded', 'refunded'))),
    ADD CONSTRAINT orders_refund_status CHECK (CASE status
        WHEN 'partially_refunded' THEN amount_refunded > 0 AND amount_refunded < amount_paid
        WHEN 'refunded' THEN amount_refunded = amount_paid
        ELSE amount_refunded = 0 END);

-- An attempt is one try at one gateway. gateway_ref is what goes on the wire
-- (vnp_TxnRef, MoMo orderId, ZaloPay app_trans_id); VietQR's is the order's payment
-- reference, shared by all VietQR attempts of the order, so it is not unique.
-- outcome says what a success did: paid the order, or arrived when it was no
-- longer payable (an overpayment, refunded automatically).
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
    CONSTRAINT payment_attempts_outcome CHECK ((status = 'succeeded') = (outcome IS NOT NULL)),
    CONSTRAINT payment_attempts_success CHECK (status <> 'succeeded' OR (gateway_txn_id IS NOT NULL AND paid_at IS NOT NULL))
);
CREATE INDEX payment_attempts_ref_idx ON payment_attempts (gateway, gateway_ref);
CREATE INDEX payment_attempts_order_idx ON payment_attempts (order_id, created_at);
-- One attempt pays an order; any other success is an overpayment.
CREATE UNIQUE INDEX payment_attempts_one_payment ON payment_attempts (order_id) WHERE outcome = 'payment';
-- One gateway transaction is recorded as the success of one attempt.
CREATE UNIQUE INDEX payment_attempts_txn_key ON payment_attempts (gateway, gateway_txn_id) WHERE status = 'succeeded';

-- A refund gives back (part of) a successful attempt: kind 'refund' is asked for by
-- staff and counts against the order; kind 'overpayment' returns a whole
-- overpaid attempt and does not touch the order's amounts.
CREATE TABLE payment_refunds (
    id                uuid PRIMARY KEY,
    order_id          uuid NOT NULL REFERENCES orders (id),
    attempt_id        uuid NOT NULL REFERENCES payment_attempts (id),
    kind              text NOT NULL CHECK (kind IN ('refund', 'overpayment')),
    currency          char(3) NOT NULL,
    amount            numeric NOT NULL CHECK (amount > 0),
    status            text NOT NULL CHECK (status IN ('requested', 'pending', 'succeeded', 'failed')),
    reason            text NOT NULL CHECK (length(reason) <= 500),
    requested_by      text NOT NULL,
    gateway_refund_id text,
    tries             integer NOT NULL DEFAULT 0 CHECK (tries >= 0),
    last_error        text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    completed_at      timestamptz,
    CONSTRAINT payment_refunds_completed CHECK ((status IN ('succeeded', 'failed')) = (completed_at IS NOT NULL))
);
CREATE INDEX payment_refunds_order_idx ON payment_refunds (order_id, created_at);
-- One automatic refund per overpaid attempt.
CREATE UNIQUE INDEX payment_refunds_overpayment_key ON payment_refunds (attempt_id) WHERE kind = 'overpayment';

-- +goose Down
DROP TABLE payment_refunds, payment_attempts;
ALTER TABLE orders
    DROP CONSTRAINT orders_refund_status,
    DROP CONSTRAINT orders_paid_status,
    DROP CONSTRAINT orders_paid_in_full,
    DROP CONSTRAINT orders_refunds_within_paid,
    DROP COLUMN amount_refund_pending;
