package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// Balance is an account's balance.
type Balance struct {
	Account  string          `json:"account"`
	Kind     AccountKind     `json:"kind"`
	Currency string          `json:"currency"`
	Net      decimal.Decimal `json:"net"`     // debits minus credits
	Balance  decimal.Decimal `json:"balance"` // on the account's normal side (Kind.NormalBalance)
}

// currentBalanceSQL: the latest snapshot plus every posting recorded after its
// horizon. Snapshots make this a short index range even on a hot account.
const currentBalanceSQL = `
SELECT a.code, a.kind, a.currency,
	coalesce(s.net, 0) + coalesce((SELECT sum(p.net) FROM ledger_postings p
		WHERE p.account_code = a.code AND p.xid >= coalesce(s.up_to_xid, 0)), 0)
FROM ledger_accounts a
LEFT JOIN LATERAL (SELECT up_to_xid, net FROM ledger_balance_snapshots
	WHERE account_code = a.code ORDER BY up_to_xid DESC LIMIT 1) s ON true`

// asOfBalanceSQL reads an account's balance as of $2 from a daily
// checkpoint (rollup.go) and at most half a day of postings, however long
// the history; acct is the account's code ($1 when one account is named,
// so each read is a range of its indexes, else a.code). $3 is the business
// day of $2, $4 the checkpoints' horizon, $5 a midnight next to $2:
//
//   - before noon ($5 the day's start): the latest checkpoint before the
//     day, plus the postings effective from $5 to $2;
//   - from noon ($5 the next day's start): the latest checkpoint at or
//     before the day, minus the postings effective from $2 to $5.
//
// Both add the postings at or above the horizon effective before $5 (not
// in the checkpoints yet). The last column is the horizon the statement's
// snapshot sees, which must be $4 for the sum to be exact.
func asOfBalanceSQL(acct string, fromNoon bool) string {
	day, sign, from, to := "c.day < $3", "+", "$5", "$2"
	if fromNoon {
		day, sign, from, to = "c.day <= $3", "-", "$2", "$5"
	}
	return `
SELECT a.code, a.kind, a.currency,
	coalesce((SELECT c.net FROM ledger_balance_checkpoints c
		WHERE c.account_code = ` + acct + ` AND ` + day + ` ORDER BY c.day DESC LIMIT 1), 0)
	` + sign + ` coalesce((SELECT sum(p.net) FROM ledger_postings p
		WHERE p.account_code = ` + acct + ` AND p.effective_at >= ` + from + ` AND p.effective_at < ` + to + `), 0)
	+ coalesce((SELECT sum(p.net) FROM ledger_postings p
		WHERE p.account_code = ` + acct + ` AND p.xid >= $4 AND p.effective_at < $5), 0),
	(SELECT up_to_xid FROM ledger_rollup_horizon)
FROM ledger_accounts a`
}

// asOfScanSQL: every posting effective before $2.
const asOfScanSQL = `
SELECT a.code, a.kind, a.currency,
	coalesce((SELECT sum(p.net) FROM ledger_postings p WHERE p.account_code = a.code AND p.effective_at < $2), 0)
FROM ledger_accounts a`

// AccountBalance returns the balance of one account: current when asOf is
// zero, else of the postings effective strictly before asOf (so the balance
// as of midnight is the day's opening balance, and the movement over [from,
// to) is the balance as of to minus the balance as of from).
func AccountBalance(ctx context.Context, db DBTX, code string, asOf time.Time) (Balance, error) {
	bs, err := balances(ctx, db, "$1", "a.code = $1", code, asOf)
	if err != nil {
		return Balance{}, err
	}
	if len(bs) == 0 {
		return Balance{}, fmt.Errorf("ledger: balance of %s: %w", code, ErrAccountNotFound)
	}
	return bs[0], nil
}

// Balances returns the balance of every account matching pattern (see
// Summarize for totals). A pattern is a prefix of account codes in which "*"
// matches within one segment: "agency:HCM-TP:" is all of one agency,
// "gateway:*:clearing" every gateway clearing account.
func Balances(ctx context.Context, db DBTX, pattern string, asOf time.Time) ([]Balance, error) {
	re, err := matchRegexp(pattern)
	if err != nil {
		return nil, invalid("match", "%v", err)
	}
	return balances(ctx, db, "a.code", "a.code ~ $1", re, asOf)
}

// balances reads the accounts where selects ($1 is arg); acct is how the
// as-of query names an account's code (asOfBalanceSQL).
func balances(ctx context.Context, db DBTX, acct, where, arg string, asOf time.Time) ([]Balance, error) {
	if asOf.IsZero() {
		return queryBalances(ctx, db, currentBalanceSQL+" WHERE "+where+" ORDER BY a.code", nil, arg)
	}
	var horizon int64
	if err := db.QueryRow(ctx, `SELECT up_to_xid FROM ledger_rollup_horizon`).Scan(&horizon); err != nil {
		return nil, fmt.Errorf("ledger: balances: horizon: %w", err)
	}
	day := DayOf(asOf)
	// The nearer midnight: from noon on, the checkpoint of the day's end
	// minus what follows asOf is half a day of postings at most.
	start, end := DayStart(day), DayStart(day.AddDate(0, 0, 1))
	fromNoon := end.Sub(asOf) <= asOf.Sub(start)
	edge := start
	if fromNoon {
		edge = end
	}
	query := asOfBalanceSQL(acct, fromNoon) + " WHERE " + where + " ORDER BY a.code"
	// The rollup job may move the horizon between the two reads: then read
	// again above the one the query saw.
	for range 10 {
		var seen []int64
		bs, err := queryBalances(ctx, db, query, &seen, arg, asOf, day, horizon, edge)
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(seen, func(h int64) bool { return h != horizon }); i >= 0 {
			horizon = seen[i]
			continue
		}
		return bs, nil
	}
	return nil, errors.New("ledger: balances: the rollup horizon kept moving")
}

// AccountBalanceScan is AccountBalance as of asOf (not zero) summed from every
// posting of the account before it, without the checkpoints: the reference
// the as-of balances are tested against, and the figure before checkpoints
// that cmd/benchyear prints beside AccountBalance's.
func AccountBalanceScan(ctx context.Context, db DBTX, code string, asOf time.Time) (Balance, error) {
	bs, err := queryBalances(ctx, db, asOfScanSQL+" WHERE a.code = $1", nil, code, asOf)
	if err != nil {
		return Balance{}, err
	}
	if len(bs) == 0 {
		return Balance{}, fmt.Errorf("ledger: balance of %s: %w", code, ErrAccountNotFound)
	}
	return bs[0], nil
}

// queryBalances runs a balance query; with horizons, the rows carry the
// horizon their snapshot saw as a fifth column, appended to it.
func queryBalances(ctx context.Context, db DBTX, query string, horizons *[]int64, args ...any) ([]Balance, error) {
	if horizons != nil { // planned for these arguments every time: the tail above the horizon is short
		args = append([]any{pgx.QueryExecModeExec}, args...)
	}
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: balances: %w", err)
	}
	defer rows.Close()
	var out []Balance
	for rows.Next() {
		var b Balance
		dest := []any{&b.Account, &b.Kind, &b.Currency, &b.Net}
		var h int64
		if horizons != nil {
			dest = append(dest, &h)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("ledger: scan balance: %w", err)
		}
		if horizons != nil {
			*horizons = append(*horizons, h)
		}
		b.Balance = b.Kind.NormalBalance(b.Net)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: balances: %w", err)
	}
	return out, nil
}

// CurrencyTotal is a sum in one currency.
type CurrencyTotal struct {
	Currency string          `json:"currency"`
	Net      decimal.Decimal `json:"net"` // debits minus credits
}

// Summarize sums balances per currency, in currency order. Over all accounts
// the totals are the trial balance: zero in every currency.
func Summarize(bs []Balance) []CurrencyTotal {
	sums := map[string]decimal.Decimal{}
	for _, b := range bs {
		sums[b.Currency] = sums[b.Currency].Add(b.Net)
	}
	out := make([]CurrencyTotal, 0, len(sums))
	for _, c := range sortedKeys(sums) {
		out = append(out, CurrencyTotal{Currency: c, Net: sums[c]})
	}
	return out
}
