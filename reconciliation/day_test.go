package reconciliation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/testkit/pdftest"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// dayFx is a fixture whose service has a fake clock (two days after day0)
// and a notifier that counts the closings it is told of, by day.
type dayFx struct {
	*fx
	clock  *clock.Fake
	closed *closings
}

type closings struct {
	mu   sync.Mutex
	days []reconciliation.DayClosing
}

func (c *closings) RunFinished(context.Context, pgx.Tx, reconciliation.Run, bool) error { return nil }
func (c *closings) ExceptionRaised(context.Context, pgx.Tx, reconciliation.Exception) error {
	return nil
}

func (c *closings) DayClosed(_ context.Context, _ pgx.Tx, d reconciliation.DayClosing) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.days = append(c.days, d)
	return nil
}

func (c *closings) list() []reconciliation.DayClosing {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]reconciliation.DayClosing(nil), c.days...)
}

// newDayFx reconciles VNPAY (the only gateway configured) and the bank.
func newDayFx(t *testing.T) *dayFx {
	t.Helper()
	f := newFx(t, func(c *reconciliation.Config) { c.Gateways = []string{statement.GatewayVNPAY} })
	d := &dayFx{fx: f, clock: clock.NewFake(day0.AddDate(0, 0, 2).Add(9 * time.Hour)), closed: &closings{}}
	f.svc = reconciliation.New(f.pool, f.svc.Config(), slog.New(slog.DiscardHandler),
		reconciliation.Deps{Payments: f.rec, Gateways: f.gw, Notifier: d.closed, Clock: d.clock})
	rc, err := river.NewClient(riverpgxv5.New(f.pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.SetJobs(rc)
	return d
}

// balancedDay0 makes day0 agree on both sides: two VNPAY payments, the
// gateway's file of them, and the bank's credit of its net the same day.
// It returns the file's totals.
func (d *dayFx) balancedDay0() statement.SettlementFile {
	d.t.Helper()
	const gw = statement.GatewayVNPAY
	a, b := d.paid(gw, 200_000, at(9, 0)), d.paid(gw, 150_000, at(10, 30))
	data, sf := settlementFile(d.t, gw, 1, line(a), line(b))
	d.load(data)
	d.load(camt053(d.t, day0, credit(sf.Net.IntPart(), at(18, 0), "CK TU VNPAY "+sf.FileID)))
	return sf
}

func (d *dayFx) state(day time.Time) string {
	d.t.Helper()
	v, err := d.svc.DayView(d.ctx, day)
	if err != nil {
		d.t.Fatal(err)
	}
	return v.State
}

// The day view's figures are the runs': per source the completed run's
// lines and classes, and the both-sides check holds ours (two payments),
// theirs (the file's trailer) and the bank's credit (the file's net); the
// chain leads from each line to its attempt's order.
func TestDayViewTotalsAgreeWithRuns(t *testing.T) {
	t.Parallel()
	d := newDayFx(t)
	sf := d.balancedDay0()
	v, err := d.svc.DayView(d.ctx, day0)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != reconciliation.DayBalanced || v.Status.OpenExceptions != 0 || len(v.Sources) != 2 {
		t.Fatalf("view %+v", v)
	}
	for _, src := range v.Sources {
		run := d.lastRun(src.Source, day0)
		if !src.Received || src.Completed == nil || src.Completed.ID != run.ID || src.Lines != run.LinesTotal ||
			fmt.Sprint(src.Classes) != fmt.Sprint(run.Classes) {
			t.Errorf("%s: received %v, completed %+v, lines %d, classes %v; run %d lines %d classes %v", src.Source, src.Received,
				src.Completed, src.Lines, src.Classes, run.ID, run.LinesTotal, run.Classes)
		}
	}
	if vn := v.Sources[0]; vn.Lines != 2 || vn.Settlement == nil || vn.Settlement.Status != reconciliation.SettlementMatched {
		t.Errorf("vnpay source %+v", vn)
	}
	if len(v.Agreements) != 1 {
		t.Fatalf("agreements %+v", v.Agreements)
	}
	a := v.Agreements[0]
	if a.Gateway != statement.GatewayVNPAY || a.Ours.Count != 2 || !a.Ours.Amount.Equal(decimal.NewFromInt(350_000)) ||
		a.Theirs == nil || a.Theirs.Count != int64(sf.Count) || !a.Theirs.Amount.Equal(sf.Gross) || !a.Fees.Equal(sf.Fees) ||
		a.Bank == nil || !a.Bank.Amount.Equal(sf.Net) || !a.Agree {
		t.Errorf("agreement %+v (file %+v)", a, sf)
	}
	lines, err := d.svc.ChainLines(d.ctx, statement.GatewayVNPAY, day0, 0, 10)
	if err != nil || len(lines) != 2 {
		t.Fatalf("chain %+v, %v", lines, err)
	}
	for _, l := range lines {
		var order uuid.UUID
		if err := d.pool.QueryRow(d.ctx, `SELECT order_id FROM payment_attempts WHERE gateway_ref = $1`, l.Reference).Scan(&order); err != nil {
			t.Fatal(err)
		}
		if l.Class != matcher.Matched || l.OrderID == nil || *l.OrderID != order || l.AttemptID == nil || l.HereStatus != "succeeded" {
			t.Errorf("chain line %+v, order %s", l, order)
		}
	}
	if more, err := d.svc.ChainLines(d.ctx, statement.GatewayVNPAY, day0, lines[1].Line, 10); err != nil || len(more) != 0 {
		t.Errorf("after the last line: %+v, %v", more, err)
	}

	// A payment here that the file lacks: the counts disagree, and say so.
	d.paid(statement.GatewayVNPAY, 99_000, at(11, 0))
	if v, err = d.svc.DayView(d.ctx, day0); err != nil {
		t.Fatal(err)
	}
	if a := v.Agreements[0]; a.Agree || a.CountAgrees || a.AmountAgrees || !a.BankAgrees || a.Ours.Count != 3 {
		t.Errorf("after an extra payment: %+v", a)
	}
}

// The calendar: a day nobody ran, a day with an open exception, a
// balanced day, and the same day once closed.
func TestCalendarStates(t *testing.T) {
	t.Parallel()
	d := newDayFx(t)
	d.balancedDay0()
	yesterday := day0.AddDate(0, 0, -1)
	d.load(camt053(t, yesterday, credit(123_456, yesterday.Add(10*time.Hour), "CK NHAM TAI KHOAN")))
	states := func() map[string]string {
		t.Helper()
		days, err := d.svc.Month(d.ctx, 2026, time.November)
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 30 || days[0].Date != "2026-11-01" || days[29].Date != "2026-11-30" {
			t.Fatalf("month %d days from %s", len(days), days[0].Date)
		}
		out := map[string]string{}
		for _, x := range days {
			out[x.Date] = x.State
		}
		return out
	}
	got := states()
	want := map[string]string{"2026-11-21": reconciliation.DayNotRun, "2026-11-22": reconciliation.DayExceptionsOpen,
		"2026-11-23": reconciliation.DayBalanced}
	for day, s := range want {
		if got[day] != s {
			t.Errorf("%s: %s, want %s", day, got[day], s)
		}
	}
	if _, err := d.svc.CloseDay(d.ctx, day0, "treasury:staff:a@example.vn", "balanced"); err != nil {
		t.Fatal(err)
	}
	if got := states()["2026-11-23"]; got != reconciliation.DayClosed {
		t.Errorf("closed day: %s", got)
	}
	if got := d.state(day0); got != reconciliation.DayClosed {
		t.Errorf("closed day's view: %s", got)
	}
	if _, err := d.svc.Month(d.ctx, 1999, time.December); !errors.Is(err, reconciliation.ErrInvalid) {
		t.Errorf("a month before 2000: %v", err)
	}
}

// A day with an open exception does not close; carried forward (with a
// note, once), it does, and the carried exception stays open. The closing
// records who and the day's totals, is audited, and is told once: closing
// again, even twice at once, is refused and tells nobody.
func TestCloseRefusedWithOpenExceptionAllowedWhenCarriedForward(t *testing.T) {
	t.Parallel()
	d := newDayFx(t)
	const gw = statement.GatewayVNPAY
	a := d.paid(gw, 200_000, at(9, 0))
	data, sf := settlementFile(t, gw, 1, line(a))
	d.load(data)
	d.load(camt053(t, day0, credit(sf.Net.IntPart(), at(18, 0), "CK TU VNPAY "+sf.FileID),
		credit(123_456, at(19, 0), "CK NHAM TAI KHOAN")))
	if got := d.state(day0); got != reconciliation.DayExceptionsOpen {
		t.Fatalf("state %s", got)
	}
	_, err := d.svc.CloseDay(d.ctx, day0, "treasury:staff:a@example.vn", "")
	if !errors.Is(err, reconciliation.ErrNotReconciled) || !strings.Contains(err.Error(), "1 open exceptions") {
		t.Fatalf("close with an open exception: %v", err)
	}
	var id int64
	if err := d.pool.QueryRow(d.ctx, `SELECT id FROM recon_exceptions WHERE business_date = $1 AND status = 'open'`, day0).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.CarryForward(d.ctx, id, "  ", "treasury:staff:a@example.vn"); !errors.Is(err, reconciliation.ErrInvalid) {
		t.Fatalf("carry without a note: %v", err)
	}
	x, err := d.svc.CarryForward(d.ctx, id, "the sender is being traced", "treasury:staff:a@example.vn")
	if err != nil || x.Carry == nil || x.Carry.Note != "the sender is being traced" || x.Status != reconciliation.ExceptionOpen {
		t.Fatalf("carry: %+v, %v", x, err)
	}
	if _, err := d.svc.CarryForward(d.ctx, id, "again", "treasury:staff:b@example.vn"); !errors.Is(err, reconciliation.ErrAlreadyCarried) {
		t.Fatalf("carry twice: %v", err)
	}
	if got := d.state(day0); got != reconciliation.DayBalanced {
		t.Fatalf("state once carried: %s", got)
	}

	// Three closings at once: one closes, the others find it closed.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = d.svc.CloseDay(d.ctx, day0, "treasury:staff:a@example.vn", "closed with one carried")
		})
	}
	wg.Wait()
	var ok int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ledger.ErrDayClosed):
			t.Fatalf("a concurrent close: %v", err)
		}
	}
	if _, err := d.svc.CloseDay(d.ctx, day0, "treasury:staff:b@example.vn", ""); ok != 1 || !errors.Is(err, ledger.ErrDayClosed) {
		t.Fatalf("%d closings succeeded; closing again: %v", ok, err)
	}
	told := d.closed.list()
	if len(told) != 1 {
		t.Fatalf("day_closed told %d times", len(told))
	}
	c := told[0]
	if c.Date != "2026-11-23" || c.ClosedBy != "treasury:staff:a@example.vn" || fmt.Sprint(c.CarriedForward) != fmt.Sprint([]int64{id}) ||
		c.Totals.Exceptions.CarriedForward != 1 || len(c.Totals.Gateways) != 1 || c.Totals.Gateways[0].Ours.Count != 1 ||
		c.Report != "/v1/days/2026-11-23/report" {
		t.Fatalf("closing told %+v", c)
	}
	st, err := d.svc.Day(d.ctx, day0)
	if err != nil || st.Closed == nil || st.Closed.ClosedBy != "treasury:staff:a@example.vn" || st.CarriedForward != 1 {
		t.Fatalf("status %+v, %v", st, err)
	}
	var kept reconciliation.DayTotals
	if err := json.Unmarshal(st.Closed.Totals, &kept); err != nil || kept.Exceptions.CarriedForward != 1 || kept.Date != "2026-11-23" ||
		len(kept.Sources) != 2 || kept.Sources[1].RunID != st.Reconciled[reconciliation.SourceBank] {
		t.Fatalf("totals kept with the closing %s: %v", st.Closed.Totals, err)
	}
	if _, err := d.svc.CarryForward(d.ctx, id, "late", "treasury:staff:a@example.vn"); err == nil {
		t.Fatal("carried out of a closed day")
	}
	if n := d.count(`SELECT count(*) FROM audit_log WHERE action = 'ledger.day.close' AND resource_id = '2026-11-23'
		AND after->'totals'->>'date' = '2026-11-23'`); n != 1 {
		t.Fatalf("%d closing audit rows with the totals", n)
	}
	if n := d.count(`SELECT count(*) FROM audit_log WHERE action = 'reconciliation.exception.carry_forward' AND resource_id = $1`,
		fmt.Sprint(id)); n != 1 {
		t.Fatalf("%d carry audit rows", n)
	}
	if n := d.count(`SELECT count(*) FROM recon_exception_events WHERE exception_id = $1 AND action = 'carried_forward'`, id); n != 1 {
		t.Fatalf("%d carry events", n)
	}
}

// manual posts an adjustment dated in day0 through the ledger's manual
// entries, as treasury does.
func (d *dayFx) manual(key string) error {
	m := ledger.NewManual(d.pool, ledger.ManualRules{ApprovalAmount: decimal.NewFromInt(1_000_000), MaxBackdate: 30 * 24 * time.Hour}).
		WithClock(d.clock)
	_, err := m.Post(d.ctx, ledger.Requester{KeyID: uuid.New(), Actor: "treasury:staff:a@example.vn"}, key, ledger.ManualEntry{
		Reason: "correct a fee", EffectiveAt: at(15, 0), Postings: []ledger.Posting{
			{Account: "treasury:" + account + ":bank", Direction: ledger.Debit, Amount: decimal.NewFromInt(1000), Currency: "VND"},
			{Account: "suspense", Direction: ledger.Credit, Amount: decimal.NewFromInt(1000), Currency: "VND"}}})
	return err
}

// A closed day refuses an entry dated in it, and its closing cannot be
// deleted by hand; reopening needs a second person (the requester can only
// withdraw); once approved the day is open: the entry is accepted, and the
// day may close again. Every step is audited.
func TestReopenNeedsADifferentApprover(t *testing.T) {
	t.Parallel()
	d := newDayFx(t)
	d.balancedDay0()
	const alice, bob = "treasury:staff:alice@example.vn", "treasury:staff:bob@example.vn"
	if _, err := d.svc.RequestReopen(d.ctx, day0, alice, "not closed yet"); !errors.Is(err, ledger.ErrDayNotClosed) {
		t.Fatalf("reopen an open day: %v", err)
	}
	if _, err := d.svc.CloseDay(d.ctx, day0, alice, ""); err != nil {
		t.Fatal(err)
	}
	if err := d.manual("m1"); !errors.Is(err, ledger.ErrDayClosed) {
		t.Fatalf("an adjustment into the closed day: %v", err)
	}
	if _, err := d.pool.Exec(d.ctx, `DELETE FROM ledger_closed_days WHERE day = $1`, day0.Format(time.DateOnly)); err == nil ||
		!strings.Contains(err.Error(), "approved reopen request") {
		t.Fatalf("deleting a closing by hand: %v", err)
	}
	if _, err := d.svc.RequestReopen(d.ctx, day0, alice, " "); !errors.Is(err, ledger.ErrInvalidEntry) {
		t.Fatalf("reopen without a reason: %v", err)
	}
	first, err := d.svc.RequestReopen(d.ctx, day0, alice, "a refund was booked on the wrong day")
	if err != nil || first.Status != ledger.ReopenPending || first.Closing.ClosedBy != alice {
		t.Fatalf("request: %+v, %v", first, err)
	}
	if _, err := d.svc.RequestReopen(d.ctx, day0, bob, "twice"); !errors.Is(err, ledger.ErrReopenPending) {
		t.Fatalf("a second request: %v", err)
	}
	if _, err := d.svc.DecideReopen(d.ctx, first.ID, alice, true, ""); !errors.Is(err, ledger.ErrReopenSelfApproval) {
		t.Fatalf("self-approval: %v", err)
	}
	if r, err := d.svc.DecideReopen(d.ctx, first.ID, alice, false, "withdrawn"); err != nil || r.Status != ledger.ReopenRejected {
		t.Fatalf("withdraw: %+v, %v", r, err)
	}
	if _, err := d.svc.DecideReopen(d.ctx, first.ID, bob, true, ""); !errors.Is(err, ledger.ErrRequestDecided) {
		t.Fatalf("approving a withdrawn request: %v", err)
	}
	if st, _ := d.svc.Day(d.ctx, day0); st.Closed == nil {
		t.Fatal("the day reopened without approval")
	}
	second, err := d.svc.RequestReopen(d.ctx, day0, alice, "a refund was booked on the wrong day")
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.svc.DecideReopen(d.ctx, second.ID, bob, true, "checked")
	if err != nil || r.Status != ledger.ReopenApproved || r.DecidedBy != bob {
		t.Fatalf("approve: %+v, %v", r, err)
	}
	st, err := d.svc.Day(d.ctx, day0)
	if err != nil || st.Closed != nil {
		t.Fatalf("after the approval: %+v, %v", st, err)
	}
	if err := d.manual("m2"); err != nil {
		t.Fatalf("an adjustment into the reopened day: %v", err)
	}
	if _, err := d.svc.CloseDay(d.ctx, day0, bob, "closed again"); err != nil {
		t.Fatalf("closing again: %v", err)
	}
	if err := d.manual("m3"); !errors.Is(err, ledger.ErrDayClosed) {
		t.Fatalf("an adjustment into the day closed again: %v", err)
	}
	if n := len(d.closed.list()); n != 2 {
		t.Fatalf("day_closed told %d times for two closings", n)
	}
	var actions string
	if err := d.pool.QueryRow(d.ctx, `SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE action LIKE 'ledger.day.%'`).
		Scan(&actions); err != nil {
		t.Fatal(err)
	}
	if want := "ledger.day.close,ledger.day.reopen_request,ledger.day.reopen_reject,ledger.day.reopen_request,ledger.day.reopen,ledger.day.close"; actions != want {
		t.Fatalf("audit %s", actions)
	}
	reopens, err := ledger.Reopens(d.ctx, d.pool, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
	if err != nil || len(reopens) != 2 || reopens[1].Closing.ClosedBy != alice {
		t.Fatalf("reopens %+v, %v", reopens, err)
	}
	verify(t, d.fx)
}

// The report of a closed day: a PDF that names the day, and a workbook
// whose per-gateway and per-agency figures are the day's.
func TestDayReportPDFAndXLSX(t *testing.T) {
	t.Parallel()
	d := newDayFx(t)
	sf := d.balancedDay0()
	if _, err := ledger.PostPayment(d.ctx, d.pool, ledger.Payment{Key: "p-ag", OrderID: uuid.New(), AttemptID: uuid.New(),
		Gateway: "vnpay", Channel: "card", Currency: "VND", EffectiveAt: at(9, 0), Now: at(9, 0),
		Shares: []ledger.Share{{AgencyCode: "AG-A", ServiceCode: "A-FEE", Amount: decimal.NewFromInt(200_000)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.DayReport(d.ctx, day0); !errors.Is(err, ledger.ErrDayNotClosed) {
		t.Fatalf("report of an open day: %v", err)
	}
	view, err := d.svc.DayView(d.ctx, day0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.CloseDay(d.ctx, day0, "treasury:staff:a@example.vn", "Đã đối soát"); err != nil {
		t.Fatal(err)
	}
	r, err := d.svc.DayReport(d.ctx, day0)
	if err != nil {
		t.Fatal(err)
	}
	var pdf bytes.Buffer
	if err := reconciliation.WriteDayReportPDF(&pdf, r, reconciliation.ReportVI); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF")) {
		t.Fatalf("not a PDF: %q", pdf.Bytes()[:min(16, pdf.Len())])
	}
	text, err := pdftest.Text(pdf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Báo cáo đối soát ngày 2026-11-23", "Đã đối soát", "AG-A", "vnpay"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF does not say %q:\n%s", want, text)
		}
	}

	var buf bytes.Buffer
	if err := reconciliation.WriteDayReportXLSX(&buf, r, reconciliation.ReportEN); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rows, err := x.GetRows("Per gateway")
	if err != nil || len(rows) != 2 {
		t.Fatalf("gateway sheet %q, %v", rows, err)
	}
	a := view.Agreements[0]
	want := []string{"vnpay", "VND", fmt.Sprint(a.Ours.Count), a.Ours.Amount.String(), fmt.Sprint(sf.Count), sf.Gross.String(),
		sf.Fees.String(), sf.Net.String(), sf.Net.String(), "TRUE"}
	if fmt.Sprint(rows[1]) != fmt.Sprint(want) {
		t.Errorf("gateway row %q, want %q", rows[1], want)
	}
	rows, err = x.GetRows("Per agency")
	if err != nil || len(rows) != 2 || fmt.Sprint(rows[1]) != fmt.Sprint([]string{"AG-A", "VND", "200000", "0", "0", "200000", "1"}) {
		t.Errorf("agency sheet %q, %v", rows, err)
	}
	rows, err = x.GetRows("Summary")
	if err != nil || len(rows) < 3 || fmt.Sprint(rows[1]) != fmt.Sprint([]string{"Business day", "2026-11-23"}) ||
		rows[2][1] != "treasury:staff:a@example.vn" {
		t.Errorf("summary sheet %q, %v", rows, err)
	}
}
