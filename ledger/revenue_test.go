package ledger

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
)

func revenueRows(t *testing.T, db DBTX, q RevenueQuery) []RevenueRow {
	t.Helper()
	var rows []RevenueRow
	if err := Revenue(bg, db, q, func(r RevenueRow) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return rows
}

// Revenue is read from the ledger: an agency's net revenue over [from, to)
// is its collected balance as of to minus as of from, plus what was
// transferred out to it meanwhile (a movement that is not revenue).
func TestRevenueEqualsLedgerBalances(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	seed := newSeed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	agencies := []string{"HCM-TP", "HN", "DN"}
	services := []string{"BIRTH-CERT", "STAMP", "FINE-7"}
	channels := []string{"card", "ewallet", "qr"}
	from := time.Date(2025, 3, 1, 0, 0, 0, 0, bizday.Zone)
	to := from.AddDate(0, 0, 7)
	transferred := map[string]decimal.Decimal{}
	var payments []Entry
	for i := range 120 {
		at := from.AddDate(0, 0, -3).Add(time.Duration(rng.IntN(13*24*3600)) * time.Second) // some outside the window
		key := fmt.Sprintf("e%d", i)
		var err error
		var e Entry
		switch r := rng.IntN(10); {
		case r < 6:
			p := Payment{Key: key, OrderID: uuid.New(), AttemptID: uuid.New(), Gateway: "vnpay", Channel: channels[rng.IntN(3)], Currency: "VND", EffectiveAt: at}
			for range 1 + rng.IntN(3) {
				p.Shares = append(p.Shares, Share{AgencyCode: agencies[rng.IntN(3)], ServiceCode: services[rng.IntN(3)], Amount: vnd(1000 + rng.Int64N(100000))})
			}
			e, err = PostPayment(bg, pool, p)
			payments = append(payments, e)
		case r < 8 && len(payments) > 0:
			paid := payments[rng.IntN(len(payments))]
			share := paid.Postings[1+rng.IntN(len(paid.Postings)-1)]
			agency, _ := agencyOf(share.Account)
			_, err = PostRefund(bg, pool, Refund{Key: key, OrderID: uuid.New(), RefundID: uuid.New(), Gateway: "vnpay", Channel: share.Channel, Currency: "VND",
				Shares: []Share{{AgencyCode: agency, ServiceCode: share.ServiceCode, Amount: share.Amount.Div(decimal.NewFromInt(2)).Floor()}}, EffectiveAt: at})
		case r < 9 && len(payments) > 0:
			_, err = Reverse(bg, pool, Reversal{Key: key, EntryID: payments[rng.IntN(len(payments))].ID, Reason: "test", EffectiveAt: at})
			if isErr(err, ErrAlreadyReversed) {
				err = nil
			}
		default:
			agency := agencies[rng.IntN(3)]
			amount := vnd(1 + rng.Int64N(500))
			_, err = PostTransfer(bg, pool, Transfer{Key: key, AgencyCode: agency, TreasuryAccount: "0011", Reference: key, Currency: "VND", Amount: amount, EffectiveAt: at})
			if !at.Before(from) && at.Before(to) {
				transferred[agency] = transferred[agency].Add(amount)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	byAgency := map[string]RevenueRow{}
	for _, r := range revenueRows(t, pool, RevenueQuery{From: from, To: to, GroupBy: []Dimension{ByAgency}}) {
		byAgency[r.Agency] = r
	}
	for _, agency := range agencies {
		opening, err := AccountBalance(bg, pool, AgencyCollected(agency), from)
		if err != nil {
			t.Fatal(err)
		}
		closing, err := AccountBalance(bg, pool, AgencyCollected(agency), to)
		if err != nil {
			t.Fatal(err)
		}
		r := byAgency[agency]
		want := closing.Balance.Sub(opening.Balance).Add(transferred[agency])
		if !r.Net.Equal(want) || !r.Gross.Sub(r.Refunds).Equal(r.Net) {
			t.Errorf("%s: revenue %+v; balance moved %s → %s with %s transferred out, so net should be %s",
				agency, r, opening.Balance, closing.Balance, transferred[agency], want)
		}
		if r.Postings == 0 {
			t.Errorf("%s: no revenue postings in the window", agency)
		}
	}
	// Any grouping adds up to the same totals, and one agency's query is its row.
	var all, detailed RevenueTotals
	for _, r := range byAgency {
		all.Add(r)
	}
	for _, r := range revenueRows(t, pool, RevenueQuery{From: from, To: to, GroupBy: []Dimension{ByDay, ByService, ByChannel, ByAgency}}) {
		detailed.Add(r)
	}
	if fmt.Sprint(all.Rows()) != fmt.Sprint(detailed.Rows()) {
		t.Errorf("totals by agency %v, by everything %v", all.Rows(), detailed.Rows())
	}
	own := revenueRows(t, pool, RevenueQuery{From: from, To: to, Agency: "HN"})
	if len(own) != 1 || !own[0].Net.Equal(byAgency["HN"].Net) || own[0].Agency != "" {
		t.Errorf("HN alone: %+v, want net %s", own, byAgency["HN"].Net)
	}
}

func TestRevenueBusinessDays(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	lastSecond := time.Date(2025, 3, 1, 16, 59, 59, 0, time.UTC) // 23:59:59 on 1 March in Hà Nội
	for i, at := range []time.Time{lastSecond, lastSecond.Add(time.Second), lastSecond.Add(2 * time.Second)} {
		p := payment(fmt.Sprint("p", i), "HN", "STAMP", 100)
		p.EffectiveAt = at
		if _, err := PostPayment(bg, pool, p); err != nil {
			t.Fatal(err)
		}
	}
	rows := revenueRows(t, pool, RevenueQuery{From: time.Date(2025, 3, 1, 0, 0, 0, 0, bizday.Zone), To: time.Date(2025, 3, 3, 0, 0, 0, 0, bizday.Zone), GroupBy: []Dimension{ByDay, ByChannel}})
	got := fmt.Sprint(rows)
	want := fmt.Sprint([]RevenueRow{
		{Day: "2025-03-01", Channel: "card", Currency: "VND", Gross: vnd(100), Refunds: vnd(0), Net: vnd(100), Postings: 1},
		{Day: "2025-03-02", Channel: "card", Currency: "VND", Gross: vnd(200), Refunds: vnd(0), Net: vnd(200), Postings: 2},
	})
	if got != want {
		t.Fatalf("by day:\n%s\nwant\n%s", got, want)
	}
	if err := Revenue(bg, pool, RevenueQuery{From: lastSecond, To: lastSecond}, func(RevenueRow) error { return nil }); !isErr(err, ErrInvalidEntry) {
		t.Fatalf("empty range: %v", err)
	}
}
