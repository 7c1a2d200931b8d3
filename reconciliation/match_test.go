package reconciliation_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// Our records missing from the file are numbered after the lines in order of
// time, attempts and refunds together; a success near midnight that the
// next day's file carries is not missing.
func TestMissingThereIsNumberedByTimeAndSparesWhatANeighbouringFileCarries(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	const gw = statement.GatewayMoMo
	kept := f.paid(gw, 100_000, at(8, 0))
	early := f.paid(gw, 40_000, at(9, 0))                              // absent
	late := f.paid(gw, 30_000, at(10, 0))                              // absent
	midnight := f.paid(gw, 20_000, day0.Add(24*time.Hour-time.Minute)) // settled the next day
	f.exec(`INSERT INTO payment_refunds (id, order_id, attempt_id, kind, currency, amount, status, reason, requested_by,
		gateway_refund_id, created_at, updated_at, completed_at)
		SELECT gen_random_uuid(), order_id, id, 'refund', 'VND', 10000, 'succeeded', 'test', 'test', '4099000009', $2, $2, $2
		FROM payment_attempts WHERE id = $1`, kept.ID, at(9, 30)) // absent, between the two attempts

	var next bytes.Buffer
	w, err := statement.NewSettlementWriter(gw, &next, statement.SettlementFile{BusinessDate: day0.AddDate(0, 0, 1), Revision: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(line(midnight)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.load(next.Bytes())
	data, _ := settlementFile(t, gw, 1, line(kept))
	f.load(data)
	run := f.rerun(gw)
	if got, want := classes(run), map[matcher.Class]int64{matcher.Matched: 1, matcher.MissingThere: 3}; !equalCounts(got, want) {
		t.Fatalf("classes %v, want %v", got, want)
	}
	rows, err := f.pool.Query(f.ctx, `SELECT seq, here_kind, amount_here FROM recon_items
		WHERE run_id = $1 AND class = 'missing_there' ORDER BY seq`, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := []struct {
		kind   string
		amount int64
	}{{"attempt", early.Amount}, {"refund", -10_000}, {"attempt", late.Amount}}
	i := 0
	for rows.Next() {
		var seq int64
		var kind string
		var amount decimal.Decimal
		if err := rows.Scan(&seq, &kind, &amount); err != nil {
			t.Fatal(err)
		}
		if i >= len(want) || seq != matcher.RecordSeqBase+int64(i)+1 || kind != want[i].kind || !amount.Equal(decimal.NewFromInt(want[i].amount)) {
			t.Fatalf("missing there item %d: seq %d %s %s", i, seq, kind, amount)
		}
		i++
	}
	if rows.Err() != nil || i != len(want) {
		t.Fatalf("%d missing there items, %v", i, rows.Err())
	}
}

// A file staged before lines were marked as repeat candidates (the column
// is NULL) still has its repeated lines found, under the same keys.
func TestRepeatedLinesOfAFileStagedBeforeCandidatesAreFound(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	const gw = statement.GatewayVNPAY
	a, b := f.paid(gw, 50_000, at(9, 0)), f.paid(gw, 60_000, at(9, 5))
	data, _ := settlementFile(t, gw, 1, line(a), line(b), line(a), line(a))
	f.load(data)
	first := f.lastRun(gw, day0)
	f.exec(`UPDATE recon_settlement_lines SET repeat_candidate = NULL`)
	again := f.rerun(gw)
	for _, run := range []struct {
		name string
		dup  int64
	}{{"first", classes(first)[matcher.Duplicate]}, {"legacy", classes(again)[matcher.Duplicate]}} {
		if run.dup != 2 {
			t.Fatalf("%s run: %d duplicates, want 2", run.name, run.dup)
		}
	}
	for _, key := range []string{a.Txn + ":2", a.Txn + ":3"} {
		if _, ok := byClass(f.exceptions(again.ID), matcher.Duplicate, key); !ok {
			t.Fatalf("no duplicate %s in %+v", key, f.exceptions(again.ID))
		}
	}
	if n := f.count(`SELECT count(*) FROM recon_exceptions`); n != 2 {
		t.Fatalf("%d exceptions after the rerun, want the same 2", n)
	}
}
