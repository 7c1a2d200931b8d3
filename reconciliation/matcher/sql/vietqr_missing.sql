INSERT INTO recon_items (run_id, seq, class, here_kind, here_id, reference, gateway_txn_id, at, amount_here, currency, detail, exception_key)
SELECT $1, $4 + row_number() OVER (ORDER BY a.paid_at, a.id), 'missing_there', 'attempt', a.id, a.gateway_ref, a.gateway_txn_id,
       a.paid_at, a.amount, a.currency, 'paid here, no bank credit carries it', 'vietqr:attempt:' || a.id
FROM payments_recon_attempts a
WHERE a.gateway = 'vietqr' AND a.status = 'succeeded' AND a.paid_at >= $2 AND a.paid_at < $3
  AND NOT EXISTS (SELECT 1 FROM recon_bank_entries b
                  WHERE b.payment_ref = a.gateway_ref AND b.credit AND b.status = 'BOOK'
                    AND a.gateway_txn_id IN (b.acct_svcr_ref, b.entry_key))
