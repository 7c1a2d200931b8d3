package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListAccounts returns up to limit accounts matching pattern (see Balances;
// "" for all) with codes after the given one, in code order.
func ListAccounts(ctx context.Context, db DBTX, pattern, after string, limit int) ([]Account, error) {
	re := ""
	if pattern != "" {
		var err error
		if re, err = matchRegexp(pattern); err != nil {
			return nil, invalid("match", "%v", err)
		}
	}
	rows, err := db.Query(ctx, `SELECT code, kind, currency, created_at FROM ledger_accounts
		WHERE code ~ $1 AND code > $2 ORDER BY code LIMIT $3`, re, after, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: list accounts: %w", err)
	}
	accounts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Account, error) {
		var a Account
		err := r.Scan(&a.Code, &a.Kind, &a.Currency, &a.CreatedAt)
		a.CreatedAt = a.CreatedAt.UTC()
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: list accounts: %w", err)
	}
	return accounts, nil
}

// EntryCursor is a position in the (effective time, id) order of entries.
type EntryCursor struct {
	EffectiveAt time.Time
	ID          int64
}

// EntryFilter selects entries by effective time in [From, To) (zero: open),
// optionally only those posting to Account, after the cursor After.
type EntryFilter struct {
	Account  string
	From, To time.Time
	After    EntryCursor
	Limit    int
}

// ListEntries returns up to f.Limit entries with their postings in (effective
// time, id) order; the last one's EntryCursor continues the listing.
func ListEntries(ctx context.Context, db DBTX, f EntryFilter) ([]Entry, error) {
	var from, to, after *time.Time // NULL: open
	for _, t := range []struct {
		src time.Time
		dst **time.Time
	}{{f.From, &from}, {f.To, &to}, {f.After.EffectiveAt, &after}} {
		if !t.src.IsZero() {
			*t.dst = &t.src
		}
	}
	args := []any{from, to, after, f.After.ID, f.Limit}
	source := `SELECT effective_at, id FROM ledger_entries`
	if f.Account != "" {
		// DISTINCT: an entry posting twice to the account (two services of one
		// agency in one payment) is listed once.
		source = `SELECT DISTINCT effective_at, entry_id FROM ledger_postings WHERE account_code = $6`
		args = append(args, f.Account)
	}
	rows, err := db.Query(ctx, `SELECT id FROM (`+source+`) AS s (effective_at, id)
		WHERE effective_at >= coalesce($1::timestamptz, '-infinity') AND effective_at < coalesce($2::timestamptz, 'infinity')
			AND (effective_at, id) > (coalesce($3::timestamptz, '-infinity'), $4::bigint)
		ORDER BY effective_at, id LIMIT $5`, args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: list entries: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("ledger: list entries: %w", err)
	}
	entries, err := getEntries(ctx, db, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]Entry, len(entries))
	for _, e := range entries {
		byID[e.ID] = e
	}
	out := make([]Entry, 0, len(ids))
	for _, id := range ids {
		out = append(out, byID[id])
	}
	return out, nil
}
