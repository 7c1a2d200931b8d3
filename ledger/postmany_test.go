package ledger

import (
	"testing"

	"github.com/google/uuid"
)

// PostMany records what Post records, entry for entry, in the order given.
func TestPostManyMatchesPost(t *testing.T) {
	t.Parallel()
	one, many := newPool(t), newPool(t)
	entries := []NewEntry{
		pair("m1", "gateway:vnpay:clearing", "agency:A:collected", 1000),
		pair("m2", "gateway:momo:clearing", "agency:B:collected", 2500),
		pair("m3", "gateway:vnpay:clearing", "agency:B:collected", 70000),
	}
	entries[2].Postings[1].ServiceCode, entries[2].Postings[1].Channel = "FEE-1", "card"
	got, err := PostMany(bg, many, entries)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(entries) {
		t.Fatalf("%d entries back, want %d", len(got), len(entries))
	}
	for i, e := range entries {
		want := mustPost(t, one, e)
		read, err := GetEntry(bg, many, got[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if got[i].Key != e.Key || read.Key != e.Key || len(read.Postings) != len(want.Postings) ||
			read.Postings[1].ServiceCode != e.Postings[1].ServiceCode || !read.EffectiveAt.Equal(want.EffectiveAt) {
			t.Fatalf("entry %d: posted together %+v, alone %+v", i, read, want)
		}
		if i > 0 && got[i].ID <= got[i-1].ID {
			t.Fatalf("entry ids %d then %d: not in the order given", got[i-1].ID, got[i].ID)
		}
	}
	var hashOne, hashMany []byte
	if err := one.QueryRow(bg, `SELECT string_agg(content_hash, '' ORDER BY id) FROM ledger_entries`).Scan(&hashOne); err != nil {
		t.Fatal(err)
	}
	if err := many.QueryRow(bg, `SELECT string_agg(content_hash, '' ORDER BY id) FROM ledger_entries`).Scan(&hashMany); err != nil {
		t.Fatal(err)
	}
	if string(hashOne) != string(hashMany) {
		t.Fatal("content hashes differ between Post and PostMany")
	}
	if r := mustVerify(t, many); !r.OK() {
		t.Fatalf("verify after PostMany: %v", r.Findings)
	}
}

// A key recorded before is replayed (same content) or refused (other
// content); the other entries of the call are recorded once.
func TestPostManyReplaysAndRefuses(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	first := mustPost(t, pool, pair("r1", "gateway:vnpay:clearing", "agency:A:collected", 1000))
	got, err := PostMany(bg, pool, []NewEntry{
		pair("r0", "gateway:vnpay:clearing", "agency:A:collected", 500),
		pair("r1", "gateway:vnpay:clearing", "agency:A:collected", 1000),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got[1].ID != first.ID || got[0].ID == 0 || got[0].ID == first.ID {
		t.Fatalf("ids %d, %d; the replayed entry is %d", got[0].ID, got[1].ID, first.ID)
	}
	if n := count(t, pool, `SELECT count(*) FROM ledger_entries`); n != 2 {
		t.Fatalf("%d entries, want 2", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM ledger_postings`); n != 4 {
		t.Fatalf("%d postings, want 4 (no postings for a replay)", n)
	}
	if _, err := PostMany(bg, pool, []NewEntry{pair("r2", "gateway:vnpay:clearing", "agency:A:collected", 1),
		pair("r1", "gateway:vnpay:clearing", "agency:A:collected", 999)}); !isErr(err, ErrIdempotencyConflict) {
		t.Fatalf("a known key with other content: %v, want ErrIdempotencyConflict", err)
	}
	if _, err := PostMany(bg, pool, []NewEntry{pair("d", "gateway:vnpay:clearing", "agency:A:collected", 1),
		pair("d", "gateway:vnpay:clearing", "agency:A:collected", 1)}); err == nil {
		t.Fatal("two entries with one key in a call were accepted")
	}
	ps, err := PostPayments(bg, pool, []Payment{payment("p1", "A", "FEE", 3000), payment("p2", "B", "FEE", 4000)})
	if err != nil || len(ps) != 2 || ps[0].Kind != KindPayment {
		t.Fatalf("PostPayments: %+v, %v", ps, err)
	}
	if _, err := PostPayments(bg, pool, []Payment{{Key: "bad", OrderID: uuid.Nil}}); err == nil {
		t.Fatal("a payment without ids was accepted")
	}
	if r := mustVerify(t, pool); !r.OK() {
		t.Fatalf("verify: %v", r.Findings)
	}
}
