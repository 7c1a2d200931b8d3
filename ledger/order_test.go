package ledger

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestOrderEntries: an order's entries are its payment, overpayment, refunds,
// the reversal of one of them and an entry naming the order alone, in
// recording order; another order's entries, and a reference that only
// starts like the order's, are not.
func TestOrderEntries(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	order, other := uuid.New(), uuid.New()
	attempt, second, refund, overRefund := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	shares := []Share{{AgencyCode: "HCM-TP", ServiceCode: "BIRTH-CERT", Amount: vnd(30000)}, {AgencyCode: "HCM-Q1", ServiceCode: "STAMP", Amount: vnd(20000)}}
	pay := func(key string, id uuid.UUID) Entry {
		e, err := PostPayment(bg, pool, Payment{Key: key, OrderID: id, AttemptID: uuid.New(), Gateway: "vnpay", Channel: "card",
			Currency: "VND", Shares: shares, EffectiveAt: t0})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	pay("other-before", other)
	paid, err := PostPayment(bg, pool, Payment{Key: "pay", OrderID: order, AttemptID: attempt, Gateway: "vnpay", Channel: "card",
		Currency: "VND", Shares: shares, EffectiveAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	over, err := PostOverpayment(bg, pool, Overpayment{Key: "over", OrderID: order, AttemptID: second, Gateway: "momo",
		Currency: "VND", Amount: vnd(50000), EffectiveAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	overBack, err := PostOverpaymentRefund(bg, pool, OverpaymentRefund{Key: "over-refund", OrderID: order, AttemptID: second,
		RefundID: overRefund, Gateway: "momo", Currency: "VND", Amount: vnd(50000), EffectiveAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	back, err := PostRefund(bg, pool, Refund{Key: "refund", OrderID: order, RefundID: refund, Gateway: "vnpay", Channel: "card",
		Currency: "VND", Shares: shares[:1], EffectiveAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	reversal, err := Reverse(bg, pool, Reversal{Key: "reverse-refund", EntryID: back.ID, Reason: "posted twice", RecordedBy: "treasury:t"})
	if err != nil {
		t.Fatal(err)
	}
	adjust := func(key, reference string) Entry {
		return mustPost(t, pool, NewEntry{Key: key, Kind: KindAdjustment, Reference: reference, Description: "adjust",
			EffectiveAt: t0, RecordedBy: "treasury:t", Postings: []Posting{
				{Account: "suspense", Currency: "VND", Direction: Debit, Amount: vnd(10)},
				{Account: "overpayments", Currency: "VND", Direction: Credit, Amount: vnd(10)}}})
	}
	named := adjust("adjust-order", OrderReference(order))
	adjust("adjust-lookalike", OrderReference(order)+"x")
	adjust("adjust-upper", strings.ToUpper(OrderReference(order)))
	pay("other-after", other)

	got, err := OrderEntries(bg, pool, order)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, e := range got {
		ids = append(ids, e.ID)
		if len(e.Postings) < 2 {
			t.Errorf("entry %d (%s) read with %d postings", e.ID, e.Kind, len(e.Postings))
		}
	}
	want := []int64{paid.ID, over.ID, overBack.ID, back.ID, reversal.ID, named.ID}
	if !slices.Equal(ids, want) {
		t.Errorf("order entries %v, want %v", ids, want)
	}
	if got[0].Kind != KindPayment || len(got[0].Postings) != 3 || got[4].Kind != KindReversal || got[4].Reverses != back.ID {
		t.Errorf("entries read as %+v", got)
	}
	if none, err := OrderEntries(bg, pool, uuid.New()); err != nil || len(none) != 0 {
		t.Errorf("an order without entries: %v, %v", none, err)
	}

	// The read is a range scan of the reference index, not a scan of the ledger.
	var plan strings.Builder
	tx, err := pool.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(bg) }()
	if _, err := tx.Exec(bg, `SET LOCAL enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(bg, `EXPLAIN `+orderEntriesSQL, OrderReference(order), OrderReference(order)+"0")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	// Each month's partition has its own copy of ledger_entries_reference_idx.
	if !regexp.MustCompile(`Index[A-Za-z ]* Scan on ledger_entries\S*reference\S*`).MatchString(plan.String()) ||
		strings.Contains(plan.String(), "Seq Scan") {
		t.Errorf("the order's entries are not read through the reference index:\n%s", plan.String())
	}
}
