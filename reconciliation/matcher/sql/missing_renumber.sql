UPDATE recon_items i SET seq = $2 + n.rn
FROM (SELECT seq, row_number() OVER (ORDER BY at, here_id) AS rn
      FROM recon_items WHERE run_id = $1 AND class = 'missing_there') n
WHERE i.run_id = $1 AND i.seq = n.seq
