WITH e AS (
    SELECT DISTINCT ON (entry_key) entry_key, file_id, amount, currency, booked_at, payment_ref,
           CASE WHEN acct_svcr_ref <> '' THEN acct_svcr_ref ELSE entry_key END AS txn
    FROM recon_bank_entries
    WHERE booking_date = $2 AND status = 'BOOK' AND credit AND payment_ref IS NOT NULL
    ORDER BY entry_key, file_id DESC
), v AS (
    SELECT e.*, row_number() OVER (PARTITION BY e.payment_ref ORDER BY e.booked_at, e.entry_key) AS occ
    FROM e WHERE NOT (e.entry_key = ANY($3))
), att AS (
    SELECT DISTINCT ON (a.gateway_ref) a.gateway_ref, a.id, a.status, a.amount, a.currency, a.gateway_txn_id
    FROM payments_recon_attempts a
    WHERE a.gateway = 'vietqr' AND a.gateway_ref IN (SELECT payment_ref FROM v)
    ORDER BY a.gateway_ref, a.status = 'succeeded' DESC, a.created_at DESC
), ord AS (
    SELECT o.reference, o.id, o.status, o.total, o.currency FROM payments_recon_orders o WHERE o.reference IN (SELECT payment_ref FROM v)
)
INSERT INTO recon_items (run_id, seq, class, matched_by, file_id, entry_key, here_kind, here_id, reference, gateway_txn_id, at,
                         amount_there, amount_here, currency, detail, exception_key)
SELECT $1, $4 + row_number() OVER (ORDER BY c.booked_at, c.entry_key), c.class,
       CASE WHEN c.class = 'matched' THEN 'reference' ELSE '' END, c.file_id, c.entry_key, c.here_kind, c.here_id,
       c.payment_ref, c.txn, c.booked_at, c.amount, c.here_amount, c.currency,
       CASE c.class
           WHEN 'matched' THEN ''
           WHEN 'unknown' THEN 'no order has payment reference ' || c.payment_ref
           WHEN 'duplicate' THEN CASE WHEN c.occ > 1 THEN 'another credit of the day names the same payment reference'
                                      WHEN c.a_txn IS NOT NULL THEN 'the order was paid by bank entry ' || c.a_txn
                                      ELSE 'the order is ' || c.o_status || ' already' END
           WHEN 'amount_mismatch' THEN 'credited ' || c.amount || ' ' || c.currency || ', the order is for ' || c.here_amount || ' ' || c.here_currency
           ELSE 'no VietQR payment of the order is recorded here'
       END,
       CASE WHEN c.class <> 'matched' THEN 'bank:' || c.entry_key END
FROM (
    SELECT v.*, coalesce(att.id, ord.id) AS here_id, CASE WHEN att.id IS NOT NULL THEN 'attempt' ELSE 'order' END AS here_kind,
           coalesce(att.amount, ord.total) AS here_amount, coalesce(att.currency, ord.currency) AS here_currency,
           CASE WHEN att.status = 'succeeded' THEN att.gateway_txn_id END AS a_txn, ord.status AS o_status,
           CASE
               WHEN v.occ > 1 THEN 'duplicate'
               WHEN ord.id IS NULL THEN 'unknown'
               WHEN att.status = 'succeeded' AND att.gateway_txn_id <> v.txn THEN 'duplicate'
               WHEN att.status IS DISTINCT FROM 'succeeded' AND ord.status IN ('paid', 'partially_refunded', 'refunded') THEN 'duplicate'
               WHEN v.currency <> coalesce(att.currency, ord.currency) OR abs(v.amount - coalesce(att.amount, ord.total)) > $5
                   THEN 'amount_mismatch'
               WHEN att.status IS DISTINCT FROM 'succeeded' THEN 'missing_here'
               ELSE 'matched'
           END AS class
    FROM v LEFT JOIN att ON att.gateway_ref = v.payment_ref LEFT JOIN ord ON ord.reference = v.payment_ref
) c
