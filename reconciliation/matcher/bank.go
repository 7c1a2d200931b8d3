package matcher

import (
	"context"
	_ "embed"
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
//
//go:embed sql/vietqr_credits.sql
var vietQRCreditsSQL string

// vietQRMissingSQL adds our VietQR successes of the day that no booked credit
// carries. $1 run, $2 from, $3 to, $4 first seq.
//
//go:embed sql/vietqr_missing.sql
var vietQRMissingSQL string

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
