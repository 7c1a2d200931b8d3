package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DBTX is what the ledger runs its SQL on: a pgx.Tx (post in the same
// transaction as the business state change), a *pgxpool.Pool or a *pgx.Conn.
// Post and the posting rules write with one statement, so on a pool they are
// atomic on their own. The pool must come from db.Open (NUMERIC as decimal).
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Post records e, creating its accounts on first use. It is idempotent by
// e.Key: the same key with the same content returns the original entry; the
// same key with different content is ErrIdempotencyConflict. Posting the same
// key concurrently records one entry (the later caller waits for the first
// transaction and then replays).
//
// Balance is checked here and again by the database when the transaction
// commits, so a caller's transaction that inserts postings by other means
// cannot commit an unbalanced entry either.
func Post(ctx context.Context, db DBTX, e NewEntry) (Entry, error) {
	entry, _, err := post(ctx, db, e, 0)
	return entry, err
}

// post records e (reverses is the mirrored entry for a reversal, else 0) and
// reports whether this call created it (false: a replay).
func post(ctx context.Context, db DBTX, e NewEntry, reverses int64) (Entry, bool, error) {
	out, created, err := postEntries(ctx, db, []NewEntry{e}, []int64{reverses})
	if err != nil {
		return Entry{}, false, err
	}
	return out[0], created[0], nil
}

// replay returns the entry already recorded under key if it has the same
// content: hash, or asked (the entry as the caller dated it) moved later into
// an open day, as intoOpenDays does to every kind but manual adjustments.
func replay(ctx context.Context, db DBTX, key string, hash []byte, asked NewEntry, reverses int64) (Entry, error) {
	var id int64
	var stored []byte
	var effective time.Time
	err := db.QueryRow(ctx, `SELECT e.id, e.content_hash, e.effective_at FROM ledger_entry_keys k
		JOIN ledger_entries e ON e.id = k.entry_id AND e.effective_at = k.effective_at WHERE k.idempotency_key = $1`, key).
		Scan(&id, &stored, &effective)
	if errors.Is(err, pgx.ErrNoRows) {
		// Only possible under REPEATABLE READ or SERIALIZABLE, where the
		// conflicting entry committed after this transaction's snapshot.
		return Entry{}, fmt.Errorf("ledger: post %q: the entry under this key is not visible to this transaction; retry in a new one", key)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("ledger: post %q: read existing entry: %w", key, err)
	}
	same := bytes.Equal(stored, hash)
	if !same && asked.Kind != KindAdjustment && !effective.Before(asked.EffectiveAt) {
		moved := asked
		moved.EffectiveAt = effective.UTC()
		same = bytes.Equal(stored, contentHash(moved, reverses))
	}
	if !same {
		return Entry{}, fmt.Errorf("ledger: post %q: %w (entry %d)", key, ErrIdempotencyConflict, id)
	}
	return GetEntry(ctx, db, id)
}

// postError turns the database's refusals into this package's errors.
func postError(key string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.ConstraintName {
		case "ledger_postings_account_currency":
			return fmt.Errorf("ledger: post %q: %w: %s", key, ErrCurrencyMismatch, pgErr.Detail)
		case "ledger_entries_reverses_key":
			return fmt.Errorf("ledger: post %q: %w", key, ErrAlreadyReversed)
		case "ledger_entry_open_day":
			return fmt.Errorf("ledger: post %q: %w: %s", key, ErrDayClosed, pgErr.Message)
		case "ledger_entry_balanced":
			return fmt.Errorf("ledger: post %q: %w: %s", key, ErrUnbalanced, pgErr.Message)
		}
	}
	return fmt.Errorf("ledger: post %q: %w", key, err)
}

// Reversal asks for the mirror of an entry: every posting with its direction
// flipped. An entry is reversed at most once (ErrAlreadyReversed), and a
// reversal is not reversed (ErrNotReversible).
type Reversal struct {
	Key     string
	EntryID int64
	Reason  string
	// EffectiveAt defaults to the original's effective time, so the reversal
	// cancels the original in every report and a replay has the same content;
	// when that day is closed, the reversal takes effect now, in the open day.
	EffectiveAt time.Time
	RecordedBy  string
	// Now is the time of recording (NewEntry.Now).
	Now time.Time
}

// Reverse posts the mirror entry of r.EntryID, idempotently by r.Key.
func Reverse(ctx context.Context, db DBTX, r Reversal) (Entry, error) {
	entry, _, err := reverse(ctx, db, r)
	return entry, err
}

func reverse(ctx context.Context, db DBTX, r Reversal) (Entry, bool, error) {
	if r.Reason == "" {
		return Entry{}, false, invalid("reason", "a reversal needs a reason")
	}
	orig, err := GetEntry(ctx, db, r.EntryID)
	if err != nil {
		return Entry{}, false, err
	}
	if orig.Kind == KindReversal {
		return Entry{}, false, fmt.Errorf("ledger: reverse entry %d: %w", orig.ID, ErrNotReversible)
	}
	mirror := make([]Posting, len(orig.Postings))
	for i, p := range orig.Postings {
		p.Direction = p.Direction.Opposite()
		mirror[i] = p
	}
	effective := r.EffectiveAt
	if effective.IsZero() {
		effective = orig.EffectiveAt
	}
	return post(ctx, db, NewEntry{Key: r.Key, Kind: KindReversal, Reference: orig.Reference, Description: r.Reason,
		EffectiveAt: effective, RecordedBy: r.RecordedBy, Postings: mirror, Now: r.Now}, orig.ID)
}
