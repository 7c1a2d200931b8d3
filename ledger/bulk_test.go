package ledger

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ContentHash is what Post stores, so that a bulk loader's entries pass
// Verify; a changed posting changes it.
func TestContentHashIsWhatPostStores(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	e, err := paymentEntry(payment("payment:bulk", "HCM-TP", "BIRTH-CERT", 150000))
	if err != nil {
		t.Fatal(err)
	}
	got := mustPost(t, pool, e)
	var stored []byte
	if err := pool.QueryRow(bg, `SELECT content_hash FROM ledger_entries WHERE id = $1`, got.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	e.RecordedBy = "system" // as Post stores it
	if h := ContentHash(e, 0); !bytes.Equal(h, stored) {
		t.Fatalf("ContentHash %x, Post stored %x", h, stored)
	}
	other := e
	other.Postings = append([]Posting(nil), e.Postings...)
	other.Postings[1].Amount = vnd(150001)
	if bytes.Equal(ContentHash(other, 0), stored) {
		t.Fatal("another amount hashes alike")
	}
}

// BulkSealer writes the chain Seal writes: the same batches, boundaries and
// hashes, across more than one batch and more than one transaction's xid.
func TestBulkSealerSealsAsSeal(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	n := 0
	for _, size := range []int{600, sealBatchSize - 600 + 1} {
		es := make([]NewEntry, size)
		for i := range es {
			n++
			e, err := paymentEntry(payment(fmt.Sprintf("payment:%d", n), "HCM-TP", "BIRTH-CERT", int64(1000+n)))
			if err != nil {
				t.Fatal(err)
			}
			es[i] = e
		}
		if _, err := PostMany(bg, pool, es); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := pool.Query(bg, entrySelect+` ORDER BY e.xid, e.id, p.leg`)
	if err != nil {
		t.Fatal(err)
	}
	s := NewBulkSealer()
	var bulk []SealBatch
	err = eachEntry(rows, func(e storedEntry) error {
		if b, ok := s.Add(e.Entry, e.xid, e.storedHash); ok {
			bulk = append(bulk, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := s.Close(); ok {
		bulk = append(bulk, b)
	}
	if _, err := Seal(bg, pool); err != nil {
		t.Fatal(err)
	}
	rows, err = pool.Query(bg, `SELECT batch_no, last_xid, last_entry_id, entry_count, prev_hash, hash FROM ledger_seals ORDER BY batch_no`)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SealBatch, error) {
		var b SealBatch
		return b, r.Scan(&b.No, &b.LastXID, &b.LastEntryID, &b.Count, &b.PrevHash, &b.Hash)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != 2 || len(bulk) != len(sealed) {
		t.Fatalf("Seal wrote %d batches, BulkSealer made %d; want 2 each", len(sealed), len(bulk))
	}
	for i := range sealed {
		if !reflect.DeepEqual(bulk[i], sealed[i]) {
			t.Errorf("batch %d: BulkSealer %+v, Seal %+v", i+1, bulk[i], sealed[i])
		}
	}
}
