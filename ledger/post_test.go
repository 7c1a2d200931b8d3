package ledger

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"
)

func TestPostRecordsEntryAndAccounts(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	e := pair("k1", "gateway:vnpay:clearing", "agency:HCM-TP:collected", 150000)
	e.Postings[1].ServiceCode, e.Postings[1].Channel = "BIRTH-CERT", "card"
	got := mustPost(t, pool, e)
	if got.ID == 0 || got.RecordedAt.IsZero() || got.RecordedBy != "system" {
		t.Fatalf("posted entry %+v lacks id, recorded time or recorder", got)
	}
	read, err := GetEntry(bg, pool, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(read.Postings) != 2 || read.Postings[1].ServiceCode != "BIRTH-CERT" || !read.Postings[0].Amount.Equal(vnd(150000)) ||
		!read.EffectiveAt.Equal(t0) || read.RecordedAt != got.RecordedAt {
		t.Fatalf("read back %+v, posted %+v", read, got)
	}
	accounts, err := ListAccounts(bg, pool, "", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 2 || accounts[0].Code != "agency:HCM-TP:collected" || accounts[0].Kind != LiabilityAccount ||
		accounts[1].Kind != AssetAccount || accounts[1].Currency != "VND" {
		t.Fatalf("accounts %+v", accounts)
	}
	if _, err := GetEntry(bg, pool, got.ID+100); !isErr(err, ErrEntryNotFound) {
		t.Fatalf("missing entry: %v", err)
	}
}

func TestPostIsIdempotent(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	e := pair("same", "gateway:vnpay:clearing", "agency:A:collected", 1000)
	first := mustPost(t, pool, e)
	again := mustPost(t, pool, e)
	if again.ID != first.ID || again.RecordedAt != first.RecordedAt {
		t.Fatalf("replay returned entry %d, original %d", again.ID, first.ID)
	}
	other := pair("same", "gateway:vnpay:clearing", "agency:A:collected", 2000)
	if _, err := Post(bg, pool, other); !isErr(err, ErrIdempotencyConflict) {
		t.Fatalf("same key, other content: %v, want ErrIdempotencyConflict", err)
	}
	if n := count(t, pool, `SELECT count(*) FROM ledger_entries`); n != 1 {
		t.Fatalf("%d entries after replays", n)
	}
}

func TestConcurrentSameKeyRecordsOneEntry(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	for _, sameContent := range []bool{true, false} {
		key := "race-" + map[bool]string{true: "same", false: "differ"}[sameContent]
		var wg sync.WaitGroup
		ids := make([]int64, 20)
		errs := make([]error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				amount := int64(1000)
				if !sameContent {
					amount += int64(i)
				}
				// Each in its own transaction, as a payment would post.
				errs[i] = pgx.BeginFunc(bg, pool, func(tx pgx.Tx) error {
					e, err := Post(bg, tx, pair(key, "gateway:vnpay:clearing", "agency:A:collected", amount))
					ids[i] = e.ID
					return err
				})
			}()
		}
		wg.Wait()
		winners := map[int64]bool{}
		for i, err := range errs {
			switch {
			case err == nil:
				winners[ids[i]] = true
			case sameContent || !errors.Is(err, ErrIdempotencyConflict):
				t.Fatalf("goroutine %d: %v", i, err)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("%s: callers saw entries %v, want exactly one", key, winners)
		}
		if n := count(t, pool, `SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1`, key); n != 1 {
			t.Fatalf("%s: %d entries recorded", key, n)
		}
	}
	mustVerify(t, pool)
}

func TestPostInCallersTransaction(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	tx, err := pool.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(bg) //nolint:errcheck // a no-op once rolled back
	mustPost(t, tx, pair("in-tx", "gateway:vnpay:clearing", "agency:A:collected", 1000))
	if err := tx.Rollback(bg); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, `SELECT count(*) FROM ledger_entries`); n != 0 {
		t.Fatalf("rolled back entry visible (%d)", n)
	}
	// The key is free again.
	mustPost(t, pool, pair("in-tx", "gateway:vnpay:clearing", "agency:A:collected", 1000))
}

func TestPostCurrencyMismatchWithExistingAccount(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	mustPost(t, pool, pair("vnd", "gateway:vnpay:clearing", "agency:A:collected", 1000))
	usd := pair("usd", "gateway:vnpay:clearing", "agency:B:collected", 10)
	for i := range usd.Postings {
		usd.Postings[i].Currency = "USD"
	}
	if _, err := Post(bg, pool, usd); !isErr(err, ErrCurrencyMismatch) {
		t.Fatalf("USD posting to a VND account: %v", err)
	}
}

// The database itself refuses unbalanced entries: postSQL is run directly,
// without Post's check, and the commit fails.
func TestDatabaseRefusesUnbalancedEntries(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	tests := []struct {
		name       string
		amounts    []decimal.Decimal
		currencies []string
		constraint string
	}{
		{"debit exceeds credit", []decimal.Decimal{vnd(1000), vnd(999)}, []string{"VND", "VND"}, "ledger_entry_balanced"},
		{"balanced only across currencies", []decimal.Decimal{vnd(1000), vnd(1000)}, []string{"VND", "USD"}, "ledger_entry_balanced"},
		{"single posting", []decimal.Decimal{vnd(1000)}, []string{"VND"}, "ledger_entry_postings"},
		{"no postings", nil, nil, "ledger_entry_postings"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accounts := []string{"gateway:vnpay:clearing", "agency:" + string(rune('A'+i)) + ":collected"}[:len(tt.amounts)]
			dirs := []string{"debit", "credit"}[:len(tt.amounts)]
			empty := make([]string, len(tt.amounts))
			tx, err := pool.Begin(bg)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(bg) //nolint:errcheck
			var key string
			var id int64
			var at any
			keys, legs := make([]string, len(tt.amounts)), make([]int16, len(tt.amounts))
			for l := range keys {
				keys[l], legs[l] = "bypass-"+tt.name, int16(l+1)
			}
			err = tx.QueryRow(bg, postManySQL, accounts, []string{"asset", "liability"}[:len(tt.amounts)], tt.currencies,
				[]string{"bypass-" + tt.name}, []string{string(KindAdjustment)}, []string{""}, []string{""}, []string{"test"},
				[]int64{0}, []time.Time{t0}, [][]byte{make([]byte, 32)},
				keys, legs, accounts, tt.currencies, dirs, tt.amounts, empty, empty).Scan(&key, &id, &at)
			if err != nil {
				t.Fatalf("insert: %v", err)
			}
			err = tx.Commit(bg)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.ConstraintName != tt.constraint {
				t.Fatalf("commit: %v, want a violation of %s", err, tt.constraint)
			}
		})
	}
	if n := count(t, pool, `SELECT count(*) FROM ledger_entries`); n != 0 {
		t.Fatalf("%d unbalanced entries committed", n)
	}
}

func TestDatabaseRefusesChanges(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	e := mustPost(t, pool, pair("k", "gateway:vnpay:clearing", "agency:A:collected", 1000))
	sealAll(t, pool)
	for _, stmt := range []string{
		`UPDATE ledger_postings SET amount = 1`,
		`DELETE FROM ledger_postings`,
		`TRUNCATE ledger_postings`,
		`UPDATE ledger_entries SET description = 'changed'`,
		`DELETE FROM ledger_entries`,
		`TRUNCATE ledger_entries CASCADE`,
		`UPDATE ledger_accounts SET currency = 'USD'`,
		`DELETE FROM ledger_accounts`,
		`UPDATE ledger_seals SET hash = prev_hash`,
		`DELETE FROM ledger_seals`,
		// A balanced pair appended to a committed entry.
		`INSERT INTO ledger_postings (entry_id, leg, account_code, currency, direction, amount)
		 VALUES (` + itoa(e.ID) + `, 3, 'gateway:vnpay:clearing', 'VND', 'debit', 5),
		        (` + itoa(e.ID) + `, 4, 'agency:A:collected', 'VND', 'credit', 5)`,
		// An entry that pretends to be recorded by another transaction.
		`INSERT INTO ledger_entries (idempotency_key, kind, reference, description, recorded_by, effective_at, content_hash, xid)
		 VALUES ('x', 'adjustment', '', '', 'x', now(), sha256('x'), 1)`,
	} {
		_, err := pool.Exec(bg, stmt)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || !strings.HasPrefix(pgErr.Message, "ledger:") {
			t.Errorf("%s: %v, want the ledger's refusal", strings.Fields(stmt)[0]+" "+strings.Fields(stmt)[1], err)
		}
	}
	mustVerify(t, pool)
}

func TestReverse(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	p, err := PostPayment(bg, pool, payment("pay-1", "A", "SVC-1", 50000))
	if err != nil {
		t.Fatal(err)
	}
	r := Reversal{Key: "rev-1", EntryID: p.ID, Reason: "posted twice by mistake", RecordedBy: "treasury:abc"}
	rev, err := Reverse(bg, pool, r)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Kind != KindReversal || rev.Reverses != p.ID || !rev.EffectiveAt.Equal(p.EffectiveAt) || rev.Reference != p.Reference {
		t.Fatalf("reversal %+v of %+v", rev, p)
	}
	for i, posting := range rev.Postings {
		orig := p.Postings[i]
		if posting.Account != orig.Account || posting.Direction == orig.Direction || !posting.Amount.Equal(orig.Amount) ||
			posting.ServiceCode != orig.ServiceCode {
			t.Errorf("posting %d: %+v does not mirror %+v", i, posting, orig)
		}
	}
	if again, err := Reverse(bg, pool, r); err != nil || again.ID != rev.ID {
		t.Fatalf("replayed reversal: %v, %v", again.ID, err)
	}
	r.Key = "rev-2"
	if _, err := Reverse(bg, pool, r); !isErr(err, ErrAlreadyReversed) {
		t.Fatalf("second reversal: %v, want ErrAlreadyReversed", err)
	}
	if _, err := Reverse(bg, pool, Reversal{Key: "rev-3", EntryID: rev.ID, Reason: "undo"}); !isErr(err, ErrNotReversible) {
		t.Fatalf("reversing a reversal: %v", err)
	}
	if _, err := Reverse(bg, pool, Reversal{Key: "rev-4", EntryID: p.ID}); !isErr(err, ErrInvalidEntry) {
		t.Fatalf("reversal without reason: %v", err)
	}
	bs, err := Balances(bg, pool, "*", t0.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if !b.Net.IsZero() {
			t.Errorf("%s is %s after payment and reversal", b.Account, b.Net)
		}
	}
}

func itoa(n int64) string { return decimal.NewFromInt(n).String() }
