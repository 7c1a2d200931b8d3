INSERT INTO recon_items (run_id, seq, class, here_kind, here_id, reference, gateway_txn_id, at, amount_here, currency, detail, exception_key)
SELECT $1, $2 + row_number() OVER (ORDER BY o.at, o.id), 'missing_there', o.kind, o.id, o.ref, o.txn, o.at, o.amount, o.currency,
       o.detail, $3 || ':' || o.kind || ':' || o.id
FROM (
    SELECT 'attempt' AS kind, a.id, a.gateway_ref AS ref, a.gateway_txn_id AS txn, a.paid_at AS at, a.amount, a.currency,
           'paid here, absent from the settlement file' AS detail
    FROM payments_recon_attempts a
    WHERE a.gateway = $3 AND a.status = 'succeeded' AND a.paid_at >= $4 AND a.paid_at < $5
      AND NOT EXISTS (SELECT 1 FROM recon_settlement_lines l
                      WHERE l.file_id BETWEEN $7 AND $8 AND l.file_id = ANY($6)
                        AND l.type = 'payment' AND l.reference = a.gateway_ref)
    UNION ALL
    SELECT 'refund', r.id, r.gateway_refund_id, r.gateway_refund_id, r.completed_at, -r.amount, r.currency,
           'refunded here, absent from the settlement file'
    FROM payments_recon_refunds r JOIN payments_recon_attempts ra ON ra.id = r.attempt_id AND ra.gateway = $3
    WHERE r.status = 'succeeded' AND r.completed_at >= $4 AND r.completed_at < $5
      AND NOT EXISTS (SELECT 1 FROM recon_settlement_lines l
                      WHERE l.file_id BETWEEN $7 AND $8 AND l.file_id = ANY($6)
                        AND l.type = 'refund' AND l.gateway_txn_id = r.gateway_refund_id)
) o
