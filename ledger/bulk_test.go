package ledger

import (
	"bytes"
	"testing"
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
