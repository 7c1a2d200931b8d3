package ledger

import (
	"context"
	"fmt"
	"time"

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

// asOfBalanceSQL: every posting effective before $2.
const asOfBalanceSQL = `
SELECT a.code, a.kind, a.currency,
	coalesce((SELECT sum(p.net) FROM ledger_postings p WHERE p.account_code = a.code AND p.effective_at < $2), 0)
FROM ledger_accounts a`

// AccountBalance returns the balance of one account: current when asOf is
// zero, else of the postings effective strictly before asOf (so the balance
// as of midnight is the day's opening balance, and the movement over [from,
// to) is the balance as of to minus the balance as of from).
func AccountBalance(ctx context.Context, db DBTX, code string, asOf time.Time) (Balance, error) {
	bs, err := balances(ctx, db, "a.code = $1", code, asOf)
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
	return balances(ctx, db, "a.code ~ $1", re, asOf)
}

func balances(ctx context.Context, db DBTX, where, arg string, asOf time.Time) ([]Balance, error) {
	query, args := currentBalanceSQL, []any{arg}
	if !asOf.IsZero() {
		query, args = asOfBalanceSQL, []any{arg, asOf}
	}
	rows, err := db.Query(ctx, query+" WHERE "+where+" ORDER BY a.code", args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: balances: %w", err)
	}
	defer rows.Close()
	var out []Balance
	for rows.Next() {
		var b Balance
		if err := rows.Scan(&b.Account, &b.Kind, &b.Currency, &b.Net); err != nil {
			return nil, fmt.Errorf("ledger: scan balance: %w", err)
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
