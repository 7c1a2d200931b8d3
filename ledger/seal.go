package ledger

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// sealBatchSize bounds the entries of one seal batch (and one transaction of
// the sealer).
const sealBatchSize = 1000

// genesis is the prev_hash of the first batch.
var genesis = make([]byte, 32)

// sealHead is the last batch of the chain (zero value: no batch yet).
type sealHead struct {
	batchNo, lastXID, lastEntryID int64
	hash                          []byte
}

// SealResult says what one Seal run added to the chain, and where the chain
// ends. Log HeadHash (or hand it to treasury): Verify proves the chain is
// consistent with the rows, and a head kept outside the database also proves
// nobody rebuilt the whole chain.
type SealResult struct {
	Batches   int
	Entries   int
	HeadBatch int64
	HeadHash  string // hex SHA-256 of the last batch; "" while nothing is sealed
}

// Seal extends the seal chain over every final entry not yet sealed, in
// batches of up to 1,000, and returns what it sealed. Entries are chained in
// (xid, id) order and only below the horizon of finished transactions, so an
// entry still being recorded can never need a place before a sealed one.
// Posting takes no lock for this. Seal takes a transaction-level advisory lock
// on the chain head: two runs at once seal each batch once. It refuses to seal
// an entry whose rows no longer match its content hash or do not balance.
func Seal(ctx context.Context, pool *pgxpool.Pool) (SealResult, error) {
	var res SealResult
	for {
		n, head, err := sealBatch(ctx, pool)
		if err != nil {
			return res, fmt.Errorf("ledger: seal: %w", err)
		}
		if head.batchNo > 0 {
			res.HeadBatch, res.HeadHash = head.batchNo, hex.EncodeToString(head.hash)
		}
		if n == 0 {
			return res, nil
		}
		res.Batches++
		res.Entries += n
		if n < sealBatchSize {
			return res, nil
		}
	}
}

// sealBatchSQL selects the next final entries after the chain head, with
// their postings; the horizon and the rows come from one statement snapshot.
var sealBatchSQL = entriesAt(`SELECT id, effective_at FROM ledger_entries
	WHERE (xid, id) > ($1, $2) AND xid < (SELECT `+horizonSQL+`)
	ORDER BY xid, id LIMIT $3`) + `
ORDER BY e.xid, e.id, p.leg`

// sealBatch seals the next batch, if any entries are final, and returns how
// many entries it sealed and the chain head after it.
func sealBatch(ctx context.Context, pool *pgxpool.Pool) (int, sealHead, error) {
	n := 0
	var head sealHead
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, sealLockKey); err != nil {
			return fmt.Errorf("lock chain head: %w", err)
		}
		var err error
		if head, err = readHead(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sealBatchSQL, head.lastXID, head.lastEntryID, sealBatchSize)
		if err != nil {
			return fmt.Errorf("read entries: %w", err)
		}
		b := newBatch(head.batchNo+1, head.hash)
		err = eachEntry(rows, func(e storedEntry) error {
			if problem := checkEntry(e); problem != "" {
				return fmt.Errorf("entry %d %s: run `civicpay ledger verify`", e.ID, problem)
			}
			b.add(e)
			return nil
		})
		if err != nil || b.count == 0 {
			return err
		}
		n = b.count
		hash := b.sum()
		_, err = tx.Exec(ctx, `INSERT INTO ledger_seals (batch_no, last_xid, last_entry_id, entry_count, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6)`, b.no, b.lastXID, b.lastID, b.count, b.prev, hash)
		if err != nil {
			return fmt.Errorf("write batch %d: %w", b.no, err)
		}
		head = sealHead{batchNo: b.no, lastXID: b.lastXID, lastEntryID: b.lastID, hash: hash}
		return nil
	})
	if err != nil {
		return 0, sealHead{}, err
	}
	return n, head, nil
}

func readHead(ctx context.Context, db DBTX) (sealHead, error) {
	h := sealHead{hash: genesis}
	err := db.QueryRow(ctx, `SELECT batch_no, last_xid, last_entry_id, hash FROM ledger_seals ORDER BY batch_no DESC LIMIT 1`).
		Scan(&h.batchNo, &h.lastXID, &h.lastEntryID, &h.hash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return h, fmt.Errorf("read chain head: %w", err)
	}
	return h, nil
}

// batch accumulates the hash of one seal batch.
type batch struct {
	no, lastXID, lastID int64
	count               int
	prev                []byte
	c                   *canon
}

func newBatch(no int64, prev []byte) *batch {
	c := newCanon("civicpay/ledger/seal-batch/v1")
	c.i64(no)
	c.bytes(prev)
	return &batch{no: no, prev: prev, c: c}
}

func (b *batch) add(e storedEntry) { b.addSealed(e.xid, e.ID, sealHash(e)) }

// addSealed adds the entry (xid, id) whose seal hash is h.
func (b *batch) addSealed(xid, id int64, h []byte) {
	b.c.bytes(h)
	b.lastXID, b.lastID = xid, id
	b.count++
}

// sum is the batch's hash: its number, the previous hash, each entry's seal
// hash in chain order, and where it ends.
func (b *batch) sum() []byte {
	b.c.i64(int64(b.count))
	b.c.i64(b.lastXID)
	b.c.i64(b.lastID)
	return b.c.sum()
}

// sealHash covers every column of an entry and, through the recomputed content
// hash, every posting.
func sealHash(e storedEntry) []byte {
	return sealHashWith(e, contentHash(asNew(e.Entry), e.Reverses))
}

// sealHashWith is sealHash with the entry's recomputed content hash.
func sealHashWith(e storedEntry, content []byte) []byte {
	c := newCanon("civicpay/ledger/entry-seal/v1")
	c.i64(e.ID)
	c.i64(e.xid)
	c.str(e.Key)
	c.str(e.RecordedBy)
	c.i64(e.RecordedAt.UnixMicro())
	c.bytes(e.storedHash)
	c.bytes(content)
	return c.sum()
}

func asNew(e Entry) NewEntry {
	return NewEntry{Key: e.Key, Kind: e.Kind, Reference: e.Reference, Description: e.Description,
		EffectiveAt: e.EffectiveAt, RecordedBy: e.RecordedBy, Postings: e.Postings}
}

// checkEntry returns what is wrong with a stored entry ("" if nothing): fewer
// than two postings, postings that do not balance, or rows that no longer
// match the content hash recorded with them.
func checkEntry(e storedEntry) string {
	return checkEntryWith(e, contentHash(asNew(e.Entry), e.Reverses))
}

// checkEntryWith is checkEntry with the entry's recomputed content hash.
func checkEntryWith(e storedEntry, content []byte) string {
	if len(e.Postings) < 2 {
		return fmt.Sprintf("has %d postings", len(e.Postings))
	}
	if cur, sum := imbalance(e.Postings); cur != "" {
		return fmt.Sprintf("does not balance: debits minus credits is %s %s", sum, cur)
	}
	if string(content) != string(e.storedHash) {
		return "no longer matches its content hash"
	}
	return ""
}
