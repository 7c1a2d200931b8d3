WITH ins AS (
INSERT INTO recon_items (run_id, seq, class, matched_by, file_id, line, here_kind, here_id, reference, gateway_txn_id, at,
                         amount_there, fee_there, amount_here, currency, detail, exception_key)
SELECT $1,
       CASE WHEN c.line IS NULL THEN $11 + row_number() OVER (PARTITION BY c.line IS NULL ORDER BY c.here_at, c.here_id)
            ELSE c.line END,
       c.class, '', CASE WHEN c.line IS NOT NULL THEN $2::bigint END, c.line, c.here_kind, c.here_id,
       coalesce(c.reference, c.here_ref), coalesce(c.gateway_txn_id, c.here_txn), coalesce(c.at, c.here_at),
       c.gross, c.fee, c.here_amount, coalesce(c.currency, c.here_currency),
       CASE c.class
           WHEN 'missing_there' THEN 'paid here, absent from the settlement file'
           WHEN 'unknown' THEN CASE c.type WHEN 'payment' THEN 'no attempt has this reference'
                                           ELSE 'no refund has this gateway refund number' END
           WHEN 'missing_here' THEN c.here_kind || ' is ' || c.here_status || ' here'
           WHEN 'duplicate' THEN CASE WHEN c.occ > 1 THEN 'gateway transaction repeated in the file (occurrence ' || c.occ || ')'
                                      ELSE 'attempt already paid by gateway transaction ' || c.here_txn END
           ELSE CASE WHEN c.currency <> c.here_currency THEN 'currency ' || c.currency || ', here ' || c.here_currency
                     WHEN abs(c.gross - c.here_amount) > $4 THEN 'gross ' || c.gross || ', here ' || c.here_amount
                     ELSE 'fee ' || c.fee || ', contracted ' || c.expected_fee END
       END,
       CASE WHEN c.line IS NULL THEN $3 || ':attempt:' || c.here_id
            ELSE $3 || ':' || c.type || ':' || c.gateway_txn_id || CASE WHEN c.occ > 1 THEN ':' || c.occ ELSE '' END END
FROM (
    SELECT m.*,
           CASE
               WHEN m.line IS NULL THEN 'missing_there'
               WHEN m.occ > 1 THEN 'duplicate'
               WHEN m.here_id IS NULL THEN 'unknown'
               WHEN m.here_currency = m.currency AND abs(m.gross - m.here_amount) <= $4
                    AND m.here_status <> 'succeeded' THEN 'missing_here'
               WHEN m.here_status <> 'succeeded' THEN 'amount_mismatch'
               WHEN m.here_txn IS DISTINCT FROM m.gateway_txn_id THEN 'duplicate'
               WHEN m.currency <> m.here_currency OR abs(m.gross - m.here_amount) > $4 THEN 'amount_mismatch'
               WHEN m.expected_fee IS NOT NULL AND abs(m.fee - m.expected_fee) > $7 THEN 'amount_mismatch'
               ELSE 'matched'
           END AS class
    FROM (
        SELECT l.line, l.type, l.reference, l.gateway_txn_id, l.gross, l.fee, l.currency, l.at, l.occ,
               'attempt' AS here_kind, coalesce(d.id, o.id) AS here_id, coalesce(d.status, o.status) AS here_status,
               coalesce(d.amount, o.amount) AS here_amount, coalesce(d.currency, o.currency) AS here_currency,
               coalesce(d.gateway_txn_id, o.gateway_txn_id) AS here_txn, d.gateway_ref AS here_ref, d.paid_at AS here_at,
               round(l.gross * $5::numeric / 100, $8::int) + $6::numeric AS expected_fee
        FROM (SELECT s.line, s.type, s.reference, s.gateway_txn_id, s.gross, s.fee, s.currency, s.at, 1 AS occ
              FROM recon_settlement_lines s
              WHERE s.file_id = $2 AND s.type = 'payment' AND NOT EXISTS (
                  SELECT 1 FROM recon_settlement_lines c
                  WHERE c.file_id = $2 AND c.type = 'payment' AND c.repeat_candidate IS NOT FALSE AND c.gateway_txn_id = s.gateway_txn_id)
              UNION ALL
              SELECT s.line, s.type, s.reference, s.gateway_txn_id, s.gross, s.fee, s.currency, s.at,
                     row_number() OVER (PARTITION BY s.gateway_txn_id COLLATE "C" ORDER BY s.line)
              FROM recon_settlement_lines s
              WHERE s.file_id = $2 AND s.type = 'payment' AND s.gateway_txn_id IN (
                  SELECT c.gateway_txn_id FROM recon_settlement_lines c
                  WHERE c.file_id = $2 AND c.type = 'payment' AND c.repeat_candidate IS NOT FALSE)) l
        FULL JOIN (SELECT id, status, amount, currency, gateway_txn_id, gateway_ref, paid_at FROM payments_recon_attempts
                   WHERE gateway = $3 AND status = 'succeeded' AND paid_at >= $9 AND paid_at < $10) d
            ON d.gateway_ref = l.reference
        LEFT JOIN LATERAL (SELECT id, status, amount, currency, gateway_txn_id FROM payments_recon_attempts
                           WHERE d.id IS NULL AND gateway = $3 AND gateway_ref = l.reference OFFSET 0) o ON true
        UNION ALL
        SELECT l.line, l.type, l.reference, l.gateway_txn_id, l.gross, l.fee, l.currency, l.at, l.occ,
               'refund', r.id, r.status, -r.amount, r.currency, r.gateway_refund_id, NULL, NULL,
               CASE WHEN $5::numeric IS NOT NULL THEN 0 END
        FROM (SELECT s.line, s.type, s.reference, s.gateway_txn_id, s.gross, s.fee, s.currency, s.at, 1 AS occ
              FROM recon_settlement_lines s
              WHERE s.file_id = $2 AND s.type = 'refund' AND NOT EXISTS (
                  SELECT 1 FROM recon_settlement_lines c
                  WHERE c.file_id = $2 AND c.type = 'refund' AND c.repeat_candidate IS NOT FALSE AND c.gateway_txn_id = s.gateway_txn_id)
              UNION ALL
              SELECT s.line, s.type, s.reference, s.gateway_txn_id, s.gross, s.fee, s.currency, s.at,
                     row_number() OVER (PARTITION BY s.gateway_txn_id COLLATE "C" ORDER BY s.line)
              FROM recon_settlement_lines s
              WHERE s.file_id = $2 AND s.type = 'refund' AND s.gateway_txn_id IN (
                  SELECT c.gateway_txn_id FROM recon_settlement_lines c
                  WHERE c.file_id = $2 AND c.type = 'refund' AND c.repeat_candidate IS NOT FALSE)) l
        LEFT JOIN (payments_recon_refunds r JOIN payments_recon_attempts ra ON ra.id = r.attempt_id AND ra.gateway = $3)
            ON r.gateway_refund_id = l.gateway_txn_id
    ) m
) c
WHERE c.class <> 'matched'
RETURNING line
)
SELECT count(*) FILTER (WHERE line IS NOT NULL), count(*) FILTER (WHERE line IS NULL) FROM ins
