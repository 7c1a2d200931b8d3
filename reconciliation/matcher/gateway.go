package matcher

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/internal/foundation/money"
)

// GatewayFile is one run over a gateway's settlement file.
type GatewayFile struct {
	RunID   int64
	FileID  int64 // the latest revision of the day's file
	Gateway string
	// From and To bound the business day (midnight to midnight ICT): our
	// successes in it that no line names are missing there.
	From, To time.Time
	// Nearby are the latest files of the neighbouring days: a success near
	// midnight that one of them carries is not missing.
	Nearby []int64
	// Currency is the file's (every line's) currency: the fee is rounded to
	// its decimals.
	Currency string
	// Fee is the contracted fee, checked on every payment line; nil: fees
	// are not checked (nor in a file whose currency money does not know:
	// none of its lines can match a payment of ours anyway).
	Fee *Fee
	Tol Tolerances
}

// GatewayResult is what MatchGatewayFile wrote.
type GatewayResult struct {
	Exceptions   int64 // lines that are not plain matches
	MissingThere int64 // our records absent from the file
	Paired       int64 // lines paired by amount and time
}

// Exception keys of a gateway run: a line is known by its gateway
// transaction and type (and occurrence, for a repeated line); a record of
// ours by its id.

// RecordSeqBase numbers the items that are records of ours rather than
// statement lines (missing there): their seq is above any line number.
const RecordSeqBase int64 = 1 << 31

// lineItemsSQL classifies every line of the file in one statement and
// writes the lines that are not plain matches (a matched line is implied by
// its absence). Payment lines are joined to attempts by our reference,
// refund lines to refunds by the gateway's refund number, each apart so that
// the few refunds never make the plan hash the whole file. $1 run, $2 file, $3 gateway, $4 amount tolerance, $5 fee
// percent (NULL: unchecked), $6 fixed fee, $7 fee tolerance, $8 the currency's decimals (Fee.Of in SQL).
const lineItemsSQL = `
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
        FROM (SELECT line, type, reference, gateway_txn_id, gross, fee, currency, at,
                     row_number() OVER (PARTITION BY gateway_txn_id COLLATE "C" ORDER BY line) AS occ
              FROM recon_settlement_lines WHERE file_id = $2 AND type = 'payment') l
        LEFT JOIN payment_attempts a ON a.gateway = $3 AND a.gateway_ref = l.reference
        UNION ALL
        SELECT l.*, 'refund', r.id, r.status, -r.amount, r.currency, r.gateway_refund_id,
               CASE WHEN $5::numeric IS NOT NULL THEN 0 END
        FROM (SELECT line, type, reference, gateway_txn_id, gross, fee, currency, at,
                     row_number() OVER (PARTITION BY gateway_txn_id COLLATE "C" ORDER BY line) AS occ
              FROM recon_settlement_lines WHERE file_id = $2 AND type = 'refund') l
        LEFT JOIN (payment_refunds r JOIN payment_attempts ra ON ra.id = r.attempt_id AND ra.gateway = $3)
            ON r.gateway_refund_id = l.gateway_txn_id
    ) m
) c
WHERE c.class <> 'matched'`

// missingThereSQL adds our successes and refunds of the day that no line of
// the file or of the nearby files names. $1 run, $2 first seq, $3 gateway,
// $4 from, $5 to, $6 files, $7 and $8 the files' id range (for the BRIN index).
const missingThereSQL = `
INSERT INTO recon_items (run_id, seq, class, here_kind, here_id, reference, gateway_txn_id, at, amount_here, currency, detail, exception_key)
SELECT $1, $2 + row_number() OVER (ORDER BY o.at, o.id), 'missing_there', o.kind, o.id, o.ref, o.txn, o.at, o.amount, o.currency,
       o.detail, $3 || ':' || o.kind || ':' || o.id
FROM (
    SELECT 'attempt' AS kind, a.id, a.gateway_ref AS ref, a.gateway_txn_id AS txn, a.paid_at AS at, a.amount, a.currency,
           'paid here, absent from the settlement file' AS detail
    FROM payment_attempts a
    WHERE a.gateway = $3 AND a.status = 'succeeded' AND a.paid_at >= $4 AND a.paid_at < $5
      AND NOT EXISTS (SELECT 1 FROM recon_settlement_lines l
                      WHERE l.file_id BETWEEN $7 AND $8 AND l.file_id = ANY($6)
                        AND l.type = 'payment' AND l.reference = a.gateway_ref)
    UNION ALL
    SELECT 'refund', r.id, r.gateway_refund_id, r.gateway_refund_id, r.completed_at, -r.amount, r.currency,
           'refunded here, absent from the settlement file'
    FROM payment_refunds r JOIN payment_attempts ra ON ra.id = r.attempt_id AND ra.gateway = $3
    WHERE r.status = 'succeeded' AND r.completed_at >= $4 AND r.completed_at < $5
      AND NOT EXISTS (SELECT 1 FROM recon_settlement_lines l
                      WHERE l.file_id BETWEEN $7 AND $8 AND l.file_id = ANY($6)
                        AND l.type = 'refund' AND l.gateway_txn_id = r.gateway_refund_id)
) o`

// pairSQL pairs what is left on both sides by amount and time: an unknown
// line and a record missing there are one when each is the other's only
// candidate. $1 run, $2 amount tolerance, $3 window.
const pairSQL = `
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
DELETE FROM recon_items d USING upd WHERE d.run_id = $1 AND d.seq = upd.mseq AND d.class = 'missing_there'`

// MatchGatewayFile classifies every line of p.FileID and adds our records
// the file lacks, as items of p.RunID, in tx.
func MatchGatewayFile(ctx context.Context, tx pgx.Tx, p GatewayFile) (GatewayResult, error) {
	var res GatewayResult
	var pct, fixed, scale any
	if c, err := money.Lookup(p.Currency); p.Fee != nil && err == nil {
		pct, fixed, scale = p.Fee.Percent, p.Fee.Fixed, c.Decimals
	}
	tag, err := tx.Exec(ctx, lineItemsSQL, p.RunID, p.FileID, p.Gateway, p.Tol.Amount, pct, fixed, p.Tol.Fee, scale)
	if err != nil {
		return res, fmt.Errorf("matcher: %s file %d: lines: %w", p.Gateway, p.FileID, err)
	}
	res.Exceptions = tag.RowsAffected()

	files := append([]int64{p.FileID}, p.Nearby...)
	lo, hi := files[0], files[0]
	for _, f := range files {
		lo, hi = min(lo, f), max(hi, f)
	}
	tag, err = tx.Exec(ctx, missingThereSQL, p.RunID, RecordSeqBase, p.Gateway, p.From, p.To, files, lo, hi)
	if err != nil {
		return res, fmt.Errorf("matcher: %s file %d: missing there: %w", p.Gateway, p.FileID, err)
	}
	res.MissingThere = tag.RowsAffected()

	tag, err = tx.Exec(ctx, pairSQL, p.RunID, p.Tol.Amount, p.Tol.Window)
	if err != nil {
		return res, fmt.Errorf("matcher: %s file %d: pair by amount and time: %w", p.Gateway, p.FileID, err)
	}
	res.Paired = tag.RowsAffected()
	res.MissingThere -= res.Paired
	return res, nil
}
