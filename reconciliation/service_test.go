package reconciliation_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/rawfile"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// at is a time of day0.
func at(h, m int) time.Time {
	return day0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

func TestGatewayRunPutsEveryLineInItsClass(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	const gw = statement.GatewayVNPAY
	matched := f.paid(gw, 200_000, at(9, 0))
	feeDiff := f.paid(gw, 150_000, at(9, 10))
	dropped := f.pending(gw, 120_000, at(9, 20)) // its callback never came, nobody asked
	absent := f.paid(gw, 90_000, at(9, 30))      // the gateway's file lacks it
	repeated := f.paid(gw, 80_000, at(9, 40))
	garbled := f.paid(gw, 70_000, at(9, 50)) // the file's reference for it is mangled
	grossDiff := f.paid(gw, 60_000, at(10, 0))

	droppedLine := line(dropped)
	f.gw.set(dropped.Ref, gateways.Result{GatewayRef: dropped.Ref, GatewayTxnID: dropped.Txn, Amount: decimal.NewFromInt(dropped.Amount), Currency: "VND",
		Status: gateways.StatusSucceeded, Code: "00", PaidAt: at(9, 21)})
	fd := line(feeDiff)
	fd.Fee, fd.Net = fd.Fee.Add(decimal.NewFromInt(1000)), fd.Net.Sub(decimal.NewFromInt(1000))
	gl := line(garbled)
	gl.Reference = "ATTXXXXXXXXXX"
	gd := line(grossDiff)
	gd.Gross = gd.Gross.Add(decimal.NewFromInt(5000))
	gd.Net = gd.Gross.Sub(gd.Fee)
	stranger := statement.SettlementLine{GatewayTxnID: "99999999", Reference: "NOBODY0001", Type: statement.TypePayment,
		Gross: decimal.NewFromInt(33_000), Fee: decimal.NewFromInt(fee(gw, 33_000)),
		Net: decimal.NewFromInt(33_000 - fee(gw, 33_000)), Currency: "VND", At: at(11, 0)}
	data, _ := settlementFile(t, gw, 1, line(matched), fd, droppedLine, line(repeated), line(repeated), gl, gd, stranger)

	file := f.load(data)
	if file.Status != reconciliation.FileLoaded || file.LinesDone != 8 || file.Settlement == nil || file.Settlement.Count != 8 {
		t.Fatalf("file = %+v", file)
	}
	run := f.lastRun(gw, day0)
	want := map[matcher.Class]int64{matcher.Matched: 3, matcher.AmountMismatch: 2, matcher.MissingHere: 1,
		matcher.Duplicate: 1, matcher.Unknown: 1, matcher.MissingThere: 1}
	if got := classes(run); !equalCounts(got, want) {
		t.Fatalf("classes = %v, want %v", got, want)
	}
	if run.Status != reconciliation.RunCompleted || run.AutoResolved != 1 || run.LinesTotal != 9 || run.DurationMS == nil {
		t.Fatalf("run = %+v", run)
	}
	list := f.exceptions(run.ID)
	for _, c := range []struct {
		class  matcher.Class
		key    string
		detail string
		status string
	}{
		{matcher.AmountMismatch, feeDiff.Txn, "fee", reconciliation.ExceptionOpen},
		{matcher.AmountMismatch, grossDiff.Txn, "gross", reconciliation.ExceptionOpen},
		{matcher.MissingHere, dropped.Txn, "pending", reconciliation.ExceptionAutoResolved},
		{matcher.MissingThere, absent.ID.String(), "absent", reconciliation.ExceptionOpen},
		{matcher.Duplicate, repeated.Txn + ":2", "repeated", reconciliation.ExceptionOpen},
		{matcher.Unknown, "99999999", "no attempt", reconciliation.ExceptionOpen},
	} {
		x, ok := byClass(list, c.class, c.key)
		if !ok {
			t.Errorf("no %s exception for %s in %+v", c.class, c.key, list)
			continue
		}
		if !strings.Contains(x.Detail, c.detail) || x.Exception.Status != c.status {
			t.Errorf("%s %s: detail %q status %s, want %q %s", c.class, c.key, x.Detail, x.Exception.Status, c.detail, c.status)
		}
	}
	if f.rec.count() != 1 || f.count(`SELECT count(*) FROM payment_attempts WHERE id = $1 AND status = 'succeeded'`, dropped.ID) != 1 {
		t.Fatalf("the confirmed payment was recorded %d times", f.rec.count())
	}
	if n := f.count(`SELECT count(*) FROM recon_items WHERE run_id = $1 AND matched_by = 'amount_date' AND here_id = $2`,
		run.ID, garbled.ID); n != 1 {
		t.Fatalf("garbled line paired by amount and time %d times", n)
	}

	// The same file again is the same file: nothing is queued, nothing changes.
	again, err := f.svc.Import(f.ctx, bytes.NewReader(data), rawfile.Meta{Name: "again", Source: rawfile.SourceUpload, ReceivedBy: "test"})
	if err != nil || !again.Duplicate || again.ID != file.ID {
		t.Fatalf("re-import = %+v, %v", again, err)
	}
	if n := f.count(`SELECT count(*) FROM recon_runs WHERE status = 'queued'`); n != 0 {
		t.Fatalf("re-import queued %d runs", n)
	}

	// Running the day again: the recorded payment now matches, the
	// exceptions are the same rows, the payment is not recorded twice.
	rerun := f.rerun(gw)
	want[matcher.Matched], want[matcher.MissingHere] = 4, 0
	if got := classes(rerun); !equalCounts(got, want) {
		t.Fatalf("rerun classes = %v, want %v", got, want)
	}
	if f.rec.count() != 1 || f.count(`SELECT count(*) FROM recon_exceptions`) != 6 {
		t.Fatalf("rerun recorded %d payments, %d exceptions", f.rec.count(), f.count(`SELECT count(*) FROM recon_exceptions`))
	}
}

// rerun queues and executes a new run of source for day0.
func (f *fx) rerun(source string) reconciliation.Run { return f.rerunDay(source, day0) }

// rerunDay queues and executes a new run of source for day.
func (f *fx) rerunDay(source string, day time.Time) reconciliation.Run {
	f.t.Helper()
	if _, err := f.svc.ReconcileDay(f.ctx, day, source, "test"); err != nil {
		f.t.Fatal(err)
	}
	runs := f.runQueued()
	if len(runs) != 1 {
		f.t.Fatalf("%d runs queued", len(runs))
	}
	return runs[0]
}

func equalCounts(got, want map[matcher.Class]int64) bool {
	for _, c := range matcher.Classes() {
		if got[c] != want[c] {
			return false
		}
	}
	return true
}

func TestBankCreditBeforeItsFileIsMatchedWhenTheFileArrivesAndPostedOnce(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	const gw = statement.GatewayMoMo
	a1, a2 := f.paid(gw, 200_000, at(9, 0)), f.paid(gw, 100_000, at(10, 0))
	data, sf := settlementFile(t, gw, 1, line(a1), line(a2))
	next := day0.AddDate(0, 0, 1)
	bank := camt053(t, next, credit(sf.Net.IntPart(), next, "CTY CP DV MOMO TT QUYET TOAN "+strings.ToLower(sf.FileID)+" NGAY 23/11/2026"))

	f.load(bank)
	bankRun := f.lastRun(reconciliation.SourceBank, next)
	if got := classes(bankRun); got[matcher.MissingHere] != 1 {
		t.Fatalf("credit before its file: classes %v", got)
	}
	waiting, ok := byClass(f.exceptions(bankRun.ID), matcher.MissingHere, "settlement:momo:2026-11-23")
	if !ok || waiting.Exception.Status != reconciliation.ExceptionOpen {
		t.Fatalf("waiting credit exception = %+v", waiting)
	}

	f.load(data)
	run := f.lastRun(gw, day0)
	if run.Settlement == nil || run.Settlement.Status != reconciliation.SettlementMatched || run.Settlement.LedgerEntryID == nil {
		t.Fatalf("settlement = %+v", run.Settlement)
	}
	if e, err := f.svc.Exception(f.ctx, waiting.Exception.ID); err != nil || e.Status != reconciliation.ExceptionAutoResolved {
		t.Fatalf("waiting exception after the file = %+v, %v", e, err)
	}
	entry, err := ledger.GetEntry(f.ctx, f.pool, *run.Settlement.LedgerEntryID)
	if err != nil {
		t.Fatal(err)
	}
	wantPostings := map[string]string{
		ledger.TreasuryBank(account): sf.Net.String(), ledger.GatewayFees(gw): sf.Fees.String(), ledger.GatewayClearing(gw): sf.Gross.String(),
	}
	for _, p := range entry.Postings {
		if wantPostings[p.Account] != p.Amount.String() {
			t.Errorf("posting %s %s %s, want %s", p.Account, p.Direction, p.Amount, wantPostings[p.Account])
		}
	}

	// Every run of either side again leaves one settlement entry.
	f.rerunDay(reconciliation.SourceBank, next)
	f.rerun(gw)
	if n := f.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'settlement'`); n != 1 {
		t.Fatalf("%d settlement entries", n)
	}
	if got := classes(f.lastRun(reconciliation.SourceBank, next)); got[matcher.Matched] != 1 || got[matcher.MissingHere] != 0 {
		t.Fatalf("bank rerun classes %v", got)
	}
	verify(t, f)
}

func verify(t *testing.T, f *fx) {
	t.Helper()
	rep, err := ledger.Verify(f.ctx, f.pool)
	if err != nil || !rep.OK() {
		t.Fatalf("ledger verify: %v %+v", err, rep.Findings)
	}
}

func TestCorrectedRevisionIsKeptAndTheLatestWins(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	const gw = statement.GatewayZaloPay
	a1, a2 := f.paid(gw, 200_000, at(9, 0)), f.paid(gw, 300_000, at(10, 0))
	r1, _ := settlementFile(t, gw, 1, line(a1))
	r2, sf2 := settlementFile(t, gw, 2, line(a1), line(a2))

	f.load(r1)
	first := f.lastRun(gw, day0)
	missing, ok := byClass(f.exceptions(first.ID), matcher.MissingThere, a2.ID.String())
	if !ok {
		t.Fatalf("revision 1 lacks a2: exceptions %+v", f.exceptions(first.ID))
	}
	f.load(r2)
	second := f.lastRun(gw, day0)
	if got := classes(second); !equalCounts(got, map[matcher.Class]int64{matcher.Matched: 2}) {
		t.Fatalf("revision 2 classes %v", got)
	}
	if e, _ := f.svc.Exception(f.ctx, missing.Exception.ID); e.Status != reconciliation.ExceptionCleared {
		t.Fatalf("exception fixed by revision 2 is %s", e.Status)
	}
	// Revision 1 again (late) changes nothing: revision 2 stays the latest.
	f.load(r1)
	if n := f.count(`SELECT count(*) FROM recon_files WHERE gateway = $1 AND status = 'loaded'`, gw); n != 2 {
		t.Fatalf("%d revisions kept", n)
	}
	next := day0.AddDate(0, 0, 1)
	f.load(camt053(t, next, credit(sf2.Net.IntPart(), next, "ZALOPAY QUYET TOAN "+strings.ReplaceAll(sf2.FileID, "-", "_"))))
	st := f.lastRun(gw, day0).Settlement
	if st == nil || st.Status != reconciliation.SettlementMatched || st.Revision == nil || *st.Revision != 2 {
		t.Fatalf("settlement = %+v", st)
	}
	verify(t, f)
}

func TestUnbalancedStatementIsRefused(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	good := camt053(t, day0, credit(50_000, day0, "CK NHAM"))
	bad := bytes.Replace(good, []byte(">1000050000<"), []byte(">1000040000<"), 1)
	if bytes.Equal(good, bad) {
		t.Fatalf("closing balance not found in\n%s", good)
	}
	file := f.load(bad)
	if file.Status != reconciliation.FileRefused || !strings.Contains(file.Error, "difference 10000 VND") {
		t.Fatalf("unbalanced statement = %+v", file)
	}
	if n := f.count(`SELECT count(*) FROM recon_bank_entries`) + f.count(`SELECT count(*) FROM recon_runs`); n != 0 {
		t.Fatalf("a refused file left %d rows", n)
	}
}

func TestBankDayClassifiesCreditsAndPostsEachOnce(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	viaQR := f.pending(matcher.VietQR, 250_000, at(8, 0))
	_, noAttempt := f.order(40_000, false)
	otherPaid := f.paid(statement.GatewayVNPAY, 75_000, at(8, 30))
	_, paidRef := f.orderRef(otherPaid)
	wrongAmount := f.pending(matcher.VietQR, 90_000, at(8, 40))
	qrPaid := f.paid(matcher.VietQR, 55_000, at(9, 0)) // paid here, no credit

	bank := camt053(t, day0,
		credit(250_000, at(10, 0), "MBVCB.123.CK "+viaQR.Ref+" NOP PHI"),
		credit(40_000, at(10, 5), "NOP PHI "+noAttempt),
		credit(75_000, at(10, 10), paidRef+" thanh toan"),
		credit(80_000, at(10, 15), "CK "+wrongAmount.Ref),
		credit(123_456, at(10, 20), "CK NHAM TAI KHOAN"),
	)
	f.loadFetched(bank)
	run := f.lastRun(reconciliation.SourceBank, day0)
	want := map[matcher.Class]int64{matcher.MissingHere: 2, matcher.Duplicate: 1, matcher.AmountMismatch: 1,
		matcher.Unknown: 1, matcher.MissingThere: 1}
	if got := classes(run); !equalCounts(got, want) {
		t.Fatalf("classes = %v, want %v", got, want)
	}
	if run.AutoResolved != 2 || f.rec.count() != 2 {
		t.Fatalf("auto-resolved %d, recorded %d", run.AutoResolved, f.rec.count())
	}
	if _, ok := byClass(f.exceptions(run.ID), matcher.MissingThere, qrPaid.ID.String()); !ok {
		t.Fatal("VietQR payment without a credit is not missing there")
	}
	// Suspense for the three credits nobody can book to an order; the VietQR
	// clearing moves to the bank for the confirmed one.
	postings := func(kind string) int64 {
		return f.count(`SELECT count(*) FROM recon_bank_postings WHERE kind = $1`, kind)
	}
	if postings("suspense") != 3 || postings("vietqr") != 2 {
		t.Fatalf("postings: suspense %d, vietqr %d", postings("suspense"), postings("vietqr"))
	}
	unknown, _ := byClass(f.exceptions(run.ID), matcher.Unknown, "bank:")
	if unknown.Exception.LedgerEntryID == nil {
		t.Fatalf("unknown credit has no suspense entry: %+v", unknown.Exception)
	}

	// The same day again: the VietQR payments match, nothing posts twice.
	entries := f.count(`SELECT count(*) FROM ledger_entries`)
	rerun := f.rerun(reconciliation.SourceBank)
	if got := classes(rerun); got[matcher.Matched] != 2 || got[matcher.MissingHere] != 0 {
		t.Fatalf("rerun classes %v", got)
	}
	if n := f.count(`SELECT count(*) FROM ledger_entries`); n != entries || f.rec.count() != 2 {
		t.Fatalf("ledger entries %d → %d, recorded %d", entries, n, f.rec.count())
	}
	verify(t, f)
}

// orderRef returns the order id and payment reference of a's order.
func (f *fx) orderRef(a attempt) (string, string) {
	f.t.Helper()
	var id, ref string
	if err := f.pool.QueryRow(f.ctx, `SELECT o.id::text, o.reference FROM orders o JOIN payment_attempts a ON a.order_id = o.id
		WHERE a.id = $1`, a.ID).Scan(&id, &ref); err != nil {
		f.t.Fatal(err)
	}
	return id, ref
}

func TestSettlementWithoutFileIDIsPairedByAmountAndAnUnpaidOneIsMissing(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	v := f.paid(statement.GatewayVNPAY, 500_000, at(9, 0))
	z := f.paid(statement.GatewayZaloPay, 300_000, at(9, 0))
	vf, vs := settlementFile(t, statement.GatewayVNPAY, 1, line(v))
	zf, _ := settlementFile(t, statement.GatewayZaloPay, 1, line(z))
	f.load(vf)
	f.load(zf)
	next := day0.AddDate(0, 0, 1)
	f.load(camt053(t, next, credit(vs.Net.IntPart(), next, "THANH TOAN DOT 2311")))
	bankRun := f.lastRun(reconciliation.SourceBank, next)
	if n := f.count(`SELECT count(*) FROM recon_items WHERE run_id = $1 AND matched_by = 'amount_date' AND class = 'matched'`,
		bankRun.ID); n != 1 {
		t.Fatalf("credit without file id paired %d times", n)
	}
	overdue, ok := byClass(f.exceptions(bankRun.ID), matcher.MissingThere, "settlement:zalopay:2026-11-23")
	if !ok || !strings.Contains(overdue.Detail, "no bank credit") {
		t.Fatalf("unpaid settlement: %+v", f.exceptions(bankRun.ID))
	}
	st := f.lastRun(statement.GatewayVNPAY, day0).Settlement
	if st == nil || st.Status != reconciliation.SettlementMatched || st.MatchedBy != matcher.ByAmountDate {
		t.Fatalf("settlement = %+v", st)
	}
	verify(t, f)
}

func TestResolvingAnExceptionRecordsWhoAndWhen(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	f.load(camt053(t, day0, credit(10_000, at(10, 0), "CK NHAM")))
	list := f.exceptions(f.lastRun(reconciliation.SourceBank, day0).ID)
	if len(list) != 1 {
		t.Fatalf("exceptions %+v", list)
	}
	id := list[0].Exception.ID
	if n, err := reconciliation.CountOpenExceptions(f.ctx, f.pool); err != nil || n != 1 {
		t.Fatalf("open exceptions before resolving: %d, %v; want 1", n, err)
	}
	for _, c := range []struct {
		resolution, note string
		want             error
	}{
		{"shrug", "ok", reconciliation.ErrInvalid},
		{"written_off", "  ", reconciliation.ErrInvalid},
	} {
		if _, err := f.svc.Resolve(f.ctx, id, c.resolution, c.note, "treasury:x"); !errors.Is(err, c.want) {
			t.Errorf("resolve %q %q = %v, want %v", c.resolution, c.note, err, c.want)
		}
	}
	before := time.Now()
	e, err := f.svc.Resolve(f.ctx, id, "ledger_adjusted", "moved from suspense to the payer's order by entry 12", "treasury:cpk_abc")
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != reconciliation.ExceptionResolved || e.ResolvedBy != "treasury:cpk_abc" || e.ResolvedAt == nil ||
		e.ResolvedAt.Before(before.Add(-time.Minute)) || e.Resolution != "ledger_adjusted" || !strings.Contains(e.Note, "entry 12") {
		t.Fatalf("resolved = %+v", e)
	}
	if n, err := reconciliation.CountOpenExceptions(f.ctx, f.pool); err != nil || n != 0 {
		t.Errorf("open exceptions after resolving: %d, %v; want 0", n, err)
	}
	if _, err := f.svc.Resolve(f.ctx, id, "written_off", "again", "treasury:other"); !errors.Is(err, reconciliation.ErrAlreadyResolved) {
		t.Fatalf("second resolve = %v", err)
	}
	events, err := f.svc.ExceptionEvents(f.ctx, id)
	if err != nil || len(events) != 2 || events[0].Action != "raised" || events[1].Action != "resolved" ||
		events[1].Actor != "treasury:cpk_abc" {
		t.Fatalf("events = %+v, %v", events, err)
	}
	// A later run of the day keeps the person's resolution.
	f.rerun(reconciliation.SourceBank)
	if e, _ := f.svc.Exception(f.ctx, id); e.Status != reconciliation.ExceptionResolved {
		t.Fatalf("after a rerun the exception is %s", e.Status)
	}
}

func TestExportHasEveryLineWithItsClass(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	a, b := f.paid(statement.GatewayMoMo, 10_000, at(9, 0)), f.paid(statement.GatewayMoMo, 20_000, at(9, 5))
	data, _ := settlementFile(t, statement.GatewayMoMo, 1, line(a))
	f.load(data)
	run := f.lastRun(statement.GatewayMoMo, day0)
	var buf bytes.Buffer
	if err := f.svc.ExportRun(f.ctx, run.ID, &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 { // header, the line, the missing record
		t.Fatalf("export:\n%v", recs)
	}
	got := map[string]string{}
	for _, r := range recs[1:] {
		got[r[1]+":"+r[6]] = r[9] + r[11]
	}
	if got["matched:"+a.Ref] != "1000010000" || got["missing_there:"+b.Ref] != "20000" {
		t.Fatalf("export rows %v", got)
	}
}

func TestRefundsAreMatchedByTheGatewaysRefundNumber(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	const gw = statement.GatewayMoMo
	a := f.paid(gw, 100_000, at(9, 0))
	refund := func(amount int64, number string, done time.Time) {
		f.exec(`INSERT INTO payment_refunds (id, order_id, attempt_id, kind, currency, amount, status, reason, requested_by,
			gateway_refund_id, created_at, updated_at, completed_at)
			SELECT gen_random_uuid(), order_id, id, 'refund', 'VND', $2, 'succeeded', 'test', 'test', $3, $4, $4, $4
			FROM payment_attempts WHERE id = $1`, a.ID, amount, number, done)
	}
	refund(50_000, "4099000001", at(12, 0))
	refund(20_000, "4099000002", at(13, 0)) // refunded here, absent from the file
	refundLine := func(amount int64, number, ref string, when time.Time) statement.SettlementLine {
		return statement.SettlementLine{GatewayTxnID: number, Reference: ref, Type: statement.TypeRefund,
			Gross: decimal.NewFromInt(-amount), Fee: decimal.Zero, Net: decimal.NewFromInt(-amount), Currency: "VND", At: when}
	}
	data, _ := settlementFile(t, gw, 1, line(a), refundLine(50_000, "4099000001", "RFD1", at(12, 0)),
		refundLine(10_000, "4099000003", "RFD3", at(14, 0)))
	f.load(data)
	run := f.lastRun(gw, day0)
	want := map[matcher.Class]int64{matcher.Matched: 2, matcher.MissingThere: 1, matcher.Unknown: 1}
	if got := classes(run); !equalCounts(got, want) {
		t.Fatalf("classes %v, want %v", got, want)
	}
	if _, ok := byClass(f.exceptions(run.ID), matcher.Unknown, "momo:refund:4099000003"); !ok {
		t.Fatalf("unknown refund: %+v", f.exceptions(run.ID))
	}
	for _, tot := range run.Classes {
		if tot.Class == matcher.Matched && !tot.Total.Equal(decimal.NewFromInt(50_000)) {
			t.Fatalf("matched total %s, want 100000 − 50000", tot.Total)
		}
	}
}

func TestADayWithoutItsFileFailsItsRun(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	run := f.rerun(statement.GatewayZaloPay)
	if run.Status != reconciliation.RunFailed || !strings.Contains(run.Error, "no settlement file of zalopay for 2026-11-23") {
		t.Fatalf("run = %+v", run)
	}
	if _, err := f.svc.Execute(f.ctx, run.ID); err != nil {
		t.Fatalf("a failed run executed again: %v", err)
	}
}

func TestARunExecutedTwiceAtOnceCountsOnce(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	const gw = statement.GatewayVNPAY
	paid := f.paid(gw, 100_000, at(9, 0))
	dropped := f.pending(gw, 120_000, at(9, 30))
	f.gw.set(dropped.Ref, gateways.Result{GatewayRef: dropped.Ref, GatewayTxnID: dropped.Txn, Amount: decimal.NewFromInt(dropped.Amount), Currency: "VND",
		Status: gateways.StatusSucceeded, PaidAt: at(9, 31)})
	data, sf := settlementFile(t, gw, 1, line(paid), line(dropped))
	next := day0.AddDate(0, 0, 1)
	for _, d := range [][]byte{data, camt053(t, next, credit(sf.Net.IntPart(), next, "CK TU VNPAY "+sf.FileID))} {
		file, err := f.svc.Import(f.ctx, bytes.NewReader(d), rawfile.Meta{Source: rawfile.SourceUpload, ReceivedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Load(f.ctx, file.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, source := range []string{gw, reconciliation.SourceBank} {
		runs, err := f.svc.Runs(f.ctx, reconciliation.RunFilter{Source: source, Status: reconciliation.RunQueued, Limit: 1})
		if err != nil || len(runs) != 1 {
			t.Fatalf("queued %s runs %v, %v", source, runs, err)
		}
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := f.svc.Execute(f.ctx, runs[0].ID)
				errs <- err
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	run := f.lastRun(gw, day0)
	if got := classes(run); !equalCounts(got, map[matcher.Class]int64{matcher.Matched: 1, matcher.MissingHere: 1}) ||
		run.AutoResolved != 1 || run.Status != reconciliation.RunCompleted {
		t.Fatalf("run %+v, classes %v", run, got)
	}
	if n := f.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'settlement'`); n != 1 {
		t.Fatalf("%d settlement entries", n)
	}
	if n := f.count(`SELECT count(*) FROM recon_items WHERE run_id = $1`, run.ID); n != 1 {
		t.Fatalf("%d items for one exception", n)
	}
	verify(t, f)
}

// Text that came in a bank file cannot become a formula in the export (CSV
// injection): such cells start with a quote; amounts stay numbers.
func TestExportNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	c := credit(10_000, at(10, 0), "=HYPERLINK(\"http://evil.example\",\"x\")")
	c.AcctSvcrRef = "@SUM(A1:A9)"
	c.TxDetails[0].EndToEndID = "+cmd|' /C calc'!A0"
	f.load(camt053(t, day0, c))
	run := f.lastRun(reconciliation.SourceBank, day0)
	var buf bytes.Buffer
	if err := f.svc.ExportRun(f.ctx, run.ID, &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var formulas, neutralised int
	for _, r := range recs[1:] {
		for _, cell := range r {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				if _, err := decimal.NewFromString(cell); err != nil {
					formulas++
					t.Errorf("cell %q could run as a formula", cell)
				}
			}
			if strings.HasPrefix(cell, "'=") || strings.HasPrefix(cell, "'@") || strings.HasPrefix(cell, "'+") {
				neutralised++
			}
		}
	}
	if neutralised == 0 || formulas > 0 {
		t.Fatalf("export:\n%q", recs)
	}
}
