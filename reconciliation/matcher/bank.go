package matcher

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// VietQR is the gateway whose payments the bank statement confirms: a
// citizen's transfer names the order's payment reference, which is the
// VietQR attempt's gateway reference.
const VietQR = "vietqr"

// BankDay is one run over the treasury account's booked entries of a day.
type BankDay struct {
	RunID int64
	Day   time.Time // the booking date (midnight ICT)
	// From and To bound the business day: VietQR successes of ours in it
	// that no credit carries are missing there.
	From, To time.Time
	// Taken are the entries the caller has classified already (settlement
	// credits, unidentified credits, debits); FirstSeq numbers the rest.
	Taken    []string
	FirstSeq int64
	Tol      Tolerances
}

// BankResult is what MatchBankDay wrote.
type BankResult struct {
	Credits      int64 // VietQR credits classified
	MissingThere int64
}

// vietQRCreditsSQL classifies the day's booked credits that name a payment
// reference, against the order with that reference and its VietQR attempts
// (the payment flow records a transfer for an order that has none). A credit's
// gateway transaction is the bank's reference of the entry (its entry key
// when the bank gives none): that is what a confirmed VietQR attempt
// records. $1 run, $2 day, $3 taken entries, $4 first seq, $5 tolerance.
const vietQRCreditsSQL = `
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
    FROM payment_attempts a
    WHERE a.gateway = 'vietqr' AND a.gateway_ref IN (SELECT payment_ref FROM v)
    ORDER BY a.gateway_ref, a.status = 'succeeded' DESC, a.created_at DESC
), ord AS (
    SELECT o.reference, o.id, o.status, o.total, o.currency FROM orders o WHERE o.reference IN (SELECT payment_ref FROM v)
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
) c`

// vietQRMissingSQL adds our VietQR successes of the day that no booked credit
// carries. $1 run, $2 from, $3 to, $4 first seq.
const vietQRMissingSQL = `
INSERT INTO recon_items (run_id, seq, class, here_kind, here_id, reference, gateway_txn_id, at, amount_here, currency, detail, exception_key)
SELECT $1, $4 + row_number() OVER (ORDER BY a.paid_at, a.id), 'missing_there', 'attempt', a.id, a.gateway_ref, a.gateway_txn_id,
       a.paid_at, a.amount, a.currency, 'paid here, no bank credit carries it', 'vietqr:attempt:' || a.id
FROM payment_attempts a
WHERE a.gateway = 'vietqr' AND a.status = 'succeeded' AND a.paid_at >= $2 AND a.paid_at < $3
  AND NOT EXISTS (SELECT 1 FROM recon_bank_entries b
                  WHERE b.payment_ref = a.gateway_ref AND b.credit AND b.status = 'BOOK'
                    AND a.gateway_txn_id IN (b.acct_svcr_ref, b.entry_key))`

// MatchBankDay classifies the day's VietQR credits that the caller has not
// taken, and adds our VietQR successes no credit carries, as items of
// p.RunID, in tx.
func MatchBankDay(ctx context.Context, tx pgx.Tx, p BankDay) (BankResult, error) {
	var res BankResult
	taken := p.Taken
	if taken == nil {
		taken = []string{}
	}
	tag, err := tx.Exec(ctx, vietQRCreditsSQL, p.RunID, p.Day, taken, p.FirstSeq, p.Tol.Amount)
	if err != nil {
		return res, fmt.Errorf("matcher: bank day %s: credits: %w", p.Day.Format(time.DateOnly), err)
	}
	res.Credits = tag.RowsAffected()
	tag, err = tx.Exec(ctx, vietQRMissingSQL, p.RunID, p.From, p.To, RecordSeqBase)
	if err != nil {
		return res, fmt.Errorf("matcher: bank day %s: missing there: %w", p.Day.Format(time.DateOnly), err)
	}
	res.MissingThere = tag.RowsAffected()
	return res, nil
}

// Item is one result written by the caller (lines it classifies itself).
// Zero values are stored as NULL.
type Item struct {
	Seq          int64
	Class        Class
	MatchedBy    string
	FileID       int64
	EntryKey     string
	HereKind     string
	HereID       uuid.UUID
	Reference    string
	GatewayTxnID string
	At           time.Time
	AmountThere  *decimal.Decimal
	AmountHere   *decimal.Decimal
	Currency     string
	Detail       string
	ExceptionKey string
}

var itemColumns = []string{"run_id", "seq", "class", "matched_by", "file_id", "entry_key", "here_kind", "here_id",
	"reference", "gateway_txn_id", "at", "amount_there", "amount_here", "currency", "detail", "exception_key"}

// InsertItems writes items of runID.
func InsertItems(ctx context.Context, tx pgx.Tx, runID int64, items []Item) error {
	rows := make([][]any, len(items))
	for i, it := range items {
		rows[i] = []any{runID, it.Seq, string(it.Class), it.MatchedBy, nullInt(it.FileID), nullString(it.EntryKey),
			nullString(it.HereKind), nullUUID(it.HereID), nullString(it.Reference), nullString(it.GatewayTxnID),
			nullTime(it.At), it.AmountThere, it.AmountHere, nullString(it.Currency), it.Detail, nullString(it.ExceptionKey)}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"recon_items"}, itemColumns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("matcher: items of run %d: %w", runID, err)
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

func nullUUID(u uuid.UUID) any {
	if u == uuid.Nil {
		return nil
	}
	return u
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
