-- +goose Up
-- The service now sends the batch insert as a prepared statement of its own
-- (payments/batch.go): PostgreSQL keeps a prepared statement's plan, while a SQL
-- function's body is parsed and planned again on every call, which cost more than
-- the rows it wrote (cmd/benchorders: 7,300 orders/s through the function,
-- 9,400–9,700 as a statement). Nothing calls create_orders any more.
DROP FUNCTION create_orders;

-- +goose Down
-- Restored as 00001 made it, for the versions before this one that call it.
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
