package matcher

import (
	"context"
	_ "embed"
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
	// How long each statement took: classifying the lines, adding our
	// records missing there, pairing by amount and time.
	LinesTook, MissingTook, PairTook time.Duration
}

// Exception keys of a gateway run: a line is known by its gateway
// transaction and type (and occurrence, for a repeated line); a record of
// ours by its id.

// RecordSeqBase numbers the items that are records of ours rather than
// statement lines (missing there): their seq is above any line number.
const RecordSeqBase int64 = 1 << 31

// A line's occurrence (occ: the how-manieth line of the file with its
// gateway transaction id and type) is numbered among the lines whose id is
// a repeat candidate (staging's Bloom filter marks every line whose id may
// have come before; lines staged before it are all candidates): the other
// lines are each the first of their id, and the file is never sorted whole.
//
// lineItemsSQL classifies every line of the file in one statement and
// writes the lines that are not plain matches (a matched line is implied by
// its absence). Payment lines are joined to attempts by our reference,
// refund lines to refunds by the gateway's refund number, each apart so that
// the few refunds never make the plan hash the whole file. $1 run, $2 file, $3 gateway, $4 amount tolerance, $5 fee
// percent (NULL: unchecked), $6 fixed fee, $7 fee tolerance, $8 the currency's decimals (Fee.Of in SQL).
//
//go:embed sql/line_items.sql
var lineItemsSQL string

// missingThereSQL adds our successes and refunds of the day that no line of
// the file or of the nearby files names. $1 run, $2 first seq, $3 gateway,
// $4 from, $5 to, $6 files, $7 and $8 the files' id range (for the BRIN index).
//
//go:embed sql/missing_there.sql
var missingThereSQL string

// pairSQL pairs what is left on both sides by amount and time: an unknown
// line and a record missing there are one when each is the other's only
// candidate. $1 run, $2 amount tolerance, $3 window.
//
//go:embed sql/pair.sql
var pairSQL string

// MatchGatewayFile classifies every line of p.FileID and adds our records
// the file lacks, as items of p.RunID, in tx.
func MatchGatewayFile(ctx context.Context, tx pgx.Tx, p GatewayFile) (GatewayResult, error) {
	var res GatewayResult
	var pct, fixed, scale any
	if c, err := money.Lookup(p.Currency); p.Fee != nil && err == nil {
		pct, fixed, scale = p.Fee.Percent, p.Fee.Fixed, c.Decimals
	}
	start := time.Now()
	tag, err := tx.Exec(ctx, lineItemsSQL, p.RunID, p.FileID, p.Gateway, p.Tol.Amount, pct, fixed, p.Tol.Fee, scale)
	if err != nil {
		return res, fmt.Errorf("matcher: %s file %d: lines: %w", p.Gateway, p.FileID, err)
	}
	res.Exceptions = tag.RowsAffected()
	res.LinesTook = time.Since(start)

	files := append([]int64{p.FileID}, p.Nearby...)
	lo, hi := files[0], files[0]
	for _, f := range files {
		lo, hi = min(lo, f), max(hi, f)
	}
	start = time.Now()
	tag, err = tx.Exec(ctx, missingThereSQL, p.RunID, RecordSeqBase, p.Gateway, p.From, p.To, files, lo, hi)
	if err != nil {
		return res, fmt.Errorf("matcher: %s file %d: missing there: %w", p.Gateway, p.FileID, err)
	}
	res.MissingThere = tag.RowsAffected()
	res.MissingTook = time.Since(start)

	start = time.Now()
	tag, err = tx.Exec(ctx, pairSQL, p.RunID, p.Tol.Amount, p.Tol.Window)
	if err != nil {
		return res, fmt.Errorf("matcher: %s file %d: pair by amount and time: %w", p.Gateway, p.FileID, err)
	}
	res.Paired = tag.RowsAffected()
	res.PairTook = time.Since(start)
	res.MissingThere -= res.Paired
	return res, nil
}
