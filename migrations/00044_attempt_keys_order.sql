-- +goose Up
-- An order's attempts (the order's page and API, the citizen's return page,
-- the open-attempts limit when an attempt starts, the list filter by
-- gateway) are found by order in payment_attempt_keys, with each attempt's
-- created_at, and then read in their one partition each. By order_id in
-- payment_attempts itself, the lookup went into every month's partition:
-- at a year of months, about 6 index pages per partition per payment
-- (issue 15; measured at 10,000,000 orders).
--
-- Built in the migration's transaction, as 00024's index and for the same
-- reason (a CONCURRENTLY build and a second `civicpay migrate` waiting on
-- the migration lock would wait for each other forever). It holds off new
-- attempts while it runs; on a large table, create it CONCURRENTLY by hand
-- first (the same statement, with CONCURRENTLY) and this migration finds it.
CREATE INDEX IF NOT EXISTS payment_attempt_keys_order_idx ON payment_attempt_keys (order_id, created_at);

-- +goose Down
DROP INDEX payment_attempt_keys_order_idx;
