package reconciliation_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// net is the signed sum (debits positive) of account's postings.
func (f *fx) net(account string) decimal.Decimal {
	f.t.Helper()
	var n decimal.Decimal
	if err := f.pool.QueryRow(f.ctx, `SELECT coalesce(sum(net), 0) FROM ledger_postings WHERE account_code = $1`, account).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// exceptionByKey is the exception whose key contains part (exactly one).
func (f *fx) exceptionByKey(part string) reconciliation.Exception {
	f.t.Helper()
	var id int64
	if err := f.pool.QueryRow(f.ctx, `SELECT id FROM recon_exceptions WHERE key LIKE '%' || $1 || '%'`, part).Scan(&id); err != nil {
		f.t.Fatalf("exception %q: %v", part, err)
	}
	e, err := f.svc.Exception(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

// inputCode is the code of err's InputError ("" when it is none).
func inputCode(err error) string {
	var ie *reconciliation.InputError
	if errors.As(err, &ie) {
		return ie.Field + ":" + ie.Code
	}
	return ""
}

// resolveTwiceAtOnce asks for req on exception id from two goroutines and
// requires exactly one to succeed, the other to be told it is resolved.
func (f *fx) resolveTwiceAtOnce(id int64, req reconciliation.ResolutionRequest) reconciliation.ResolutionOutcome {
	f.t.Helper()
	var wg sync.WaitGroup
	outs := make([]reconciliation.ResolutionOutcome, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = f.svc.RequestResolution(f.ctx, id, req, fmt.Sprintf("treasury:staff:t%d@example.vn", i))
		}()
	}
	wg.Wait()
	var won *reconciliation.ResolutionOutcome
	for i, err := range errs {
		switch {
		case err == nil && won == nil:
			won = &outs[i]
		case !errors.Is(err, reconciliation.ErrAlreadyResolved):
			f.t.Fatalf("resolution %d of two at once: %v (the other: %v)", i, err, errs[1-i])
		}
	}
	if won == nil {
		f.t.Fatalf("neither resolution went through: %v", errs)
	}
	return *won
}

// TestCreditMovedFromSuspenseToItsOrderPostsOnce: a credit that names no
// order sits in suspense; moved by hand to its order, it pays the order
// through the paid path and leaves suspense for the VietQR clearing account
// in one entry, however often and however concurrently it is asked; a later
// run of the day keeps it so, and raises nothing new.
func TestCreditMovedFromSuspenseToItsOrderPostsOnce(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	orderID, ref := f.order(40_000, false)
	f.load(camt053(t, day0, credit(40_000, at(10, 0), "CK NHAM NOI DUNG")))
	e := f.exceptionByKey("bank:")
	if e.Class != matcher.Unknown || e.LedgerEntryID == nil || !f.net(ledger.Suspense).Equal(decimal.NewFromInt(-40_000)) {
		t.Fatalf("credit not in suspense: %+v, suspense %s", e, f.net(ledger.Suspense))
	}
	if _, err := f.svc.RequestResolution(f.ctx, e.ID, reconciliation.ResolutionRequest{Kind: reconciliation.ResolveToOrder,
		Targets: []string{ref}}, "treasury:x"); inputCode(err) != "note:note_required" {
		t.Fatalf("without a note: %v", err)
	}
	if _, err := f.svc.RequestResolution(f.ctx, e.ID, reconciliation.ResolutionRequest{Kind: reconciliation.ResolveToOrder,
		Targets: []string{"VN00NOSUCHREF"}, Note: "n"}, "treasury:x"); inputCode(err) != "targets:target_unknown" {
		t.Fatalf("an unknown order: %v", err)
	}

	req := reconciliation.ResolutionRequest{Kind: reconciliation.ResolveToOrder, Targets: []string{strings.ToLower(ref)},
		Note: "the payer wrote the wrong reference; confirmed by phone"}
	out := f.resolveTwiceAtOnce(e.ID, req)
	if out.Resolution.Status != reconciliation.ResolutionPosted || len(out.Resolution.LedgerEntryIDs) != 1 ||
		out.Exception.Status != reconciliation.ExceptionResolved || out.Exception.Resolution != "moved_to_order" {
		t.Fatalf("outcome = %+v", out)
	}
	// Asked again later: told, nothing more.
	if _, err := f.svc.RequestResolution(f.ctx, e.ID, req, "treasury:y"); !errors.Is(err, reconciliation.ErrAlreadyResolved) {
		t.Fatalf("third request: %v", err)
	}
	if n := f.count(`SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1`, fmt.Sprintf("recon:resolve:%d:move", e.ID)); n != 1 ||
		f.rec.count() != 1 {
		t.Fatalf("%d entries, %d payments recorded; want 1 and 1", n, f.rec.count())
	}
	if f.count(`SELECT count(*) FROM orders WHERE id = $1 AND status = 'paid'`, orderID) != 1 {
		t.Fatal("the order is not paid")
	}
	if !f.net(ledger.Suspense).IsZero() || !f.net(ledger.GatewayClearing(matcher.VietQR)).Equal(decimal.NewFromInt(-40_000)) {
		t.Fatalf("suspense %s, VietQR clearing %s", f.net(ledger.Suspense), f.net(ledger.GatewayClearing(matcher.VietQR)))
	}
	if n := f.count(`SELECT count(*) FROM recon_resolutions WHERE exception_id = $1 AND status = 'posted'
		AND ledger_entry_ids = ARRAY[(SELECT id FROM ledger_entries WHERE idempotency_key = $2)]`, e.ID,
		fmt.Sprintf("recon:resolve:%d:move", e.ID)); n != 1 {
		t.Fatal("the resolution does not link its entry")
	}
	if n := f.count(`SELECT count(*) FROM audit_log WHERE action = 'reconciliation.resolution.post' AND resource_id = $1`,
		fmt.Sprint(e.ID)); n != 1 {
		t.Fatalf("%d audit rows", n)
	}
	// The day again: the transfer's attempt is not missing there, nothing is open.
	f.rerun(reconciliation.SourceBank)
	if n := f.count(`SELECT count(*) FROM recon_exceptions WHERE status = 'open'`); n != 0 {
		t.Fatalf("%d open exceptions after a rerun", n)
	}
	if n := f.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'suspense'`); n != 2 {
		t.Fatalf("%d suspense entries (the credit's and the move), want 2", n)
	}
	verify(t, f)
}

// TestLineMatchedToSeveralAttemptsPostsTheDifferenceOnce: one settlement
// line the gateway says pays two of our attempts (1:N); both are recorded
// paid, the line's extra goes from clearing to suspense as chosen, and a
// run of the day again finds neither attempt missing.
func TestLineMatchedToSeveralAttemptsPostsTheDifferenceOnce(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	const gw = statement.GatewayVNPAY
	a1, a2 := f.pending(gw, 100_000, at(9, 0)), f.pending(gw, 50_000, at(9, 5))
	batch := statement.SettlementLine{GatewayTxnID: "77000001", Reference: "GOP-2-DON", Type: statement.TypePayment,
		Gross: decimal.NewFromInt(160_000), Fee: decimal.NewFromInt(fee(gw, 160_000)),
		Net: decimal.NewFromInt(160_000 - fee(gw, 160_000)), Currency: "VND", At: at(9, 30)}
	data, _ := settlementFile(t, gw, 1, batch)
	f.load(data)
	e := f.exceptionByKey(gw + ":payment:77000001")
	if e.Class != matcher.Unknown {
		t.Fatalf("line = %+v", e)
	}
	req := reconciliation.ResolutionRequest{Kind: reconciliation.ResolveMatch, Targets: []string{a1.Ref, a2.ID.String()},
		Note: "the gateway merged two payments"}
	if _, err := f.svc.RequestResolution(f.ctx, e.ID, req, "treasury:x"); inputCode(err) != "difference:difference_required" {
		t.Fatalf("a difference with nowhere to go: %v", err)
	}
	req.Difference = reconciliation.DifferenceSuspense
	out := f.resolveTwiceAtOnce(e.ID, req)
	if !out.Resolution.Difference.Equal(decimal.NewFromInt(10_000)) || len(out.Resolution.LedgerEntryIDs) != 1 {
		t.Fatalf("resolution = %+v", out.Resolution)
	}
	entry, err := ledger.GetEntry(f.ctx, f.pool, out.Resolution.LedgerEntryIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ledger.GatewayClearing(gw) + " debit": "10000", ledger.Suspense + " credit": "10000"}
	if len(entry.Postings) != 2 {
		t.Fatalf("postings %+v", entry.Postings)
	}
	for _, p := range entry.Postings {
		if want[p.Account+" "+string(p.Direction)] != p.Amount.String() {
			t.Errorf("posting %s %s %s", p.Account, p.Direction, p.Amount)
		}
	}
	if f.rec.count() != 2 || f.count(`SELECT count(*) FROM payment_attempts WHERE id IN ($1, $2) AND status = 'succeeded'`, a1.ID, a2.ID) != 2 {
		t.Fatalf("recorded %d", f.rec.count())
	}
	f.rerun(gw)
	if n := f.count(`SELECT count(*) FROM recon_exceptions WHERE status = 'open'`); n != 0 {
		t.Fatalf("%d open exceptions after a rerun", n)
	}
	if n := f.count(`SELECT count(*) FROM recon_exceptions WHERE status = 'resolved' AND resolution = 'matched_manually'
		AND key IN ($1, $2)`, gw+":attempt:"+a1.ID.String(), gw+":attempt:"+a2.ID.String()); n != 2 {
		t.Fatalf("the attempts' side is resolved %d times, want 2", n)
	}
	if f.rec.count() != 2 || f.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'adjustment'`) != 1 {
		t.Fatal("the rerun recorded or posted again")
	}
	verify(t, f)
}

// limitPair is a fixture with a write-off limit of 5,000 VND that has loaded
// gw's file of two payments of ours (amounts, paid at 9:00 and 9:10) whose
// lines shift moves off ours by deltas: the small payment's within the
// limit, the big one's over it.
func limitPair(t *testing.T, gw string, amounts, deltas [2]int64,
	shift func(l *statement.SettlementLine, d decimal.Decimal)) (f *fx, small, big attempt) {
	t.Helper()
	f = newFx(t, func(c *reconciliation.Config) { c.WriteOffLimit = decimal.NewFromInt(5_000) })
	small, big = f.paid(gw, amounts[0], at(9, 0)), f.paid(gw, amounts[1], at(9, 10))
	ls, lb := line(small), line(big)
	shift(&ls, decimal.NewFromInt(deltas[0]))
	shift(&lb, decimal.NewFromInt(deltas[1]))
	data, _ := settlementFile(t, gw, 1, ls, lb)
	f.load(data)
	return f, small, big
}

// TestWriteOffStaysWithinTheLimit: a line whose gross differs from the
// attempt's is written off only within the configured limit.
func TestWriteOffStaysWithinTheLimit(t *testing.T) {
	t.Parallel()
	const gw = statement.GatewayMoMo
	f, small, big := limitPair(t, gw, [2]int64{60_000, 70_000}, [2]int64{5_000, -5_001},
		func(l *statement.SettlementLine, d decimal.Decimal) { l.Gross, l.Net = l.Gross.Add(d), l.Net.Add(d) })
	req := reconciliation.ResolutionRequest{Kind: reconciliation.ResolveWriteOff, Note: "rounding at the gateway"}
	if _, err := f.svc.RequestResolution(f.ctx, f.exceptionByKey(gw+":payment:"+big.Txn).ID, req, "treasury:x"); inputCode(err) !=
		"difference:write_off_limit" {
		t.Fatalf("5001 over a 5000 limit: %v", err)
	}
	out, err := f.svc.RequestResolution(f.ctx, f.exceptionByKey(gw+":payment:"+small.Txn).ID, req, "treasury:x")
	if err != nil {
		t.Fatal(err)
	}
	if out.Exception.Resolution != "written_off" || len(out.Resolution.LedgerEntryIDs) != 1 ||
		!f.net(reconciliation.WriteOffAccount).Equal(decimal.NewFromInt(-5_000)) ||
		!f.net(ledger.GatewayClearing(gw)).Equal(decimal.NewFromInt(5_000)) || f.rec.count() != 0 {
		t.Fatalf("write-off %+v: write-offs %s, clearing %s", out, f.net(reconciliation.WriteOffAccount), f.net(ledger.GatewayClearing(gw)))
	}
	verify(t, f)
}

// TestSettlementFeeDifferenceAcceptedIsPostedAndKept: the bank paid less
// than the file's net; accepting the gateway's fee posts the settlement
// with the credit as paid, under the settlement's own key, and runs of
// either side afterwards keep it.
func TestSettlementFeeDifferenceAcceptedIsPostedAndKept(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	const gw = statement.GatewayZaloPay
	a := f.paid(gw, 300_000, at(9, 0))
	data, sf := settlementFile(t, gw, 1, line(a))
	f.load(data)
	next := day0.AddDate(0, 0, 1)
	paid := sf.Net.Sub(decimal.NewFromInt(1_100))
	f.load(camt053(t, next, credit(paid.IntPart(), next, "ZALOPAY QUYET TOAN "+sf.FileID)))
	e := f.exceptionByKey("settlement:" + gw)
	if e.Class != matcher.AmountMismatch {
		t.Fatalf("settlement exception %+v", e)
	}
	if _, err := f.svc.RequestResolution(f.ctx, e.ID, reconciliation.ResolutionRequest{Kind: reconciliation.ResolveRefundSender,
		Note: "n"}, "treasury:x"); inputCode(err) != "kind:not_applicable" {
		t.Fatalf("refund of a settlement: %v", err)
	}
	out := f.resolveTwiceAtOnce(e.ID, reconciliation.ResolutionRequest{Kind: reconciliation.ResolveAcceptFee,
		Note: "ZaloPay's new fee from November, per their letter"})
	entry, err := ledger.GetEntry(f.ctx, f.pool, out.Resolution.LedgerEntryIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ledger.TreasuryBank(account): paid.String(), ledger.GatewayFees(gw): sf.Gross.Sub(paid).String(),
		ledger.GatewayClearing(gw): sf.Gross.String()}
	if entry.Key != "recon:settlement:"+gw+":2026-11-23" || entry.Kind != ledger.KindSettlement || len(entry.Postings) != 3 {
		t.Fatalf("entry %+v", entry)
	}
	for _, p := range entry.Postings {
		if want[p.Account] != p.Amount.String() {
			t.Errorf("posting %s %s %s, want %s", p.Account, p.Direction, p.Amount, want[p.Account])
		}
	}
	f.rerun(gw)
	f.rerunDay(reconciliation.SourceBank, next)
	st := f.lastRun(gw, day0).Settlement
	if st == nil || st.Status != reconciliation.SettlementMatched || st.MatchedBy != reconciliation.MatchedByHand ||
		st.LedgerEntryID == nil || *st.LedgerEntryID != entry.ID {
		t.Fatalf("settlement after reruns %+v", st)
	}
	if n := f.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'settlement'`); n != 1 {
		t.Fatalf("%d settlement entries", n)
	}
	if x, _ := f.svc.Exception(f.ctx, e.ID); x.Status != reconciliation.ExceptionResolved {
		t.Fatalf("exception after reruns: %s", x.Status)
	}
	verify(t, f)
}

// TestCreditMatchedToSeveralSettlements: one bank credit pays two gateways'
// days (1:N): each settlement is posted, the credit leaves suspense, the
// overdue settlements' exceptions are resolved with it.
func TestCreditMatchedToSeveralSettlements(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	v, m := f.paid(statement.GatewayVNPAY, 500_000, at(9, 0)), f.paid(statement.GatewayMoMo, 200_000, at(9, 0))
	vf, vs := settlementFile(t, statement.GatewayVNPAY, 1, line(v))
	mf, ms := settlementFile(t, statement.GatewayMoMo, 1, line(m))
	f.load(vf)
	f.load(mf)
	next := day0.AddDate(0, 0, 1)
	both := vs.Net.Add(ms.Net)
	f.load(camt053(t, next, credit(both.IntPart()-500, next, "CHUYEN TIEN GOP")))
	credit := f.exceptionByKey("bank:")
	if credit.Class != matcher.Unknown || f.count(`SELECT count(*) FROM recon_exceptions WHERE key LIKE 'settlement:%' AND status = 'open'`) != 2 {
		t.Fatalf("credit %+v; settlements not overdue", credit)
	}
	req := reconciliation.ResolutionRequest{Kind: reconciliation.ResolveMatch, Difference: reconciliation.DifferenceFee,
		Targets: []string{"vnpay:2026-11-23", "momo:2026-11-23"}, Note: "one transfer for both; the bank kept 500"}
	if _, err := f.svc.RequestResolution(f.ctx, credit.ID, reconciliation.ResolutionRequest{Kind: reconciliation.ResolveMatch,
		Targets: []string{"vnpay:2026-11-24"}, Note: "n"}, "treasury:x"); inputCode(err) != "targets:target_invalid" {
		t.Fatalf("a day without a file: %v", err)
	}
	out := f.resolveTwiceAtOnce(credit.ID, req)
	if len(out.Resolution.LedgerEntryIDs) != 3 || !out.Resolution.Difference.Equal(decimal.NewFromInt(-500)) {
		t.Fatalf("resolution %+v", out.Resolution)
	}
	if !f.net(ledger.Suspense).IsZero() || !f.net(ledger.TreasuryBank(account)).Equal(both.Sub(decimal.NewFromInt(500))) ||
		!f.net(ledger.GatewayFees(statement.GatewayVNPAY)).Equal(vs.Fees.Add(decimal.NewFromInt(500))) {
		t.Fatalf("suspense %s, bank %s, vnpay fees %s", f.net(ledger.Suspense), f.net(ledger.TreasuryBank(account)),
			f.net(ledger.GatewayFees(statement.GatewayVNPAY)))
	}
	if n := f.count(`SELECT count(*) FROM recon_exceptions WHERE key LIKE 'settlement:%' AND status = 'resolved'`); n != 2 {
		t.Fatalf("%d settlement exceptions resolved with the credit", n)
	}
	f.rerun(statement.GatewayVNPAY)
	f.rerun(statement.GatewayMoMo)
	f.rerunDay(reconciliation.SourceBank, next)
	if n := f.count(`SELECT count(*) FROM recon_exceptions WHERE status = 'open'`); n != 0 {
		t.Fatalf("%d open exceptions after reruns", n)
	}
	if n := f.count(`SELECT count(*) FROM ledger_entries WHERE kind = 'settlement'`); n != 2 {
		t.Fatalf("%d settlement entries", n)
	}
	verify(t, f)
}

// TestResolutionAboveTheAmountWaitsForASecondApprover: four eyes. The
// requester cannot approve; two approvers at once post once; a rejected
// request leaves the exception open for another.
func TestResolutionAboveTheAmountWaitsForASecondApprover(t *testing.T) {
	t.Parallel()
	f := newFx(t, func(c *reconciliation.Config) { c.ApprovalAmount = decimal.NewFromInt(100_000) })
	_, ref := f.order(150_000, false)
	_, ref2 := f.order(120_000, false)
	f.load(camt053(t, day0, credit(150_000, at(10, 0), "CK A"), credit(120_000, at(10, 5), "CK B")))
	var ids []int64
	for _, r := range f.exceptions(f.lastRun(reconciliation.SourceBank, day0).ID) {
		ids = append(ids, r.Exception.ID)
	}
	if len(ids) != 2 {
		t.Fatalf("exceptions %v", ids)
	}
	req := reconciliation.ResolutionRequest{Kind: reconciliation.ResolveToOrder, Targets: []string{ref}, Note: "checked"}
	out, err := f.svc.RequestResolution(f.ctx, ids[0], req, "treasury:a")
	if err != nil {
		t.Fatal(err)
	}
	if out.Resolution.Status != reconciliation.ResolutionPending || out.Exception.State("2026-11-23") != reconciliation.StatePendingApproval ||
		f.rec.count() != 0 || f.count(`SELECT count(*) FROM ledger_entries WHERE idempotency_key LIKE 'recon:resolve:%'`) != 0 {
		t.Fatalf("pending = %+v, recorded %d", out, f.rec.count())
	}
	resID := out.Resolution.ID
	if _, err := f.svc.Resolve(f.ctx, ids[0], "not_an_error", "meanwhile", "treasury:c"); !errors.Is(err, reconciliation.ErrPendingApproval) {
		t.Fatalf("plain resolve of a pending one: %v", err)
	}
	if _, err := f.svc.RequestResolution(f.ctx, ids[0], reconciliation.ResolutionRequest{Kind: reconciliation.ResolveRefundSender,
		Note: "x"}, "treasury:c"); !errors.Is(err, reconciliation.ErrPendingApproval) {
		t.Fatalf("a second request: %v", err)
	}
	if _, err := f.svc.ApproveResolution(f.ctx, resID, "treasury:a", ""); !errors.Is(err, reconciliation.ErrOwnRequest) {
		t.Fatalf("own approval: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, who := range []string{"treasury:b", "treasury:c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.ApproveResolution(f.ctx, resID, who, "seen the bank's advice")
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, reconciliation.ErrNotPending) {
			t.Fatalf("approval: %v", err)
		}
	}
	if ok != 1 || f.rec.count() != 1 || f.count(`SELECT count(*) FROM ledger_entries WHERE idempotency_key LIKE 'recon:resolve:%'`) != 1 {
		t.Fatalf("approvals %d, recorded %d", ok, f.rec.count())
	}
	if n := f.count(`SELECT count(*) FROM recon_resolutions WHERE id = $1 AND status = 'posted' AND decided_by IN ('treasury:b', 'treasury:c')
		AND requested_by = 'treasury:a'`, resID); n != 1 {
		t.Fatal("the posted resolution does not say who asked and who approved")
	}
	if n := f.count(`SELECT count(*) FROM audit_log WHERE action IN ('reconciliation.resolution.request', 'reconciliation.resolution.approve')`); n != 2 {
		t.Fatalf("%d audit rows", n)
	}

	// The second: asked, withdrawn by its requester, asked again.
	out, err = f.svc.RequestResolution(f.ctx, ids[1], reconciliation.ResolutionRequest{Kind: reconciliation.ResolveToOrder,
		Targets: []string{ref2}, Note: "checked"}, "treasury:a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RejectResolution(f.ctx, out.Resolution.ID, "treasury:a", "wrong order"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ApproveResolution(f.ctx, out.Resolution.ID, "treasury:b", ""); !errors.Is(err, reconciliation.ErrNotPending) {
		t.Fatalf("approving a rejected one: %v", err)
	}
	again, err := f.svc.RequestResolution(f.ctx, ids[1], reconciliation.ResolutionRequest{Kind: reconciliation.ResolveRefundSender,
		Note: "returned to the sender"}, "treasury:a")
	if err != nil || again.Resolution.Status != reconciliation.ResolutionPending {
		t.Fatalf("after a rejection: %+v %v", again, err)
	}
	// A run clears the exception meanwhile (it no longer sees it): the
	// approval is moot, says so, posts nothing, and closes the request.
	f.exec(`UPDATE recon_exceptions SET status = 'cleared' WHERE id = $1`, ids[1])
	if _, err := f.svc.ApproveResolution(f.ctx, again.Resolution.ID, "treasury:b", ""); !errors.Is(err, reconciliation.ErrAlreadyResolved) {
		t.Fatalf("approving for a cleared exception: %v", err)
	}
	if n := f.count(`SELECT count(*) FROM recon_resolutions WHERE exception_id = $1 AND status = 'rejected'`, ids[1]); n != 2 ||
		f.count(`SELECT count(*) FROM recon_exceptions WHERE id = $1 AND pending_resolution_id IS NULL`, ids[1]) != 1 ||
		f.count(`SELECT count(*) FROM ledger_entries WHERE idempotency_key LIKE 'recon:resolve:%'`) != 1 {
		t.Fatal("a moot approval left the request pending or posted")
	}
	verify(t, f)
}

// TestRefundToTheSenderLeavesSuspenseForTheBank: the credit goes back out
// of the treasury account as a transfer whose reference the bank's debit
// will carry; the credit's day is closed meanwhile, and the refund takes
// effect in an open day.
func TestRefundToTheSenderLeavesSuspenseForTheBank(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	f.load(camt053(t, day0, credit(33_000, at(10, 0), "CK NHAM TAI KHOAN")))
	e := f.exceptionByKey("bank:")
	f.exec(`INSERT INTO ledger_closed_days (day, closed_by, note) VALUES ($1, 'test', 'carried forward')`, day0.Format(time.DateOnly))
	out, err := f.svc.RequestResolution(f.ctx, e.ID, reconciliation.ResolutionRequest{Kind: reconciliation.ResolveRefundSender,
		Note: "not ours; the sender asked for it back"}, "treasury:x")
	if err != nil {
		t.Fatal(err)
	}
	entry, err := ledger.GetEntry(f.ctx, f.pool, out.Resolution.LedgerEntryIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if entry.Kind != ledger.KindTransfer || entry.Reference != "transfer:"+reconciliation.RefundReference(e.ID) ||
		!ledger.DayOf(entry.EffectiveAt).After(ledger.DayOf(day0)) ||
		!f.net(ledger.Suspense).IsZero() || !f.net(ledger.TreasuryBank(account)).IsZero() {
		t.Fatalf("refund entry %+v; suspense %s, bank %s", entry, f.net(ledger.Suspense), f.net(ledger.TreasuryBank(account)))
	}
	verify(t, f)
}

// TestDuplicateLineGoesToSuspense: a line the gateway settled twice pays
// nothing of ours; matched to nothing, its gross leaves the gateway's
// clearing account for suspense (to be claimed back), once.
func TestDuplicateLineGoesToSuspense(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	const gw = statement.GatewayVNPAY
	a := f.paid(gw, 80_000, at(9, 0))
	data, _ := settlementFile(t, gw, 1, line(a), line(a))
	f.load(data)
	e := f.exceptionByKey(gw + ":payment:" + a.Txn + ":2")
	if e.Class != matcher.Duplicate || len(e.Kinds()) != 1 || e.Kinds()[0] != reconciliation.ResolveMatch {
		t.Fatalf("duplicate %+v, kinds %v", e, e.Kinds())
	}
	if _, err := f.svc.RequestResolution(f.ctx, e.ID, reconciliation.ResolutionRequest{Kind: reconciliation.ResolveWriteOff,
		Note: "n"}, "treasury:x"); inputCode(err) != "kind:not_applicable" {
		t.Fatalf("write-off of a duplicate: %v", err)
	}
	out := f.resolveTwiceAtOnce(e.ID, reconciliation.ResolutionRequest{Kind: reconciliation.ResolveMatch,
		Difference: reconciliation.DifferenceSuspense, Note: "VNPAY settled it twice; claim it back"})
	if !out.Resolution.Difference.Equal(decimal.NewFromInt(80_000)) || f.rec.count() != 0 ||
		!f.net(ledger.Suspense).Equal(decimal.NewFromInt(-80_000)) || !f.net(ledger.GatewayClearing(gw)).Equal(decimal.NewFromInt(80_000)) {
		t.Fatalf("resolution %+v: suspense %s, clearing %s", out.Resolution, f.net(ledger.Suspense), f.net(ledger.GatewayClearing(gw)))
	}
	verify(t, f)
}

// TestFeeDifferenceWrittenOffIsPostedWithinTheLimit: a line whose gross
// agrees and whose fee is over the contract (an amount mismatch of the fee
// alone) is written off within the limit only, and the write-off moves the
// fee difference from the gateway's fees to the write-off account in one
// entry, linked from the resolution, however often and however concurrently
// it is asked. A person cannot record "written_off" without posting it
// either: the record-only resolution refuses it where a write-off posts.
func TestFeeDifferenceWrittenOffIsPostedWithinTheLimit(t *testing.T) {
	t.Parallel()
	const gw = statement.GatewayVNPAY
	f, small, big := limitPair(t, gw, [2]int64{220_000, 230_000}, [2]int64{1_000, 5_001},
		func(l *statement.SettlementLine, d decimal.Decimal) { l.Fee, l.Net = l.Fee.Add(d), l.Net.Sub(d) })
	smallE, bigE := f.exceptionByKey(gw+":payment:"+small.Txn), f.exceptionByKey(gw+":payment:"+big.Txn)
	if smallE.Class != matcher.AmountMismatch || bigE.Class != matcher.AmountMismatch {
		t.Fatalf("fee differences: %s and %s", smallE.Class, bigE.Class)
	}
	req := reconciliation.ResolutionRequest{Kind: reconciliation.ResolveWriteOff, Note: "VNPAY's fee over the contract"}
	if _, err := f.svc.RequestResolution(f.ctx, bigE.ID, req, "treasury:x"); inputCode(err) != "difference:write_off_limit" {
		t.Fatalf("a fee 5001 over the contract, 5000 limit: %v", err)
	}
	if _, err := f.svc.Resolve(f.ctx, bigE.ID, "written_off", "recorded only", "treasury:x"); inputCode(err) != "resolution:resolution_posts" {
		t.Fatalf("written off by record only: %v", err)
	}
	out := f.resolveTwiceAtOnce(smallE.ID, req)
	if out.Exception.Resolution != "written_off" || out.Resolution.Status != reconciliation.ResolutionPosted ||
		len(out.Resolution.LedgerEntryIDs) != 1 || !out.Resolution.Difference.Equal(decimal.NewFromInt(1_000)) {
		t.Fatalf("write-off %+v", out)
	}
	if _, err := f.svc.RequestResolution(f.ctx, smallE.ID, req, "treasury:y"); !errors.Is(err, reconciliation.ErrAlreadyResolved) {
		t.Fatalf("asked again: %v", err)
	}
	entry, err := ledger.GetEntry(f.ctx, f.pool, out.Resolution.LedgerEntryIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{reconciliation.WriteOffAccount + " debit": "1000", ledger.GatewayFees(gw) + " credit": "1000"}
	if len(entry.Postings) != 2 {
		t.Fatalf("postings %+v", entry.Postings)
	}
	for _, p := range entry.Postings {
		if want[p.Account+" "+string(p.Direction)] != p.Amount.String() {
			t.Errorf("posting %s %s %s", p.Account, p.Direction, p.Amount)
		}
	}
	if n := f.count(`SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1`, fmt.Sprintf("recon:resolve:%d:difference", smallE.ID)); n != 1 {
		t.Fatalf("%d write-off entries", n)
	}
	if n := f.count(`SELECT count(*) FROM audit_log WHERE action = 'reconciliation.resolution.post' AND resource_id = $1`,
		fmt.Sprint(smallE.ID)); n != 1 {
		t.Fatalf("%d audit rows", n)
	}
	if f.rec.count() != 0 || !f.net(ledger.GatewayClearing(gw)).IsZero() {
		t.Fatalf("recorded %d, clearing %s", f.rec.count(), f.net(ledger.GatewayClearing(gw)))
	}
	verify(t, f)
}

// TestMovedCreditCountsOnTheBankSideOfVietQR: a credit naming no order,
// moved from suspense to the order it pays, is that order's VietQR payment
// on the bank's side of the day's "both sides agree" check, as a credit
// naming the order would be; one moved to two orders counts for both.
func TestMovedCreditCountsOnTheBankSideOfVietQR(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	_, ref := f.order(40_000, false)
	_, ref2 := f.order(25_000, false)
	_, ref3 := f.order(35_000, false)
	f.load(camt053(t, day0, credit(40_000, at(10, 0), "CK NHAM NOI DUNG"), credit(60_000, at(11, 0), "HAI DON")))
	var ids []int64
	rows, err := f.pool.Query(f.ctx, `SELECT id FROM recon_exceptions WHERE key LIKE 'bank:%' ORDER BY amount_there`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if rows.Close(); len(ids) != 2 {
		t.Fatalf("credits in suspense: %v", ids)
	}
	for i, targets := range [][]string{{ref}, {ref2, ref3}} {
		if _, err := f.svc.RequestResolution(f.ctx, ids[i], reconciliation.ResolutionRequest{Kind: reconciliation.ResolveToOrder,
			Targets: targets, Note: "the payer forgot the reference"}, "treasury:x"); err != nil {
			t.Fatal(err)
		}
	}
	dv, err := f.svc.DayView(f.ctx, day0)
	if err != nil {
		t.Fatal(err)
	}
	var qr *reconciliation.Agreement
	for i := range dv.Agreements {
		if dv.Agreements[i].Gateway == matcher.VietQR {
			qr = &dv.Agreements[i]
		}
	}
	if qr == nil || qr.Ours.Count != 3 || !qr.Ours.Amount.Equal(decimal.NewFromInt(100_000)) || qr.Bank == nil ||
		qr.Bank.Count != 3 || !qr.Bank.Amount.Equal(decimal.NewFromInt(100_000)) || !qr.Agree {
		t.Fatalf("VietQR's agreement after moving the credits: %+v", qr)
	}
}
