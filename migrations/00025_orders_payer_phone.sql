-- +goose Up
-- The console's payments list finds a payer's orders by phone (issue 13):
-- unindexed, each search read every order (850 ms at 1,000,000 orders in
-- `make bench BENCH=console`). In list order, so a page is a range of the
-- index; orders without a phone are left out of it.
CREATE INDEX orders_payer_phone_idx ON orders (payer_phone, created_at DESC, id DESC) WHERE payer_phone IS NOT NULL;

-- +goose Down
DROP INDEX orders_payer_phone_idx;
