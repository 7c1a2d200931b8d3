package ledger

import (
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestSealChainsBatches(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	postMany(t, pool, "a", 1500)
	res := sealAll(t, pool)
	if res.Batches < 2 || res.Entries != 1500 {
		t.Fatalf("sealed %+v, want 1500 entries in batches of at most 1000", res)
	}
	again, err := Seal(bg, pool)
	if err != nil || again.Entries != 0 || again.HeadBatch != int64(res.Batches) || again.HeadHash == "" {
		t.Fatalf("another run: %+v, %v; want nothing sealed and the same head", again, err)
	}
	var stored string
	if err := pool.QueryRow(bg, `SELECT encode(hash, 'hex') FROM ledger_seals ORDER BY batch_no DESC LIMIT 1`).Scan(&stored); err != nil || stored != again.HeadHash {
		t.Fatalf("head hash %s, stored %s (%v)", again.HeadHash, stored, err)
	}
	mustPost(t, pool, pair("b", "gateway:vnpay:clearing", "agency:A:collected", 1))
	if last := sealAll(t, pool); last.Batches != 1 || last.Entries != 1 {
		t.Fatalf("sealing the new entry: %+v", last)
	}
	r := mustVerify(t, pool)
	if r.SealedBatches != int64(res.Batches+1) || r.SealedEntries != 1501 || r.UnsealedEntries != 0 || r.Entries != 1501 || r.Postings != 3002 {
		t.Fatalf("report %+v", r)
	}
}

func TestSealConcurrentRunsSealEachEntryOnce(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	postMany(t, pool, "c", 2500)
	var wg sync.WaitGroup
	results := make([]SealResult, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if results[i], err = Seal(bg, pool); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	total := sealAll(t, pool).Entries
	for _, r := range results {
		total += r.Entries
	}
	if total != 2500 {
		t.Fatalf("runs sealed %d entries in all (%+v), want each of 2500 once", total, results)
	}
	if r := mustVerify(t, pool); r.SealedEntries != 2500 {
		t.Fatalf("verify saw %d sealed entries", r.SealedEntries)
	}
}

// An entry recorded by a transaction that is still open must not be passed
// over: entries committed meanwhile wait, and the chain takes both in xid
// order once it commits, even though its entry has the higher id.
func TestSealWaitsForStragglers(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	mustPost(t, pool, pair("before", "gateway:vnpay:clearing", "agency:A:collected", 1))
	slow, err := pool.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(bg)                                                 //nolint:errcheck
	if _, err := slow.Exec(bg, `SELECT pg_current_xact_id()`); err != nil { // takes its xid now
		t.Fatal(err)
	}
	fast := mustPost(t, pool, pair("fast", "gateway:vnpay:clearing", "agency:A:collected", 2))
	straggler := mustPost(t, slow, pair("straggler", "gateway:vnpay:clearing", "agency:A:collected", 3))
	if straggler.ID < fast.ID {
		t.Fatalf("setup: straggler id %d should be above %d", straggler.ID, fast.ID)
	}
	sealed := func() int64 {
		return count(t, pool, `SELECT count(*) FROM ledger_entries`) - count(t, pool, unsealedSQL)
	}
	sealUntil(t, pool, func() bool { return sealed() >= 1 })
	for range 3 {
		if _, err := Seal(bg, pool); err != nil {
			t.Fatal(err)
		}
	}
	if n := sealed(); n != 1 {
		t.Fatalf("%d entries sealed while an earlier transaction is open; want only the one before it", n)
	}
	if err := slow.Commit(bg); err != nil {
		t.Fatal(err)
	}
	sealAll(t, pool)
	rows, _ := pool.Query(bg, `SELECT id FROM ledger_entries ORDER BY xid, id`)
	order, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || fmt.Sprint(order[1:]) != fmt.Sprint([]int64{straggler.ID, fast.ID}) {
		t.Fatalf("chain order %v, %v; want the straggler before the fast entry", order, err)
	}
	mustVerify(t, pool)
}

func TestSealRefusesTamperedEntries(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	e := mustPost(t, pool, pair("k", "gateway:vnpay:clearing", "agency:A:collected", 100))
	asSuperuser(t, pool, fmt.Sprintf(`UPDATE ledger_postings SET amount = 200 WHERE entry_id = %d`, e.ID))
	if _, err := Seal(bg, pool); err == nil {
		t.Fatal("sealed an entry whose rows no longer match its content hash")
	}
	if n := count(t, pool, `SELECT count(*) FROM ledger_seals`); n != 0 {
		t.Fatalf("%d batches written", n)
	}
}

// postMany posts n entries with keys prefix-0 …, fifty per transaction.
func postMany(t testing.TB, pool *pgxpool.Pool, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; i += 50 {
		err := pgx.BeginFunc(bg, pool, func(tx pgx.Tx) error {
			for j := i; j < min(i+50, n); j++ {
				mustPost(t, tx, pair(fmt.Sprintf("%s-%d", prefix, j), "gateway:vnpay:clearing", fmt.Sprintf("agency:A%d:collected", j%7), int64(1000+j)))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
