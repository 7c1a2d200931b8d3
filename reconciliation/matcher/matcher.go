// Package matcher classifies statement lines against civicpay's own records,
// in PostgreSQL, set-based: one INSERT … SELECT per step writes a run's
// results into recon_items, whatever the number of lines. It reads the
// staging tables (package staging) and what payments publishes of its
// attempts, refunds and orders (the views payments_recon_attempts,
// payments_recon_refunds and payments_recon_orders, migrations/00017) and
// writes nothing else; package reconciliation turns the
// results into exceptions, ledger entries and payments.
//
// Every line of a run ends in exactly one Class. A gateway's settlement line
// is matched first by reference (our wire id, or the gateway's refund number
// for a refund), then — for what is left on both sides — by amount and time
// within the configured tolerances, pairing only where each side has exactly
// one candidate.
package matcher

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/money"
)

// Class is where a line ends.
type Class string

// The classes a statement line ends in.
const (
	// Matched: the line agrees with our record.
	Matched Class = "matched"
	// MissingHere: paid at the gateway (or credited by the bank), not recorded
	// as paid here.
	MissingHere Class = "missing_here"
	// MissingThere: paid here, absent from the statement.
	MissingThere Class = "missing_there"
	// AmountMismatch: both sides have it, with different amounts (or fee).
	AmountMismatch Class = "amount_mismatch"
	// Duplicate: the statement has it more than once (or pays an attempt
	// another gateway transaction already paid).
	Duplicate Class = "duplicate"
	// Unknown: nothing here corresponds to it.
	Unknown Class = "unknown"
)

// Classes lists every class in report order.
func Classes() []Class {
	return []Class{Matched, MissingHere, MissingThere, AmountMismatch, Duplicate, Unknown}
}

// Valid reports whether c is one of the classes.
func (c Class) Valid() bool {
	for _, x := range Classes() {
		if c == x {
			return true
		}
	}
	return false
}

// How a matched line was paired.
const (
	ByReference  = "reference"
	ByAmountDate = "amount_date"
	ByFileID     = "settlement_file_id"
)

// SummaryKind marks an item that states where a day's settlement stands in a
// gateway's run: it is not a line of the file, so Totals leaves it out.
const SummaryKind = "settlement_summary"

// Total is the count and signed sum of one class in one currency.
type Total struct {
	Class    Class           `json:"class"`
	Currency string          `json:"currency"`
	Count    int64           `json:"count"`
	Total    decimal.Decimal `json:"total"`
}

// Fee is a gateway's contracted fee on a payment: Percent of the gross,
// rounded to the currency's decimals by money's rule (half away from zero:
// 1.5% of 10.01 USD is 0.15, of 123457 VND is 1852), plus Fixed. Refunds
// carry no fee. The matcher computes the same in SQL (round(numeric, n)
// rounds half away from zero too).
type Fee struct {
	Percent decimal.Decimal
	Fixed   decimal.Decimal
}

// Of is the fee on a payment of gross in currency c.
func (f Fee) Of(gross decimal.Decimal, c money.Currency) decimal.Decimal {
	return c.Round(gross.Mul(f.Percent).Shift(-2)).Add(f.Fixed)
}

// Tolerances bound what still counts as agreement.
type Tolerances struct {
	Amount decimal.Decimal // |statement − ours| on a line's gross
	Fee    decimal.Decimal // |charged − contracted| fee
	// Window: the amount-and-time fallback pairs a line with a record whose
	// time is within this of the line's.
	Window time.Duration
}

// Implied are the lines of a run's settlement file, which match by
// reference unless an item says otherwise: the file's count and signed gross
// (its trailer, which the parser checked against the lines).
type Implied struct {
	FileID   int64
	Count    int64
	Gross    decimal.Decimal
	Currency string
}

// Totals sums a run's results per class and currency: its items and, for a
// settlement file, the lines without an item (matched by reference),
// computed from the file's totals in O(items).
func Totals(ctx context.Context, tx pgx.Tx, runID int64, file *Implied) ([]Total, error) {
	var fileID int64
	if file != nil {
		fileID = file.FileID
	}
	rows, err := tx.Query(ctx, `
		SELECT class, currency, count(*), coalesce(sum(coalesce(amount_there, amount_here)), 0),
		       count(*) FILTER (WHERE file_id = $3 AND line IS NOT NULL), coalesce(sum(amount_there) FILTER (WHERE file_id = $3 AND line IS NOT NULL), 0)
		FROM recon_items WHERE run_id = $1 AND currency IS NOT NULL AND here_kind IS DISTINCT FROM $2
		GROUP BY class, currency ORDER BY class, currency`, runID, SummaryKind, fileID)
	if err != nil {
		return nil, fmt.Errorf("matcher: totals of run %d: %w", runID, err)
	}
	var out []Total
	var lines int64
	linesGross := decimal.Zero
	for rows.Next() {
		var t Total
		var n int64
		var g decimal.Decimal
		if err := rows.Scan(&t.Class, &t.Currency, &t.Count, &t.Total, &n, &g); err != nil {
			rows.Close()
			return nil, fmt.Errorf("matcher: totals of run %d: %w", runID, err)
		}
		out = append(out, t)
		lines, linesGross = lines+n, linesGross.Add(g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("matcher: totals of run %d: %w", runID, err)
	}
	if file == nil || file.Count == lines {
		return out, nil
	}
	implied := Total{Class: Matched, Currency: file.Currency, Count: file.Count - lines, Total: file.Gross.Sub(linesGross)}
	for i := range out {
		if out[i].Class == Matched && out[i].Currency == file.Currency {
			out[i].Count, out[i].Total = out[i].Count+implied.Count, out[i].Total.Add(implied.Total)
			return out, nil
		}
	}
	return append([]Total{implied}, out...), nil
}
