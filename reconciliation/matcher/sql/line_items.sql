INSERT INTO recon_items (run_id, seq, class, matched_by, file_id, line, here_kind, here_id, reference, gateway_txn_id, at,
                         amount_there, fee_there, amount_here, currency, detail, exception_key)
SELECT $1, c.line, c.class, '', $2, c.line, c.here_kind, c.here_id, c.reference, c.gateway_txn_id, c.at,
       c.gross, c.fee, c.here_amount, c.currency,
       CASE c.class
           WHEN 'unknown' THEN CASE c.type WHEN 'payment' THEN 'no attempt has this reference'
                                           ELSE 'no refund has this gateway refund number' END
           WHEN 'missing_here' THEN c.here_kind || ' is ' || c.here_status || ' here'
           WHEN 'duplicate' THEN CASE WHEN c.occ > 1 THEN 'gateway transaction repeated in the file (occurrence ' || c.occ || ')'
                                      ELSE 'attempt already paid by gateway transaction ' || c.here_txn END
           ELSE CASE WHEN c.currency <> c.here_currency THEN 'currency ' || c.currency || ', here ' || c.here_currency
                     WHEN abs(c.gross - c.here_amount) > $4 THEN 'gross ' || c.gross || ', here ' || c.here_amount
                     ELSE 'fee ' || c.fee || ', contracted ' || c.expected_fee END
       END,
       $3 || ':' || c.type || ':' || c.gateway_txn_id || CASE WHEN c.occ > 1 THEN ':' || c.occ ELSE '' END
FROM (
    SELECT m.*,
           CASE
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
        SELECT l.*, 'attempt' AS here_kind, a.id AS here_id, a.status AS here_status, a.amount AS here_amount,
               a.currency AS here_currency, a.gateway_txn_id AS here_txn,
               round(l.gross * $5::numeric / 100, $8::int) + $6::numeric AS expected_fee
        FROM (SELECT s.line, s.type, s.reference, s.gateway_txn_id, s.gross, s.fee, s.currency, s.at, coalesce(rc.occ, 1) AS occ
              FROM recon_settlement_lines s
              LEFT JOIN (SELECT line, row_number() OVER (PARTITION BY gateway_txn_id COLLATE "C" ORDER BY line) AS occ
                         FROM recon_settlement_lines
                         WHERE file_id = $2 AND type = 'payment' AND gateway_txn_id IN (
                             SELECT gateway_txn_id FROM recon_settlement_lines
                             WHERE file_id = $2 AND type = 'payment' AND repeat_candidate IS NOT FALSE)) rc ON rc.line = s.line
              WHERE s.file_id = $2 AND s.type = 'payment') l
        LEFT JOIN payments_recon_attempts a ON a.gateway = $3 AND a.gateway_ref = l.reference
        UNION ALL
        SELECT l.*, 'refund', r.id, r.status, -r.amount, r.currency, r.gateway_refund_id,
               CASE WHEN $5::numeric IS NOT NULL THEN 0 END
        FROM (SELECT s.line, s.type, s.reference, s.gateway_txn_id, s.gross, s.fee, s.currency, s.at, coalesce(rc.occ, 1) AS occ
              FROM recon_settlement_lines s
              LEFT JOIN (SELECT line, row_number() OVER (PARTITION BY gateway_txn_id COLLATE "C" ORDER BY line) AS occ
                         FROM recon_settlement_lines
                         WHERE file_id = $2 AND type = 'refund' AND gateway_txn_id IN (
                             SELECT gateway_txn_id FROM recon_settlement_lines
                             WHERE file_id = $2 AND type = 'refund' AND repeat_candidate IS NOT FALSE)) rc ON rc.line = s.line
              WHERE s.file_id = $2 AND s.type = 'refund') l
        LEFT JOIN (payments_recon_refunds r JOIN payments_recon_attempts ra ON ra.id = r.attempt_id AND ra.gateway = $3)
            ON r.gateway_refund_id = l.gateway_txn_id
    ) m
) c
WHERE c.class <> 'matched'
