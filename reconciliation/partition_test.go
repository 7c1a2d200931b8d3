package reconciliation_test

import (
	"sync"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/partition"
	"github.com/civicpay/civicpay/reconciliation"
)

// stageDay writes, for business day d, a settlement file with three lines
// staged at linesAt, one bank entry booked that day per time in entriesAt,
// a completed run with two matched items and one exception item, and
// closes the day when closed.
func (f *fx) stageDay(file int64, d, linesAt time.Time, entriesAt []time.Time, closed bool) {
	f.t.Helper()
	f.exec(`INSERT INTO recon_files (id, sha256, kind, size, chunks, source, received_by, status, loaded_at,
		gateway, settlement_file_id, business_date, revision)
		VALUES ($1, sha256($2::bytea), 'settlement.vnpay', 10, 1, 'upload', 'test', 'loaded', $4, 'vnpay', $2, $3, 1)`,
		file, []byte("file-"+d.Format(time.DateOnly)), d, linesAt)
	f.exec(`INSERT INTO recon_settlement_lines (file_id, line, gateway_txn_id, reference, type, gross, fee, net, currency, at, staged_at)
		SELECT $1::bigint, g, 'T' || g, 'R' || g, 'payment', 1000, 10, 990, 'VND', $2, $3 FROM generate_series(1, 3) g`, file, d, linesAt)
	for i, at := range entriesAt {
		f.exec(`INSERT INTO recon_bank_entries (file_id, stmt_seq, entry_seq, entry_key, account, amount, currency, credit,
			reversal, status, booking_date, staged_at) VALUES ($1::bigint, 1, 1, 'k' || $1::text, 'ACC', 990, 'VND', true, false, 'BOOK', $2, $3)`,
			1000*file+int64(i), d, at)
	}
	var run int64
	if err := f.pool.QueryRow(f.ctx, `INSERT INTO recon_runs (source, business_date, trigger, requested_by, status)
		VALUES ('vnpay', $1, 'test', 'test', 'completed') RETURNING id`, d).Scan(&run); err != nil {
		f.t.Fatal(err)
	}
	f.exec(`INSERT INTO recon_items (run_id, seq, class) VALUES ($1, 1, 'matched'), ($1, 2, 'matched'), ($1, 3, 'missing_here')`, run)
	if closed {
		f.exec(`INSERT INTO ledger_closed_days (day, closed_by) VALUES ($1, 'test')`, d)
	}
}

func (f *fx) exists(relation string) bool {
	return f.count(`SELECT count(*) FROM pg_class WHERE relname = $1`, relation) == 1
}

// TestPruneStagingDropsWholeMonths: the staging tables are partitioned by the
// month they were staged in (migration 00033). January's partitions of both
// tables hold only rows of days that may be pruned: they are dropped whole,
// and those days' rows staged in February go row by row with them.
// February's hold a row of a day with an open exception: they stay, and
// their other day is pruned row by row. Two pruners at once prune each row
// once; a second pass prunes nothing.
func TestPruneStagingDropsWholeMonths(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	if _, err := partition.Ensure(f.ctx, f.pool, time.Date(2021, 1, 1, 0, 0, 0, 0, bizday.Zone), 2); err != nil {
		t.Fatal(err)
	}
	at := func(m time.Month, d int) time.Time { return time.Date(2021, m, d, 9, 0, 0, 0, bizday.Zone) }
	date := func(m time.Month, d int) time.Time { return time.Date(2021, m, d, 0, 0, 0, 0, time.UTC) }
	d1, d2, d3, d4 := date(1, 10), date(1, 31), date(2, 5), date(2, 10)
	f.stageDay(1, d1, at(1, 11), []time.Time{at(1, 11)}, true)
	// d2's file was staged on 1 February; one of its bank entries in January, one (a later statement) in February.
	f.stageDay(2, d2, at(2, 1), []time.Time{at(1, 31), at(2, 1)}, true)
	f.stageDay(3, d3, at(2, 6), []time.Time{at(2, 6)}, true)
	f.stageDay(4, d4, at(2, 11), nil, true)
	if _, err := f.pool.Exec(f.ctx, `INSERT INTO recon_exceptions (key, source, business_date, class, first_run_id, last_run_id)
		SELECT 'open-d3', 'vnpay', $1, 'missing_here', id, id FROM recon_runs WHERE business_date = $1`, d3); err != nil {
		t.Fatal(err)
	}
	for part, want := range map[string]int64{
		"recon_settlement_lines_p202101": 3, "recon_settlement_lines_p202102": 9,
		"recon_bank_entries_p202101": 2, "recon_bank_entries_p202102": 2,
	} {
		if n := f.count(`SELECT count(*) FROM ` + part); n != want {
			t.Fatalf("%s holds %d rows, want %d", part, n, want)
		}
	}

	before := date(3, 15)
	var wg sync.WaitGroup
	counts, errs := make([]int, 2), make([]error, 2)
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = reconciliation.PruneStaging(f.ctx, f.pool, before, nil)
		}()
	}
	wg.Wait()
	// d1: 3 lines, 1 entry, 2 matched; d2: 3 lines, 2 entries, 2 matched; d4: 3 lines, 2 matched.
	if errs[0] != nil || errs[1] != nil || counts[0]+counts[1] != 18 {
		t.Fatalf("two pruners at once pruned %v (%v, %v), want 18 rows in all", counts, errs[0], errs[1])
	}
	for part, gone := range map[string]bool{
		"recon_settlement_lines_p202101": true, "recon_bank_entries_p202101": true,
		"recon_settlement_lines_p202102": false, "recon_bank_entries_p202102": false,
	} {
		if f.exists(part) == gone {
			t.Errorf("%s: exists %v, want %v", part, !gone, !gone)
		}
	}
	for _, c := range []struct {
		day                  time.Time
		lines, entries, rows int64
	}{{d1, 0, 0, 6}, {d2, 0, 0, 7}, {d3, 3, 1, -1}, {d4, 0, 0, 5}} {
		lines := f.count(`SELECT count(*) FROM recon_settlement_lines l JOIN recon_files f ON f.id = l.file_id WHERE f.business_date = $1`, c.day)
		entries := f.count(`SELECT count(*) FROM recon_bank_entries WHERE booking_date = $1`, c.day)
		rows := f.count(`SELECT coalesce((SELECT rows FROM recon_pruned_days WHERE day = $1), -1)`, c.day)
		if lines != c.lines || entries != c.entries || rows != c.rows {
			t.Errorf("%s: %d lines, %d entries, recorded %d rows pruned; want %d, %d, %d",
				c.day.Format(time.DateOnly), lines, entries, rows, c.lines, c.entries, c.rows)
		}
	}
	if n, err := reconciliation.PruneStaging(f.ctx, f.pool, before, nil); err != nil || n != 0 {
		t.Fatalf("second pass pruned %d, %v", n, err)
	}
}

// A file's bank entries are unique by (file, statement, entry) across
// partitions: all the rows of a file have one staged_at (the trigger refuses
// another), so a duplicate lands in the same partition and its key refuses
// it; another file may be staged at any time.
func TestBankEntriesStayUniqueAcrossPartitions(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	if _, err := partition.Ensure(f.ctx, f.pool, time.Date(2021, 1, 1, 0, 0, 0, 0, bizday.Zone), 2); err != nil {
		t.Fatal(err)
	}
	insert := func(file, seq int64, staged string) error {
		_, err := f.pool.Exec(f.ctx, `INSERT INTO recon_bank_entries (file_id, stmt_seq, entry_seq, entry_key, account, amount,
			currency, credit, reversal, status, booking_date, staged_at)
			VALUES ($1, 1, $2, 'k', 'ACC', 1, 'VND', true, false, 'BOOK', '2021-01-01', $3)`, file, seq, staged)
		return err
	}
	if err := insert(7, 1, "2021-01-20 10:00+07"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file, seq int64
		staged    string
		ok        bool
	}{
		{7, 1, "2021-01-20 10:00+07", false}, // the same row again: the key refuses
		{7, 1, "2021-01-25 10:00+07", false}, // same month, another time: the trigger refuses
		{7, 1, "2021-02-20 10:00+07", false}, // another month: the trigger refuses
		{7, 2, "2021-02-20 10:00+07", false}, // even a new entry of the file, staged apart
		{7, 2, "2021-01-20 10:00+07", true},  // a new entry, with the file's staged_at
		{8, 1, "2021-03-02 10:00+07", true},
	} {
		err := insert(c.file, c.seq, c.staged)
		if (err == nil) != c.ok {
			t.Errorf("file %d entry %d staged %s: %v, want accepted %v", c.file, c.seq, c.staged, err, c.ok)
		}
	}
	if n := f.count(`SELECT count(*) FROM recon_bank_entries WHERE tableoid = 'recon_bank_entries_p202101'::regclass`); n != 2 {
		t.Errorf("%d entries in January's partition, want 2", n)
	}
}
