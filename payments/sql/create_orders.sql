-- create_orders writes N new orders (N = 1 for an order alone) with their
-- lines and first events, in one statement, and answers one row per order:
-- (idx, outcome, order_id), idx being the order's 1-based position in $1.
--
-- The idempotency rules, for the client $4[i] and its key $18[i]:
--   busy     — another request with the same client and key is in flight: a
--              transaction holds the key's advisory lock, or an earlier order
--              of this same call has the same client and key (order_id NULL);
--   replay   — the client already used the key for the same request hash
--              (order_id is the original order);
--   mismatch — the client already used the key for a different request;
--   created  — written now (order_id is $1[i]).
--
-- Keys are read with the statement's snapshot, taken before the advisory
-- locks: an order with the same key committed in between makes the order
-- insert fail on orders_idempotency_key (the statement rolls back whole), and
-- the caller runs it again, when the new snapshot sees that order. pgx
-- prepares the statement once per connection and PostgreSQL keeps its plan.
--
-- Orders: $1 id, $2 reference, $3 agency, $4 client (API key), $5 currency,
-- $6 total, $7 payer name, $8 sealed national ID, $9 email, $10 phone,
-- $11 description, $12 return URL, $13 metadata, $14 expires at, $15 created
-- at, $16 actor, $17 the order.created event's data, $18 idempotency key,
-- $19 request hash, $26 national ID hash, $27 masked national ID ('' for
-- none, as for $9, $10, $12). Lines, flattened: $20 order id, $21 line
-- number, $22 service, $23 agency, $24 kind, $25 amount (each line carries its
-- order's created_at, as order_created_at).
WITH input AS MATERIALIZED (
    SELECT t.*, row_number() OVER (PARTITION BY t.client, t.key ORDER BY t.idx) AS nth
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::numeric[], $7::text[], $8::bytea[],
                $9::text[], $10::text[], $11::text[], $12::text[], $13::jsonb[], $14::timestamptz[], $15::timestamptz[],
                $16::text[], $17::jsonb[], $18::text[], $19::bytea[], $26::bytea[], $27::text[])
         WITH ORDINALITY AS t(id, ref, agency, client, currency, total, payer_name, national_id_enc, email, phone,
                              description, return_url, metadata, expires_at, created_at, actor, event_data, key, hash,
                              national_id_hash, national_id_masked, idx)
), locked AS MATERIALIZED (
    SELECT i.*, CASE WHEN i.nth = 1
                     THEN pg_try_advisory_xact_lock(hashtextextended(i.client::text || ':' || i.key, 0))
                     ELSE false END AS locked
    FROM input i
), decided AS MATERIALIZED (
    SELECT l.*, k.request_hash AS stored_hash, k.order_id AS stored_order
    FROM locked l LEFT JOIN LATERAL (
        -- OFFSET 0 keeps this a lookup by key per order: the plan is generic (kept
        -- across calls) and must not turn into a scan of the whole table.
        SELECT request_hash, id AS order_id FROM orders k
        WHERE k.created_by = l.client AND k.idempotency_key = l.key OFFSET 0) k ON true
), fresh AS MATERIALIZED (
    SELECT * FROM decided WHERE locked AND stored_order IS NULL
), ins_orders AS (
    INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total, payer_name,
        payer_national_id_enc, payer_national_id_hash, payer_national_id_masked,
        payer_email, payer_phone, description, return_url, metadata, expires_at, created_at, updated_at,
        idempotency_key, request_hash)
    SELECT id, ref, agency, client, 'open', currency, total, payer_name,
        national_id_enc, national_id_hash, nullif(national_id_masked, ''), nullif(email, ''),
        nullif(phone, ''), description, nullif(return_url, ''), metadata, expires_at, created_at, created_at, key, hash
    FROM fresh
), ins_lines AS (
    INSERT INTO order_lines (order_id, line_no, service_code, agency_code, kind, amount, order_created_at)
    SELECT l.*, f.created_at FROM unnest($20::uuid[], $21::smallint[], $22::text[], $23::text[], $24::text[], $25::numeric[])
        AS l(order_id, n, s, a, k, amt)
    JOIN fresh f ON f.id = l.order_id
), ins_events AS (
    INSERT INTO order_events (order_id, type, actor, data, created_at)
    SELECT id, 'order.created', actor, event_data, created_at FROM fresh
)
SELECT idx,
       CASE WHEN NOT locked THEN 'busy'
            WHEN stored_order IS NULL THEN 'created'
            WHEN stored_hash = hash THEN 'replay'
            ELSE 'mismatch' END,
       CASE WHEN locked THEN coalesce(stored_order, id) END
FROM decided -- the INSERTs above run to completion whether or not this reads them
ORDER BY idx
