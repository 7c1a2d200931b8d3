-- +goose Up
-- An agency's orders in list order (issue 15): those whose first line is the
-- agency's are a range of orders_agency_created_idx, but those where it is on
-- a later line were found by order_lines_later_agency_idx in id order, every
-- one of them read from orders and sorted before the first page came out
-- (1 s cold at 1,000,000 orders, growing with the agency's history). Each
-- line now carries its order's creation time (orders.created_at never
-- changes), so the later lines of an agency are read in list order from an
-- index and the page stops at its limit.
ALTER TABLE order_lines ADD COLUMN order_created_at timestamptz;
UPDATE order_lines l SET order_created_at = o.created_at FROM orders o WHERE o.id = l.order_id;
ALTER TABLE order_lines ALTER COLUMN order_created_at SET NOT NULL;

-- An insert that leaves it out (create_orders.sql writes it) takes the order's.
-- +goose StatementBegin
CREATE FUNCTION order_line_created_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.order_created_at IS NULL THEN
        SELECT created_at INTO NEW.order_created_at FROM orders WHERE id = NEW.order_id;
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER order_line_created_at BEFORE INSERT ON order_lines
    FOR EACH ROW EXECUTE FUNCTION order_line_created_at();

CREATE INDEX order_lines_later_agency_created_idx
    ON order_lines (agency_code, order_created_at DESC, order_id DESC) WHERE line_no > 1;

-- +goose Down
DROP INDEX order_lines_later_agency_created_idx;
DROP TRIGGER order_line_created_at ON order_lines;
DROP FUNCTION order_line_created_at();
ALTER TABLE order_lines DROP COLUMN order_created_at;
