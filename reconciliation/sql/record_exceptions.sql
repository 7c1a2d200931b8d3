WITH src AS (
    SELECT DISTINCT ON (i.exception_key) i.exception_key AS key, i.class, i.file_id, i.line, i.entry_key, i.here_kind,
           i.here_id, i.reference, i.gateway_txn_id, i.amount_there, i.amount_here, i.currency, i.detail
    FROM recon_items i
    WHERE i.run_id = $1 AND i.class <> 'matched' AND i.exception_key IS NOT NULL AND i.exception_key NOT LIKE 'settlement:%'
    ORDER BY i.exception_key, i.seq
), old AS (
    SELECT e.key, e.class, e.status FROM recon_exceptions e JOIN src ON src.key = e.key
), up AS (
    INSERT INTO recon_exceptions AS e (key, source, business_date, class, first_run_id, last_run_id, file_id, line, entry_key,
        here_kind, here_id, reference, gateway_txn_id, amount_there, amount_here, currency, detail)
    SELECT key, $2, $3, class, $1, $1, file_id, line, entry_key, here_kind, here_id, reference, gateway_txn_id,
           amount_there, amount_here, currency, detail
    FROM src
    ON CONFLICT (key) DO UPDATE SET class = excluded.class, last_run_id = excluded.last_run_id, file_id = excluded.file_id,
        line = excluded.line, here_id = coalesce(excluded.here_id, e.here_id), amount_there = excluded.amount_there,
        amount_here = excluded.amount_here, detail = excluded.detail, updated_at = now(),
        status = CASE WHEN e.status = 'cleared' THEN 'open' ELSE e.status END
    RETURNING e.id, e.key, e.class
)
INSERT INTO recon_exception_events (exception_id, run_id, action, actor, note)
SELECT up.id, $1, CASE WHEN old.key IS NULL THEN 'raised' WHEN old.status = 'cleared' THEN 'reopened' ELSE 'reclassified' END,
       'reconciliation', up.class
FROM up LEFT JOIN old ON old.key = up.key
WHERE old.key IS NULL OR old.status = 'cleared' OR old.class <> up.class
