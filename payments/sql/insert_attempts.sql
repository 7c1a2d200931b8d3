WITH input AS MATERIALIZED (
    SELECT t.*, row_number() OVER (PARTITION BY t.order_id ORDER BY t.n) AS nth
    FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[],
        $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::jsonb[])
        WITH ORDINALITY AS t(id, order_id, gateway, method, gateway_ref, currency, amount, redirect_url,
            qr_payload, created_by, created_at, expires_at, event, n)
), state AS MATERIALIZED (
    SELECT i.id,
        -- A scalar subquery: a lookup by id per attempt, whatever plan is kept.
        {{start_attempt_guard}} AS open,
        $14::int <= 0 OR c.open + i.nth <= $14::int AS room, c.frees_at
    FROM input i LEFT JOIN LATERAL (
        -- The order's pending attempts, found by order in payment_attempt_keys
        -- (00044) and each read in its month's partition (the placeholder below
        -- is attemptsByKeys: k the key rows, a the attempts), not looked for by
        -- order in every month's.
        SELECT count(*) AS open, min(a.expires_at) AS frees_at FROM {{attempts_by_keys}}
        WHERE $14::int > 0 AND k.order_id = i.order_id AND k.status = 'pending'
            AND a.status = 'pending' AND a.expires_at > i.created_at
    ) c ON true
), a AS (
    INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, currency,
        amount, status, redirect_url, qr_payload, created_by, created_at, updated_at, expires_at)
    SELECT i.id, order_id, gateway, method, gateway_ref, currency, amount, 'pending', nullif(redirect_url, ''),
        nullif(qr_payload, ''), created_by, created_at, created_at, expires_at
    FROM input i JOIN state s ON s.id = i.id
    WHERE s.open AND s.room
    RETURNING id
), ev AS (
    INSERT INTO order_events (order_id, type, actor, data)
    SELECT i.order_id, 'attempt.created', i.created_by, i.event FROM input i JOIN a ON a.id = i.id
)
SELECT s.id, a.id IS NOT NULL, s.open, s.frees_at FROM state s LEFT JOIN a ON a.id = s.id
