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

// The lines of the file and our successes of the day are classified by one
// statement, linesAndMissingSQL: the file's payment lines FULL JOIN our
// successful attempts of the day on our reference, so that the one hash
// join that pairs each line with its attempt also yields the attempts no
// line names (missing there) — a million-line day is joined once, not
// twice (a second join sorted the whole file by reference). A line whose
// attempt is not a success of the day (pending, failed, paid another day,
// unknown: few) finds it by an index lookup. Refund lines are joined to
// refunds by the gateway's refund number apart, so that the few refunds
// never make the plan hash the whole file. It writes the lines that are not
// plain matches (a matched line is implied by its absence) and the missing
// attempts, these numbered from missingTempBase; it returns how many of
// each.
//
// A line's occurrence (occ: the how-manieth line of the file with its
// gateway transaction id and type) is numbered among the lines whose id is
// a repeat candidate (staging's Bloom filter marks every line whose id may
// have come before; lines staged before it are all candidates): the other
// lines are each the first of their id, and the file is never sorted whole.
//
// $1 run, $2 file, $3 gateway, $4 amount tolerance, $5 fee percent (NULL:
// unchecked), $6 fixed fee, $7 fee tolerance, $8 the currency's decimals
// (Fee.Of in SQL), $9 and $10 the day, $11 the first temporary seq.
//
//go:embed sql/lines_and_missing.sql
var linesAndMissingSQL string

// missingRefundsSQL adds our refunds of the day that no line of the file or
// of the nearby files names. $1 run, $2 first seq, $3 gateway, $4 from, $5
// to, $6 files, $7 and $8 the files' id range (for the BRIN index).
//
//go:embed sql/missing_refunds.sql
var missingRefundsSQL string

// missingNearbySQL drops the missing attempts that a nearby file names (a
// success near midnight settled the day before or after). $1 run, $2 the
// nearby files, $3 and $4 their id range.
//
//go:embed sql/missing_nearby.sql
var missingNearbySQL string

// missingRenumberSQL numbers the run's missing-there items from $2 in order
// of time and id, attempts and refunds together. $1 run, $2 RecordSeqBase.
//
//go:embed sql/missing_renumber.sql
var missingRenumberSQL string

// Temporary seqs of the missing-there items until they are renumbered from
// RecordSeqBase: apart from every line, final record and the summary item.
const (
	missingTempBase       = 3 * RecordSeqBase
	missingRefundTempBase = missingTempBase + 1<<30
)

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
	var missing int64
	err := tx.QueryRow(ctx, linesAndMissingSQL, p.RunID, p.FileID, p.Gateway, p.Tol.Amount, pct, fixed, p.Tol.Fee, scale,
		p.From, p.To, missingTempBase).Scan(&res.Exceptions, &missing)
	if err != nil {
		return res, fmt.Errorf("matcher: %s file %d: lines: %w", p.Gateway, p.FileID, err)
	}
	res.LinesTook = time.Since(start)

	start = time.Now()
	files := append([]int64{p.FileID}, p.Nearby...)
	lo, hi := idRange(files)
	tag, err := tx.Exec(ctx, missingRefundsSQL, p.RunID, missingRefundTempBase, p.Gateway, p.From, p.To, files, lo, hi)
	if err != nil {
		return res, fmt.Errorf("matcher: %s file %d: missing refunds: %w", p.Gateway, p.FileID, err)
	}
	missing += tag.RowsAffected()
	if len(p.Nearby) > 0 {
		lo, hi := idRange(p.Nearby)
		tag, err := tx.Exec(ctx, missingNearbySQL, p.RunID, p.Nearby, lo, hi)
		if err != nil {
			return res, fmt.Errorf("matcher: %s file %d: missing there, nearby files: %w", p.Gateway, p.FileID, err)
		}
		missing -= tag.RowsAffected()
	}
	if missing > 0 {
		if _, err := tx.Exec(ctx, missingRenumberSQL, p.RunID, RecordSeqBase); err != nil {
			return res, fmt.Errorf("matcher: %s file %d: number missing there: %w", p.Gateway, p.FileID, err)
		}
	}
	res.MissingThere = missing
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

// idRange is the least and greatest of ids (at least one).
func idRange(ids []int64) (lo, hi int64) {
	lo, hi = ids[0], ids[0]
	for _, f := range ids {
		lo, hi = min(lo, f), max(hi, f)
	}
	return lo, hi
}
