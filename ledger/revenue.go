package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
)

// Dimension is what revenue can be grouped by.
type Dimension string

// Revenue dimensions. Day is the business day (GMT+7) of the effective time.
const (
	ByDay     Dimension = "day"
	ByAgency  Dimension = "agency"
	ByService Dimension = "service"
	ByChannel Dimension = "channel"
)

// dimensions are the group columns in output order, with their SQL.
var dimensions = []struct {
	dim Dimension
	sql string
}{
	{ByDay, `to_char(p.effective_at AT TIME ZONE INTERVAL '` + bizday.SQLOffset + `', 'YYYY-MM-DD')`},
	{ByAgency, `split_part(a.code, ':', 2)`},
	{ByService, `p.service_code`},
	{ByChannel, `p.channel`},
}

// ParseDimension accepts day, agency, service and channel.
func ParseDimension(s string) (Dimension, bool) {
	for _, d := range dimensions {
		if string(d.dim) == s {
			return d.dim, true
		}
	}
	return "", false
}

// RevenueQuery selects revenue by effective time in [From, To).
type RevenueQuery struct {
	From, To time.Time
	GroupBy  []Dimension
	Agency   string // only this agency's revenue; "" for all agencies
}

// AdjustmentChannel is the channel of a manual adjustment's revenue
// attribution: a manual entry attributes revenue only when marked as an
// adjustment, and revenue shows it apart (RevenueRow.Adjustments). No payment
// method is called so (the payment rules refuse it).
const AdjustmentChannel = "adjustment"

// RevenueRow is revenue of one group in one currency. Gross is what payments
// credited to agencies, Refunds what refunds (and reversals of payments)
// debited back, Adjustments what manual adjustments attributed (signed:
// credits to the agency positive; never part of Gross or Refunds), Net is
// Gross - Refunds + Adjustments. Group fields not grouped by are empty.
type RevenueRow struct {
	Day         string          `json:"day,omitempty"`
	Agency      string          `json:"agency,omitempty"`
	Service     string          `json:"service,omitempty"`
	Channel     string          `json:"channel,omitempty"`
	Currency    string          `json:"currency"`
	Gross       decimal.Decimal `json:"gross"`
	Refunds     decimal.Decimal `json:"refunds"`
	Adjustments decimal.Decimal `json:"adjustments"`
	Net         decimal.Decimal `json:"net"`
	Postings    int64           `json:"postings"`
}

// Revenue streams revenue rows, ordered by group and currency, to fn, reading
// the ledger itself: revenue is the postings on agency:<code>:collected
// accounts that carry a service (those of payment and refund entries and
// their reversals); transfers to agencies and other movements carry none.
// Over [from, to), with no such other movements, an agency's net revenue
// equals its collected balance as of to minus as of from.
func Revenue(ctx context.Context, db DBTX, q RevenueQuery, fn func(RevenueRow) error) error {
	if !q.From.Before(q.To) {
		return invalid("to", "must be after from")
	}
	cols := make([]string, len(dimensions))
	var groups []string
	for i, d := range dimensions {
		cols[i] = "''"
		for _, g := range q.GroupBy {
			if g == d.dim {
				cols[i] = d.sql
				groups = append(groups, fmt.Sprint(i+1))
			}
		}
	}
	groups = append(groups, "5")
	accounts, match := "agency:%:collected", "LIKE"
	if q.Agency != "" {
		accounts, match = AgencyCollected(q.Agency), "=" // agency codes may hold LIKE's "_"
	}
	query := `SELECT ` + strings.Join(cols, ", ") + `, p.currency,
			coalesce(sum(greatest(-p.net, 0)) FILTER (WHERE p.channel <> '` + AdjustmentChannel + `'), 0),
			coalesce(sum(greatest(p.net, 0)) FILTER (WHERE p.channel <> '` + AdjustmentChannel + `'), 0),
			coalesce(-sum(p.net) FILTER (WHERE p.channel = '` + AdjustmentChannel + `'), 0),
			-sum(p.net), count(*)
		FROM ledger_accounts a
		JOIN ledger_postings p ON p.account_code = a.code
		WHERE a.code ` + match + ` $1 AND p.effective_at >= $2 AND p.effective_at < $3 AND p.service_code IS NOT NULL
		GROUP BY ` + strings.Join(groups, ", ") + ` ORDER BY ` + strings.Join(groups, ", ")
	rows, err := db.Query(ctx, query, accounts, q.From, q.To)
	if err != nil {
		return fmt.Errorf("ledger: revenue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r RevenueRow
		if err := rows.Scan(&r.Day, &r.Agency, &r.Service, &r.Channel, &r.Currency, &r.Gross, &r.Refunds, &r.Adjustments, &r.Net, &r.Postings); err != nil {
			return fmt.Errorf("ledger: revenue: scan: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: revenue: %w", err)
	}
	return nil
}

// RevenueTotals sums revenue rows per currency.
type RevenueTotals struct{ byCurrency map[string]RevenueRow }

// Add counts r in its currency's total.
func (t *RevenueTotals) Add(r RevenueRow) {
	if t.byCurrency == nil {
		t.byCurrency = map[string]RevenueRow{}
	}
	sum := t.byCurrency[r.Currency]
	sum.Currency = r.Currency
	sum.Gross, sum.Refunds, sum.Net = sum.Gross.Add(r.Gross), sum.Refunds.Add(r.Refunds), sum.Net.Add(r.Net)
	sum.Adjustments = sum.Adjustments.Add(r.Adjustments)
	sum.Postings += r.Postings
	t.byCurrency[r.Currency] = sum
}

// Rows returns one total per currency, in currency order.
func (t *RevenueTotals) Rows() []RevenueRow {
	out := make([]RevenueRow, 0, len(t.byCurrency))
	for _, c := range sortedKeys(t.byCurrency) {
		out = append(out, t.byCurrency[c])
	}
	return out
}
