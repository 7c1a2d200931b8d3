WITH u AS (
    SELECT seq, here_kind, amount_there, at FROM recon_items WHERE run_id = $1 AND class = 'unknown'
), m AS (
    SELECT seq, here_kind, here_id, amount_here, at FROM recon_items WHERE run_id = $1 AND class = 'missing_there'
), cand AS (
    SELECT u.seq AS useq, m.seq AS mseq, m.here_id, m.amount_here,
           count(*) OVER (PARTITION BY u.seq) AS nu, count(*) OVER (PARTITION BY m.seq) AS nm
    FROM u JOIN m ON m.here_kind = u.here_kind AND abs(u.amount_there - m.amount_here) <= $2
                 AND m.at BETWEEN u.at - $3::interval AND u.at + $3::interval
), pairs AS (
    SELECT * FROM cand WHERE nu = 1 AND nm = 1
), upd AS (
    UPDATE recon_items i
    SET class = 'matched', matched_by = 'amount_date', here_id = p.here_id, amount_here = p.amount_here,
        detail = 'paired by amount and time', exception_key = NULL
    FROM pairs p WHERE i.run_id = $1 AND i.seq = p.useq AND i.class = 'unknown'
    RETURNING p.mseq
)
DELETE FROM recon_items d USING upd WHERE d.run_id = $1 AND d.seq = upd.mseq AND d.class = 'missing_there'
