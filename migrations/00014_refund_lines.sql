-- +goose Up
-- Every agency on an order (issue 10, item 4). An order's lines may belong to
-- several agencies; each agency may refund at most what its own lines received.
--
-- Each line keeps what was refunded from it and what is reserved for refunds in
-- flight, like the order does (00003): the database refuses a line refunded
-- beyond its amount, whoever asks and however many ask at once.
ALTER TABLE order_lines
    ADD COLUMN amount_refunded numeric NOT NULL DEFAULT 0,
    ADD COLUMN amount_refund_pending numeric NOT NULL DEFAULT 0,
    ADD CONSTRAINT order_lines_refunds_within_amount
        CHECK (amount_refunded >= 0 AND amount_refund_pending >= 0 AND amount_refunded + amount_refund_pending <= amount);

-- How each refund (kind 'refund') is split across the order's lines, fixed when
-- it is requested: the ledger entry debits exactly these agencies' collected
-- accounts when the gateway confirms. Append-only: UPDATE, DELETE and TRUNCATE
-- are refused (a failed refund's lines stay, its refund says it failed).
CREATE TABLE payment_refund_lines (
    refund_id    uuid NOT NULL REFERENCES payment_refunds (id),
    order_id     uuid NOT NULL,
    line_no      smallint NOT NULL,
    agency_code  text NOT NULL,
    service_code text NOT NULL,
    amount       numeric NOT NULL CHECK (amount > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (refund_id, line_no),
    FOREIGN KEY (order_id, line_no) REFERENCES order_lines (order_id, line_no)
);
CREATE INDEX payment_refund_lines_order_idx ON payment_refund_lines (order_id, line_no);

-- Refunds made before this version were split pro rata across the lines by
-- line amount, in whole units, the remainder to the first line
-- (payments.refundShares): record that split, and the lines' amounts.
INSERT INTO payment_refund_lines (refund_id, order_id, line_no, agency_code, service_code, amount, created_at)
SELECT refund_id, order_id, line_no, agency_code, service_code, share, created_at FROM (
    SELECT r.id AS refund_id, r.order_id, l.line_no, l.agency_code, l.service_code, r.created_at,
        CASE WHEN l.line_no = min(l.line_no) OVER w
             THEN r.amount - sum(trunc(r.amount * l.amount / o.total)) OVER w + trunc(r.amount * l.amount / o.total)
             ELSE trunc(r.amount * l.amount / o.total) END AS share
    FROM payment_refunds r
    JOIN orders o ON o.id = r.order_id
    JOIN order_lines l ON l.order_id = r.order_id
    WHERE r.kind = 'refund'
    WINDOW w AS (PARTITION BY r.id)
) s WHERE share > 0;

UPDATE order_lines l SET amount_refunded = s.done, amount_refund_pending = s.pending
FROM (SELECT rl.order_id, rl.line_no,
          coalesce(sum(rl.amount) FILTER (WHERE r.status = 'succeeded'), 0) AS done,
          coalesce(sum(rl.amount) FILTER (WHERE r.status IN ('requested', 'pending')), 0) AS pending
      FROM payment_refund_lines rl JOIN payment_refunds r ON r.id = rl.refund_id
      GROUP BY rl.order_id, rl.line_no) s
WHERE l.order_id = s.order_id AND l.line_no = s.line_no;

-- +goose StatementBegin
CREATE FUNCTION payment_refund_lines_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payments: % on % is refused: refund lines are append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;
-- +goose StatementEnd
CREATE TRIGGER payment_refund_lines_immutable BEFORE UPDATE OR DELETE ON payment_refund_lines
    FOR EACH ROW EXECUTE FUNCTION payment_refund_lines_refuse_change();
CREATE TRIGGER payment_refund_lines_no_truncate BEFORE TRUNCATE ON payment_refund_lines
    FOR EACH STATEMENT EXECUTE FUNCTION payment_refund_lines_refuse_change();

-- An agency sees the orders with a line of its own. orders.agency_code is the
-- first line's agency (orders_agency_created_idx finds those); this finds the
-- orders where the agency is on a later line. Only lines after the first are
-- indexed, so single-line orders — most of them — cost nothing more to write.
CREATE INDEX order_lines_later_agency_idx ON order_lines (agency_code, order_id) WHERE line_no > 1;

-- A webhook event of a multi-agency order is published once for the order's
-- full audience (treasury, admin, the portal that created it) and once per
-- agency on its lines, with that agency's view of the order (other agencies'
-- lines as agency and amount only). agency_only marks the latter: only keys of
-- agency_code receive and read them.
ALTER TABLE webhook_events ADD COLUMN agency_only boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT webhook_events_agency_only CHECK (NOT agency_only OR agency_code IS NOT NULL);

-- +goose Down
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_agency_only, DROP COLUMN agency_only;
DROP INDEX order_lines_later_agency_idx;
DROP TABLE payment_refund_lines;
DROP FUNCTION payment_refund_lines_refuse_change();
ALTER TABLE order_lines DROP CONSTRAINT order_lines_refunds_within_amount,
    DROP COLUMN amount_refund_pending, DROP COLUMN amount_refunded;
