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

// entryCols are the columns of an entry (e) with one of its postings (p),
// for eachEntry.
const entryCols = `
SELECT e.id, e.idempotency_key, e.kind, e.reference, e.description, e.recorded_by,
	coalesce(e.reverses, 0), e.effective_at, e.recorded_at, e.xid, e.content_hash,
	coalesce(p.leg, 0), coalesce(p.account_code, ''), coalesce(p.currency, ''), coalesce(p.direction, 'debit'),
	coalesce(p.amount, 0), coalesce(p.service_code, ''), coalesce(p.channel, '')`

// entrySelect reads entries with their postings, one row per posting (a row
// with leg 0 for an entry that has none, which only tampering can cause).
// Callers order by the entry's position and then p.leg, so an entry's rows are
// adjacent. A posting joins its entry by id alone, whatever its effective
// time: Verify reads every entry so, in id order (a merge join).
const entrySelect = entryCols + `
FROM ledger_entries e LEFT JOIN ledger_postings p ON p.entry_id = e.id`

// entriesAt reads, as entrySelect, the entries that from (a query of id and
// effective_at) names, each in its month's partition: the effective time
// prunes the entries' and the postings' partitions to one per entry, where
// an id alone is looked up in every month's (at a year of months, 80 pages
// per entry against 11).
func entriesAt(from string) string {
	return entryCols + `
FROM (` + from + `) s JOIN ledger_entries e ON e.id = s.id AND e.effective_at = s.effective_at
LEFT JOIN ledger_postings p ON p.entry_id = e.id AND p.effective_at = e.effective_at`
}

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

// entriesByIDSQL reads the entries with ids $1, each in its month's
// partition (its effective time from ledger_entry_keys).
var entriesByIDSQL = entriesAt(`SELECT entry_id AS id, effective_at FROM ledger_entry_keys WHERE entry_id = ANY($1)`) +
	` ORDER BY e.id, p.leg`

// getEntries returns the entries with the given ids, in id order.
func getEntries(ctx context.Context, db DBTX, ids []int64) ([]Entry, error) {
	rows, err := db.Query(ctx, entriesByIDSQL, ids)
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
