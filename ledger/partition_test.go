package ledger

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestPartitionedLedgerKeepsItsInvariants: the ledger's tables are
// partitioned by month of effective time (migration 00034). Entries effective
// in different months have all their postings in their month's partition
// (midnight in Vietnam is the boundary; a month without a partition falls
// to DEFAULT); a reversal lands in its own month; snapshots, the seal and
// Verify work across partitions; as-of balances read across them.
func TestPartitionedLedgerKeepsItsInvariants(t *testing.T) {
	t.Parallel()
	pool := monthsPool(t, 2)
	cases := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2023, 1, 15, 10, 0, 0, 0, time.UTC), "ledger_postings_p202301"},
		{time.Date(2023, 2, 28, 16, 59, 59, 0, time.UTC), "ledger_postings_p202302"},
		{time.Date(2023, 2, 28, 17, 0, 0, 0, time.UTC), "ledger_postings_p202303"}, // 1 March in Vietnam
		{time.Date(2031, 1, 1, 10, 0, 0, 0, time.UTC), "ledger_postings_default"},
	}
	var entries []Entry
	var pays []Payment
	for i, c := range cases {
		p := payment("pay-"+c.want+"-"+string(rune('a'+i)), "A", "A-FEE", 100000*int64(i+1))
		p.EffectiveAt = c.at
		pays = append(pays, p)
		e := postPayment(t, pool, p)
		entries = append(entries, e)
		var parts []string
		rows, err := pool.Query(bg, `SELECT DISTINCT tableoid::regclass::text FROM ledger_postings WHERE entry_id = $1`, e.ID)
		if err == nil {
			parts, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != 1 || parts[0] != c.want {
			t.Errorf("entry effective %v: postings in %v, want all in %s", c.at, parts, c.want)
		}
		want := strings.Replace(c.want, "ledger_postings", "ledger_entries", 1)
		if n := count(t, pool, `SELECT count(*) FROM ledger_entries WHERE id = $1 AND tableoid = $2::regclass`, e.ID, want); n != 1 {
			t.Errorf("entry effective %v is not in %s", c.at, want)
		}
	}
	rev, err := Reverse(bg, pool, Reversal{Key: "rev-jan", EntryID: entries[0].ID, Reason: "test",
		EffectiveAt: time.Date(2023, 3, 20, 0, 0, 0, 0, time.UTC), Now: time.Date(2023, 3, 20, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, `SELECT count(*) FROM ledger_postings_p202303 WHERE entry_id = $1`, rev.ID); n != 2 {
		t.Fatalf("the reversal has %d postings in March's partition, want 2", n)
	}
	// Replaying January's key returns the original entry; the key with
	// other content in another month is refused; January's entry is not
	// reversed a second time from another month.
	if es, err := PostPayments(bg, pool, pays[:1]); err != nil || es[0].ID != entries[0].ID {
		t.Fatalf("replay: %v, %v; want entry %d", es, err, entries[0].ID)
	}
	moved := pays[0]
	moved.EffectiveAt = cases[2].at
	if _, err := PostPayments(bg, pool, []Payment{moved}); !errors.Is(err, ErrIdempotencyConflict) {
		t.Fatalf("January's key in March: %v, want ErrIdempotencyConflict", err)
	}
	if _, err := Reverse(bg, pool, Reversal{Key: "rev-jan-again", EntryID: entries[0].ID, Reason: "test",
		EffectiveAt: cases[1].at, Now: cases[1].at}); !errors.Is(err, ErrAlreadyReversed) {
		t.Fatalf("a second reversal, in February: %v, want ErrAlreadyReversed", err)
	}

	if _, err := SnapshotBalances(bg, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := Seal(bg, pool); err != nil {
		t.Fatal(err)
	}
	r := mustVerify(t, pool)
	if r.Entries != 5 || r.Postings != 10 || r.UnsealedEntries != 0 {
		t.Fatalf("verify: %+v, want 5 entries, 10 postings, all sealed", r)
	}
	for _, c := range []struct {
		asOf time.Time
		want int64
	}{
		{time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(2023, 2, 1, 0, 0, 0, 0, time.UTC), 100000},
		{time.Date(2023, 3, 10, 0, 0, 0, 0, time.UTC), 600000},
		{time.Date(2023, 4, 1, 0, 0, 0, 0, time.UTC), 500000},
		{time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC), 900000},
	} {
		b, err := AccountBalance(bg, pool, "agency:A:collected", c.asOf)
		if err != nil || !b.Balance.Equal(vnd(c.want)) {
			t.Errorf("balance as of %v: %v, %v; want %d", c.asOf, b.Balance, err, c.want)
		}
	}
	if b, err := AccountBalance(bg, pool, "agency:A:collected", time.Time{}); err != nil || !b.Balance.Equal(vnd(900000)) {
		t.Errorf("current balance %v, %v; want 900000", b.Balance, err)
	}
}

// The partitions refuse what the ledger refuses, each on its own (UPDATE,
// DELETE, TRUNCATE named directly), and (entry, leg) stays unique: a
// posting must carry its entry's effective time, so all of an entry's
// postings share a partition, where the key refuses a second leg 1.
func TestLedgerPartitionsRefuseChangesAndDuplicates(t *testing.T) {
	t.Parallel()
	pool := monthsPool(t, 0)
	e := mustPost(t, pool, NewEntry{Key: "x", Kind: KindAdjustment, EffectiveAt: time.Date(2023, 1, 15, 10, 0, 0, 0, time.UTC), Postings: []Posting{
		{Account: "suspense", Currency: "VND", Direction: Debit, Amount: vnd(5)},
		{Account: "agency:A:collected", Currency: "VND", Direction: Credit, Amount: vnd(5)}}})
	for _, stmt := range []string{
		`UPDATE ledger_entries_p202301 SET description = 'x'`,
		`DELETE FROM ledger_entries_p202301`,
		`TRUNCATE ledger_entries_p202301`,
		`UPDATE ledger_entry_keys SET effective_at = effective_at + interval '1 month'`,
		`DELETE FROM ledger_entry_keys`,
		`TRUNCATE ledger_entry_keys CASCADE`,
		`UPDATE ledger_postings_p202301 SET amount = 6`,
		`DELETE FROM ledger_postings_p202301`,
		`TRUNCATE ledger_postings_p202301`,
		`TRUNCATE ledger_postings_default`,
	} {
		_, err := pool.Exec(bg, stmt)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || !strings.HasPrefix(pgErr.Message, "ledger:") {
			t.Errorf("%s: %v, want the ledger's refusal", stmt, err)
		}
	}

	// In the transaction that records an entry (the only one that may add
	// its postings): a second leg 1, in its month or in another.
	for _, c := range []struct {
		effective  string
		code, name string
	}{
		{"2023-01-15 10:00:00+00", "23505", ""},
		{"2023-02-15 10:00:00+00", "23514", "ledger_posting_effective_at"},
	} {
		err := pgx.BeginFunc(bg, pool, func(tx pgx.Tx) error {
			e2 := mustPost(t, tx, NewEntry{Key: "dup-" + c.effective, Kind: KindAdjustment, EffectiveAt: e.EffectiveAt,
				Postings: []Posting{
					{Account: "suspense", Currency: "VND", Direction: Debit, Amount: vnd(5)},
					{Account: "agency:A:collected", Currency: "VND", Direction: Credit, Amount: vnd(5)}}})
			_, err := tx.Exec(bg, `INSERT INTO ledger_postings (entry_id, leg, account_code, currency, direction, amount, effective_at)
				VALUES ($1, 1, 'suspense', 'VND', 'debit', 5, $2)`, e2.ID, c.effective)
			return err
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != c.code || (c.name != "" && pgErr.ConstraintName != c.name) {
			t.Errorf("a second leg 1 effective %s: %v, want %s %s", c.effective, err, c.code, c.name)
		}
	}

	// An entry that copies an existing entry's id or key into another month,
	// with balanced postings, by SQL: refused at commit (it has no key row
	// of its own), whatever partition it would land in.
	for _, c := range []struct{ name, id, key string }{
		{"same id", "$1", "'copy-1'"},
		{"same key", "nextval(pg_get_serial_sequence('ledger_entries', 'id')) + 0 * $1", "'x'"},
	} {
		err := pgx.BeginFunc(bg, pool, func(tx pgx.Tx) error {
			var id int64
			if err := tx.QueryRow(bg, `INSERT INTO ledger_entries (id, idempotency_key, kind, reference, description, recorded_by,
				effective_at, content_hash) OVERRIDING SYSTEM VALUE
				VALUES (`+c.id+`, `+c.key+`, 'adjustment', '', '', 'psql', '2023-02-10 10:00+00', sha256('x')) RETURNING id`,
				e.ID).Scan(&id); err != nil {
				return err
			}
			_, err := tx.Exec(bg, `INSERT INTO ledger_postings (entry_id, leg, account_code, currency, direction, amount, effective_at)
				VALUES ($1, 1, 'suspense', 'VND', 'debit', 5, '2023-02-10 10:00+00'), ($1, 2, 'agency:A:collected', 'VND', 'credit', 5, '2023-02-10 10:00+00')`, id)
			return err
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || !strings.HasPrefix(pgErr.Message, "ledger:") {
			t.Errorf("an entry with the %s as entry %d, in February: %v, want the ledger's refusal", c.name, e.ID, err)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM ledger_entries`); n != 1 {
		t.Fatalf("%d entries, want 1", n)
	}
	mustVerify(t, pool)
}

// Posting one key from many transactions at once, each dating the entry in
// another month: one entry is recorded, under one key row; every other
// caller is told the key was used for another entry.
func TestOneKeyAcrossMonthsAtOnceRecordsOneEntry(t *testing.T) {
	t.Parallel()
	pool := monthsPool(t, 5)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Post(bg, pool, NewEntry{Key: "one-key", Kind: KindAdjustment,
				EffectiveAt: time.Date(2023, time.Month(1+i), 10, 0, 0, 0, 0, time.UTC), Postings: []Posting{
					{Account: "suspense", Currency: "VND", Direction: Debit, Amount: vnd(5)},
					{Account: "agency:A:collected", Currency: "VND", Direction: Credit, Amount: vnd(5)}}})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrIdempotencyConflict):
			t.Errorf("post: %v, want success or ErrIdempotencyConflict", err)
		}
	}
	if ok != 1 || count(t, pool, `SELECT count(*) FROM ledger_entries`) != 1 || count(t, pool, `SELECT count(*) FROM ledger_entry_keys`) != 1 {
		t.Fatalf("%d posts succeeded, %d entries, %d key rows; want 1 of each", ok,
			count(t, pool, `SELECT count(*) FROM ledger_entries`), count(t, pool, `SELECT count(*) FROM ledger_entry_keys`))
	}
	mustVerify(t, pool)
}
