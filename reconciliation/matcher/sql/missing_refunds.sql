INSERT INTO recon_items (run_id, seq, class, here_kind, here_id, reference, gateway_txn_id, at, amount_here, currency, detail, exception_key)
SELECT $1, $2 + row_number() OVER (ORDER BY r.completed_at, r.id), 'missing_there', 'refund', r.id, r.gateway_refund_id,
       r.gateway_refund_id, r.completed_at, -r.amount, r.currency, 'refunded here, absent from the settlement file',
       $3 || ':refund:' || r.id
FROM payments_recon_refunds r JOIN payments_recon_attempts ra ON ra.id = r.attempt_id AND ra.gateway = $3
WHERE r.status = 'succeeded' AND r.completed_at >= $4 AND r.completed_at < $5
  AND NOT EXISTS (SELECT 1 FROM recon_settlement_lines l
                  WHERE l.file_id BETWEEN $7 AND $8 AND l.file_id = ANY($6)
                    AND l.type = 'refund' AND l.gateway_txn_id = r.gateway_refund_id)
