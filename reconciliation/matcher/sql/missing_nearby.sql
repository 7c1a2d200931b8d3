DELETE FROM recon_items i
WHERE i.run_id = $1 AND i.class = 'missing_there' AND i.here_kind = 'attempt'
  AND EXISTS (SELECT 1 FROM recon_settlement_lines l
              WHERE l.file_id BETWEEN $3 AND $4 AND l.file_id = ANY($2)
                AND l.type = 'payment' AND l.reference = i.reference)
