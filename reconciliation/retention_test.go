package reconciliation_test

import (
	"errors"
	"testing"
	"time"

	"github.com/civicpay/civicpay/reconciliation"
)

// TestPruneStaging: a closed day with no open exception loses its staging
// rows (settlement lines, bank entries, matched items; the exceptions' items
// stay) and is recorded as pruned, after which it is not reconciled again; a
// closed day with an open exception and a day not closed keep theirs. A
// second pass prunes nothing.
func TestPruneStaging(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	days := []time.Time{
		time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC), // closed, clean: pruned
		time.Date(2025, 1, 7, 0, 0, 0, 0, time.UTC), // closed, an open exception: kept
		time.Date(2025, 1, 8, 0, 0, 0, 0, time.UTC), // not closed: kept
	}
	for i, d := range days {
		f.exec(`INSERT INTO recon_files (id, sha256, kind, size, chunks, source, received_by, status, loaded_at,
			gateway, settlement_file_id, business_date, revision)
			VALUES ($1, sha256($2::bytea), 'settlement.vnpay', 10, 1, 'upload', 'test', 'loaded', now(), 'vnpay', $2, $3, 1)`,
			100+i, []byte("file-"+d.Format(time.DateOnly)), d)
		f.exec(`INSERT INTO recon_settlement_lines (file_id, line, gateway_txn_id, reference, type, gross, fee, net, currency, at)
			SELECT $1::bigint, g, 'T' || g, 'R' || g, 'payment', 1000, 10, 990, 'VND', $2 FROM generate_series(1, 3) g`, 100+i, d)
		f.exec(`INSERT INTO recon_bank_entries (file_id, stmt_seq, entry_seq, entry_key, account, amount, currency, credit,
			reversal, status, booking_date) VALUES ($1::bigint, 1, 1, 'k' || $1::text, 'ACC', 990, 'VND', true, false, 'BOOK', $2)`, 200+i, d)
		var run int64
		if err := f.pool.QueryRow(f.ctx, `INSERT INTO recon_runs (source, business_date, trigger, requested_by, status)
			VALUES ('vnpay', $1, 'test', 'test', 'completed') RETURNING id`, d).Scan(&run); err != nil {
			t.Fatal(err)
		}
		f.exec(`INSERT INTO recon_items (run_id, seq, class) VALUES ($1, 1, 'matched'), ($1, 2, 'matched'), ($1, 3, 'missing_here')`, run)
		if i == 1 {
			f.exec(`INSERT INTO recon_exceptions (key, source, business_date, class, first_run_id, last_run_id)
				VALUES ('open-one', 'vnpay', $1, 'missing_here', $2, $2)`, d, run)
		}
		if i < 2 {
			f.exec(`INSERT INTO ledger_closed_days (day, closed_by) VALUES ($1, 'test')`, d)
		}
	}

	var seen []int
	n, err := reconciliation.PruneStaging(f.ctx, f.pool, days[2].AddDate(0, 0, 10), func(done int) { seen = append(seen, done) })
	// 3 settlement lines + 1 bank entry + 2 matched items of the first day.
	if err != nil || n != 6 || len(seen) != 1 {
		t.Fatalf("pruned %d rows (progress %v), %v; want 6 in one day", n, seen, err)
	}
	for i, d := range days {
		lines := f.count(`SELECT count(*) FROM recon_settlement_lines l JOIN recon_files f ON f.id = l.file_id WHERE f.business_date = $1`, d)
		entries := f.count(`SELECT count(*) FROM recon_bank_entries WHERE booking_date = $1`, d)
		items := f.count(`SELECT count(*) FROM recon_items i JOIN recon_runs r ON r.id = i.run_id WHERE r.business_date = $1`, d)
		want := [3]int64{3, 1, 3}
		if i == 0 {
			want = [3]int64{0, 0, 1} // the exception's item stays
		}
		if got := [3]int64{lines, entries, items}; got != want {
			t.Errorf("%s: lines, entries, items = %v, want %v", d.Format(time.DateOnly), got, want)
		}
	}
	if n, err := reconciliation.PruneStaging(f.ctx, f.pool, days[2].AddDate(0, 0, 10), nil); err != nil || n != 0 {
		t.Errorf("second pass pruned %d, %v", n, err)
	}
	if _, err := f.svc.ReconcileDay(f.ctx, days[0], "vnpay", "test"); !errors.Is(err, reconciliation.ErrPruned) {
		t.Errorf("reconciling a pruned day: %v, want ErrPruned", err)
	}
	if _, err := f.svc.ReconcileDay(f.ctx, days[2], "vnpay", "test"); err != nil {
		t.Errorf("reconciling a day that was not pruned: %v", err)
	}
}

// TestPruneRawFiles: a file received before the cut loses its bytes and
// keeps its record, marked with when; reading its bytes is ErrPruned
// through the API (410, see the app's test); a recent file keeps them.
func TestPruneRawFiles(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	old := f.load(camt053(t, day0, credit(40_000, at(10, 5), "NOP PHI 1")))
	recent := f.load(camt053(t, day0.AddDate(0, 0, 1), credit(50_000, at(11, 5), "NOP PHI 2")))
	f.exec(`UPDATE recon_files SET received_at = now() - interval '11 years' WHERE id = $1`, old.ID)

	n, err := reconciliation.PruneRawFiles(f.ctx, f.pool, time.Now().AddDate(-10, 0, 0), 100, nil)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d files, %v; want 1", n, err)
	}
	if c := f.count(`SELECT count(*) FROM recon_file_chunks WHERE file_id = $1`, old.ID); c != 0 {
		t.Errorf("%d chunks of the old file left", c)
	}
	if c := f.count(`SELECT count(*) FROM recon_file_chunks WHERE file_id = $1`, recent.ID); c == 0 {
		t.Error("the recent file lost its bytes")
	}
	got, err := f.svc.File(f.ctx, old.ID)
	if err != nil || got.PrunedAt == nil || got.SHA256 != old.SHA256 || got.Size != old.Size {
		t.Errorf("old file's record after pruning: %+v, %v", got, err)
	}
	if n, err := reconciliation.PruneRawFiles(f.ctx, f.pool, time.Now().AddDate(-10, 0, 0), 100, nil); err != nil || n != 0 {
		t.Errorf("second pass pruned %d, %v", n, err)
	}
}
