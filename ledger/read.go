package ledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// storedEntry is an entry as the database holds it, with the columns that only
// verification and sealing look at.
type storedEntry struct {
	Entry
	xid        int64
	storedHash []byte
}

// entrySelect reads entries with their postings, one row per posting (a row
// with leg 0 for an entry that has none, which only tampering can cause).
// Callers order by the entry's position and then p.leg, so an entry's rows are
// adjacent.
const entrySelect = `
SELECT e.id, e.idempotency_key, e.kind, e.reference, e.description, e.recorded_by,
	coalesce(e.reverses, 0), e.effective_at, e.recorded_at, e.xid, e.content_hash,
	coalesce(p.leg, 0), coalesce(p.account_code, ''), coalesce(p.currency, ''), coalesce(p.direction, 'debit'),
	coalesce(p.amount, 0), coalesce(p.service_code, ''), coalesce(p.channel, '')
FROM ledger_entries e LEFT JOIN ledger_postings p ON p.entry_id = e.id`

// eachEntry calls fn with every entry of rows (from entrySelect), in order.
func eachEntry(rows pgx.Rows, fn func(storedEntry) error) error {
	defer rows.Close()
	var cur storedEntry
	have := false
	for rows.Next() {
		var e storedEntry
		var p Posting
		var leg int16
		err := rows.Scan(&e.ID, &e.Key, &e.Kind, &e.Reference, &e.Description, &e.RecordedBy,
			&e.Reverses, &e.EffectiveAt, &e.RecordedAt, &e.xid, &e.storedHash,
			&leg, &p.Account, &p.Currency, &p.Direction, &p.Amount, &p.ServiceCode, &p.Channel)
		if err != nil {
			return fmt.Errorf("scan entry: %w", err)
		}
		if !have || e.ID != cur.ID {
			if have {
				if err := fn(cur); err != nil {
					return err
				}
			}
			e.EffectiveAt, e.RecordedAt = e.EffectiveAt.UTC(), e.RecordedAt.UTC()
			cur, have = e, true
		}
		if leg > 0 {
			cur.Postings = append(cur.Postings, p)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read entries: %w", err)
	}
	if have {
		return fn(cur)
	}
	return nil
}

// GetEntry returns the entry with its postings, or ErrEntryNotFound.
func GetEntry(ctx context.Context, db DBTX, id int64) (Entry, error) {
	entries, err := getEntries(ctx, db, []int64{id})
	if err != nil {
		return Entry{}, err
	}
	if len(entries) == 0 {
		return Entry{}, fmt.Errorf("ledger: entry %d: %w", id, ErrEntryNotFound)
	}
	return entries[0], nil
}

// getEntries returns the entries with the given ids, in id order.
func getEntries(ctx context.Context, db DBTX, ids []int64) ([]Entry, error) {
	rows, err := db.Query(ctx, entrySelect+` WHERE e.id = ANY($1) ORDER BY e.id, p.leg`, ids)
	if err != nil {
		return nil, fmt.Errorf("ledger: read entries: %w", err)
	}
	entries := make([]Entry, 0, len(ids))
	err = eachEntry(rows, func(e storedEntry) error {
		entries = append(entries, e.Entry)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return entries, nil
}
