package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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
	// After, when set, keeps only the groups after it in Revenue's order
	// (its group fields and currency are read); Limit > 0 keeps at most that
	// many groups. ReadRevenuePage pages with them.
	After *RevenueRow
	Limit int
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
//
// It reads the revenue rollups (rollup.go; those without the channel,
// 00039, unless grouped by channel) for the whole business days of
// [from, to) — the monthly ones for its months unless grouped by day, a
// partial month mostly in the range as its month less its other days —
// and the postings for the rest: the partial days at either end,
// and the live tail of the whole days, the postings of the entries at or
// above the rollups' horizon (through the entries' index on xid: a probe a
// partition, where the postings' index on account and xid took one an
// account and partition; a posting carries its entry's xid and effective
// time). Horizon,
// rollups and postings are read in one snapshot, so the rows are exactly
// RevenueScan's.
func Revenue(ctx context.Context, db DBTX, q RevenueQuery, fn func(RevenueRow) error) error {
	if !q.From.Before(q.To) {
		return invalid("to", "must be after from")
	}
	query, args := revenueSQL(q)
	var horizon int64
	if err := db.QueryRow(ctx, `SELECT up_to_xid FROM ledger_rollup_horizon`).Scan(&horizon); err != nil {
		return fmt.Errorf("ledger: revenue: horizon: %w", err)
	}
	// The rollup job may move the horizon between the two reads: then the
	// query returns only its horizon, and is run again above that one.
	for range 10 {
		args[0] = horizon
		again, err := streamRevenue(ctx, db, query, args, fn)
		if err != nil || again == nil {
			return err
		}
		horizon = *again
	}
	return errors.New("ledger: revenue: the rollup horizon kept moving")
}

// revenueSQL is Revenue's query and its arguments; the first, the horizon the
// tail is read above, is for the caller to set.
func revenueSQL(q RevenueQuery) (string, []any) {
	// The whole business days are [firstDay, endDay); [From, fullFrom) and
	// [fullTo, To) are the partial days (empty when the bounds are midnights).
	firstDay := DayOf(q.From)
	if !DayStart(firstDay).Equal(q.From) {
		firstDay = firstDay.AddDate(0, 0, 1)
	}
	endDay := DayOf(q.To)
	fullFrom, fullTo := DayStart(firstDay), DayStart(endDay)
	if !firstDay.Before(endDay) { // no whole day: all of [From, To) is read from the postings
		endDay, fullFrom, fullTo = firstDay, q.To, q.To
	}
	// Not grouped by day, the months [firstMonth, endMonth) are read from the
	// monthly rollups: the whole months in [firstDay, endDay), and a partial
	// month at either end when most of it is in the range, its days outside
	// the range then subtracted (their daily rollups negated): a month's
	// rows weigh about a day's. The days of [firstDay, endDay) outside those
	// months are read from the daily rollups.
	firstMonth, endMonth := endDay, endDay
	if !containsDim(q.GroupBy, ByDay) && firstDay.Before(endDay) {
		monthOf := func(d time.Time) time.Time { return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC) }
		// mostly is whether most of the month starting m is in [firstDay, endDay).
		mostly := func(m time.Time) bool {
			from, to := m, m.AddDate(0, 1, 0)
			if firstDay.After(from) {
				from = firstDay
			}
			if endDay.Before(to) {
				to = endDay
			}
			in, all := int(to.Sub(from).Hours()/24+0.5), int(m.AddDate(0, 1, 0).Sub(m).Hours()/24+0.5)
			return in == all || 2*in > all+1
		}
		first, end := monthOf(firstDay), monthOf(endDay)
		if !first.Equal(firstDay) && !mostly(first) {
			first = first.AddDate(0, 1, 0)
		}
		if !end.Equal(endDay) && mostly(end) {
			end = end.AddDate(0, 1, 0)
		}
		if first.Before(end) {
			firstMonth, endMonth = first, end
		}
	}
	cols, groups, order := revenueGroups(q.GroupBy)
	args := []any{int64(0), q.From, q.To, firstDay, endDay, fullFrom, fullTo, "agency:%:collected", "%", firstMonth, endMonth}
	if q.Agency != "" {
		args[7], args[8] = AgencyCollected(q.Agency), q.Agency
	}
	// The page: the groups after q.After (a row comparison of the group
	// columns, which orders as ORDER BY does), at most q.Limit of them.
	after, limit := "", ""
	if q.After != nil {
		keys := make([]string, len(groups))
		for i, g := range groups {
			args = append(args, afterKey(*q.After, g))
			keys[i] = fmt.Sprintf("$%d::text", len(args))
			switch g {
			case "day":
				keys[i] = fmt.Sprintf("$%d::date", len(args))
			case "currency":
				keys[i] = fmt.Sprintf("$%d::bpchar", len(args))
			}
		}
		after = ` AND (` + strings.Join(groups, ", ") + `) > (` + strings.Join(keys, ", ") + `)`
	}
	if q.Limit > 0 {
		args = append(args, q.Limit)
		limit = fmt.Sprintf(` ORDER BY %s LIMIT $%d`, strings.Join(groups, ", "), len(args))
	}
	match := "LIKE"
	if q.Agency != "" {
		match = "=" // agency codes may hold LIKE's "_"
	}
	edge := func(from, to string) string {
		return `SELECT ` + bizDaySQL + `, split_part(a.code, ':', 2), p.service_code, p.channel, p.currency, ` + revenueSumsSQL + `
			FROM ledger_accounts a JOIN ledger_postings p ON p.account_code = a.code
			WHERE a.code ` + match + ` $8 AND p.service_code IS NOT NULL AND p.effective_at >= ` + from + ` AND p.effective_at < ` + to + `
			GROUP BY 1, 2, 3, 4, 5`
	}
	// k orders the horizon row (k 0) before the revenue rows (k 1), which
	// only come when the horizon is the one the tail was read above ($1).
	// Not grouped by channel, the rollups without it (00039) have a third
	// of the rows.
	daily, monthly, channel := "ledger_revenue_rollups", "ledger_revenue_rollups_monthly", "r.channel"
	if !containsDim(q.GroupBy, ByChannel) {
		daily, monthly, channel = "ledger_revenue_rollups_service", "ledger_revenue_rollups_service_monthly", "''"
	}
	query := `WITH h AS (SELECT up_to_xid FROM ledger_rollup_horizon), src AS (
			SELECT r.day, r.agency, r.service, ` + channel + `, r.currency, r.gross, r.refunds, r.adjustments, r.net, r.postings
			FROM ` + daily + ` r WHERE r.day >= $4 AND r.day < $10 AND r.agency ` + match + ` $9
		UNION ALL
			SELECT r.month, r.agency, r.service, ` + channel + `, r.currency, r.gross, r.refunds, r.adjustments, r.net, r.postings
			FROM ` + monthly + ` r WHERE r.month >= $10 AND r.month < $11 AND r.agency ` + match + ` $9
		UNION ALL
			SELECT r.day, r.agency, r.service, ` + channel + `, r.currency, r.gross, r.refunds, r.adjustments, r.net, r.postings
			FROM ` + daily + ` r WHERE r.day >= $11 AND r.day < $5 AND r.agency ` + match + ` $9
		UNION ALL
			SELECT r.day, r.agency, r.service, ` + channel + `, r.currency, -r.gross, -r.refunds, -r.adjustments, -r.net, -r.postings
			FROM ` + daily + ` r WHERE (r.day >= $10 AND r.day < $4 OR r.day >= $5 AND r.day < $11) AND r.agency ` + match + ` $9
		UNION ALL ` + edge("$2", "$6") + `
		UNION ALL ` + edge("$7", "$3") + `
		UNION ALL
			SELECT ` + bizDaySQL + `, split_part(p.account_code, ':', 2), p.service_code, p.channel, p.currency, ` + revenueSumsSQL + `
			FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id AND p.effective_at = e.effective_at
			WHERE e.xid >= $1 AND e.effective_at >= $6 AND e.effective_at < $7
				AND p.account_code ` + match + ` $8 AND p.service_code IS NOT NULL
			GROUP BY 1, 2, 3, 4, 5
		)
		SELECT 0 AS k, NULL::date, '', '', '', '', ''::bpchar, 0::numeric, 0::numeric, 0::numeric, 0::numeric, (SELECT up_to_xid FROM h)
		UNION ALL (
			SELECT 1, ` + strings.Join(cols, ", ") + `, sum(gross), sum(refunds), sum(adjustments), sum(net), sum(postings)::bigint
			FROM src WHERE (SELECT up_to_xid FROM h) = $1` + after + `
			GROUP BY ` + strings.Join(groups, ", ") + `
			HAVING sum(postings) > 0` + limit + `
		) ORDER BY 1, ` + strings.Join(order, ", ")
	return query, args
}

// afterKey is r's value of the source column g of Revenue's query.
func afterKey(r RevenueRow, g string) string {
	switch g {
	case "day":
		return r.Day
	case "agency":
		return r.Agency
	case "service":
		return r.Service
	case "channel":
		return r.Channel
	}
	return r.Currency
}

// streamRevenue runs Revenue's query. It returns the horizon the query found
// when it is not the one asked for (no row was passed to fn then).
func streamRevenue(ctx context.Context, db DBTX, query string, args []any, fn func(RevenueRow) error) (*int64, error) {
	// Planned for these arguments every time (an unnamed statement): a
	// generic plan cannot tell that the tail above the horizon is short.
	rows, err := db.Query(ctx, query, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("ledger: revenue: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, fmt.Errorf("ledger: revenue: no horizon row: %w", rows.Err())
	}
	var k int
	var horizon int64
	var r RevenueRow
	var day *time.Time // what the rows are ordered by
	if err := rows.Scan(&k, &day, &r.Day, &r.Agency, &r.Service, &r.Channel, &r.Currency, &r.Gross, &r.Refunds, &r.Adjustments, &r.Net, &horizon); err != nil {
		return nil, fmt.Errorf("ledger: revenue: scan horizon: %w", err)
	}
	if horizon != args[0].(int64) {
		rows.Close()
		return &horizon, rows.Err()
	}
	for rows.Next() {
		var r RevenueRow
		if err := rows.Scan(&k, &day, &r.Day, &r.Agency, &r.Service, &r.Channel, &r.Currency, &r.Gross, &r.Refunds, &r.Adjustments, &r.Net, &r.Postings); err != nil {
			return nil, fmt.Errorf("ledger: revenue: scan: %w", err)
		}
		if err := fn(r); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: revenue: %w", err)
	}
	return nil, nil
}

// revenueGroups returns the select list of Revenue's grouped rows after k —
// the day as a date to order by (NULL when not grouped by day), then the
// group columns of RevenueRow and the currency — its GROUP BY expressions,
// and the positions to order by (the date rather than its text: the same
// order, cheaper to sort).
func revenueGroups(by []Dimension) (cols, groups, order []string) {
	srcCols := map[Dimension]string{ByDay: `day`, ByAgency: `agency`, ByService: `service`, ByChannel: `channel`}
	cols = []string{"NULL::date"}
	if containsDim(by, ByDay) {
		cols[0] = "day"
	}
	for i, d := range dimensions {
		if !containsDim(by, d.dim) {
			cols = append(cols, "''")
			continue
		}
		groups = append(groups, srcCols[d.dim])
		if d.dim == ByDay {
			cols = append(cols, `to_char(day, 'YYYY-MM-DD')`)
			order = append(order, "2")
		} else {
			cols = append(cols, srcCols[d.dim])
			order = append(order, fmt.Sprint(3+i))
		}
	}
	return append(cols, "currency"), append(groups, "currency"), append(order, fmt.Sprint(3+len(dimensions)))
}

// RevenueScan is Revenue read from every posting of the range, without the
// rollups: the reference Revenue is tested against, and the figure before
// rollups that cmd/benchyear prints beside Revenue's.
func RevenueScan(ctx context.Context, db DBTX, q RevenueQuery, fn func(RevenueRow) error) error {
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
	query := `SELECT ` + strings.Join(cols, ", ") + `, p.currency, ` + revenueSumsSQL + `
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

// RevenuePage is one page of Revenue's groups, in Revenue's order, and the
// totals of every group of the query (not only the page's). More tells
// that groups follow the page's last row: ask again with After set to it.
type RevenuePage struct {
	Rows, Totals []RevenueRow
	More         bool
}

// ReadRevenuePage reads the page of at most limit groups after q.After
// (q.Limit is ignored) and the totals, in one snapshot (a read-only
// repeatable read transaction on pool), so that the totals are the sums of
// every page read in that snapshot. Pages and totals are Revenue's rows, so
// exactly RevenueScan's.
func ReadRevenuePage(ctx context.Context, pool interface {
	BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
}, q RevenueQuery, limit int) (RevenuePage, error) {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return RevenuePage{}, fmt.Errorf("ledger: revenue page: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// A page reads a few thousand rollup rows a query: starting parallel
	// workers costs more than it saves (tens of ms on a busy machine).
	if _, err := tx.Exec(ctx, `SET LOCAL max_parallel_workers_per_gather = 0`); err != nil {
		return RevenuePage{}, fmt.Errorf("ledger: revenue page: %w", err)
	}
	return readRevenuePage(ctx, tx, q, limit)
}

// firstPageDays is how many business days the first read of a page grouped
// by day covers (for all agencies, and for one: an agency's year is a few
// thousand rollup rows); later reads cover more, from the groups per day
// seen.
const firstPageDays, firstAgencyPageDays = 4, 366

// readRevenuePage is ReadRevenuePage in db's snapshot. Grouped by day, a
// year of groups (a day × service of the treasury is 146,000 of them) would
// be aggregated whole to keep the first ones: the page is read instead
// from windows of whole business days from the page's first day on, each
// Revenue over [From, To) cut to the window (the same groups for those
// days), widened until the page is full or the range read.
func readRevenuePage(ctx context.Context, db DBTX, q RevenueQuery, limit int) (RevenuePage, error) {
	if limit < 1 {
		return RevenuePage{}, invalid("limit", "must be at least 1")
	}
	var p RevenuePage
	add := func(r RevenueRow) error { p.Rows = append(p.Rows, r); return nil }
	if !containsDim(q.GroupBy, ByDay) {
		q.Limit = limit + 1
		if err := Revenue(ctx, db, q, add); err != nil {
			return p, err
		}
	} else {
		start := q.From
		if q.After != nil {
			day, err := time.Parse(time.DateOnly, q.After.Day)
			if err != nil {
				return p, invalid("after", "not a day: %q", q.After.Day)
			}
			if s := DayStart(day); s.After(start) {
				start = s
			}
		}
		days := firstPageDays
		if q.Agency != "" {
			days = firstAgencyPageDays
		}
		for start.Before(q.To) {
			end := DayStart(DayOf(start).AddDate(0, 0, days))
			if end.After(q.To) {
				end = q.To
			}
			w := q
			w.From, w.To, w.Limit = start, end, limit+1-len(p.Rows)
			before := len(p.Rows)
			if err := Revenue(ctx, db, w, add); err != nil {
				return p, err
			}
			if len(p.Rows) > limit {
				break
			}
			// Enough days for the rest of the page at the groups per day
			// seen so far, and at least twice as many.
			if seen := len(p.Rows) - before; seen > 0 {
				days = max(2*days, (limit+1-len(p.Rows))*days*3/(2*seen)+1)
			} else {
				days *= 4
			}
			start = end
		}
	}
	if len(p.Rows) > limit {
		p.Rows, p.More = p.Rows[:limit], true
	}
	// The first page that holds every group sums them up; any other page
	// reads the totals apart (in the same snapshot).
	if q.After == nil && !p.More {
		var t RevenueTotals
		for _, r := range p.Rows {
			t.Add(r)
		}
		p.Totals = t.Rows()
		return p, nil
	}
	all := q
	all.GroupBy, all.After, all.Limit = nil, nil, 0
	if err := Revenue(ctx, db, all, func(r RevenueRow) error { p.Totals = append(p.Totals, r); return nil }); err != nil {
		return p, err
	}
	return p, nil
}
