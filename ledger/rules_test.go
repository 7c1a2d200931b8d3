package ledger

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// leg is a posting in the compact form the rule tests compare.
func leg(p Posting) string {
	s := fmt.Sprintf("%s %s %s %s", p.Direction, p.Account, p.Amount, p.Currency)
	if p.ServiceCode != "" {
		s += " " + p.ServiceCode + "/" + p.Channel
	}
	return s
}

func TestPostingRules(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	order, attempt, refund := uuid.New(), uuid.New(), uuid.New()
	shares := []Share{{AgencyCode: "HCM-TP", ServiceCode: "BIRTH-CERT", Amount: vnd(30000)}, {AgencyCode: "HCM-Q1", ServiceCode: "STAMP", Amount: vnd(20000)}}
	tests := []struct {
		name string
		post func() (Entry, error)
		kind EntryKind
		want []string
	}{
		{"payment", func() (Entry, error) {
			return PostPayment(bg, pool, Payment{Key: "pay", OrderID: order, AttemptID: attempt, Gateway: "vnpay", Channel: "card", Currency: "VND", Shares: shares, EffectiveAt: t0})
		}, KindPayment, []string{
			"debit gateway:vnpay:clearing 50000 VND",
			"credit agency:HCM-TP:collected 30000 VND BIRTH-CERT/card",
			"credit agency:HCM-Q1:collected 20000 VND STAMP/card",
		}},
		{"refund", func() (Entry, error) {
			return PostRefund(bg, pool, Refund{Key: "refund", OrderID: order, RefundID: refund, Gateway: "vnpay", Channel: "card", Currency: "VND", Shares: shares[:1], EffectiveAt: t0})
		}, KindRefund, []string{
			"credit gateway:vnpay:clearing 30000 VND",
			"debit agency:HCM-TP:collected 30000 VND BIRTH-CERT/card",
		}},
		{"overpayment", func() (Entry, error) {
			return PostOverpayment(bg, pool, Overpayment{Key: "over", OrderID: order, AttemptID: refund, Gateway: "momo", Currency: "VND", Amount: vnd(50000), EffectiveAt: t0})
		}, KindOverpayment, []string{"debit gateway:momo:clearing 50000 VND", "credit overpayments 50000 VND"}},
		{"overpayment refund", func() (Entry, error) {
			return PostOverpaymentRefund(bg, pool, OverpaymentRefund{Key: "over-refund", OrderID: order, AttemptID: attempt, RefundID: refund, Gateway: "momo", Currency: "VND", Amount: vnd(50000), EffectiveAt: t0})
		}, KindOverpaymentRefund, []string{"debit overpayments 50000 VND", "credit gateway:momo:clearing 50000 VND"}},
		{"settlement", func() (Entry, error) {
			return PostSettlement(bg, pool, Settlement{Key: "settle", Gateway: "vnpay", TreasuryAccount: "0011", FileID: "F1", Currency: "VND", Gross: vnd(50000), Fees: vnd(1100), Net: vnd(48900), EffectiveAt: t0})
		}, KindSettlement, []string{"credit gateway:vnpay:clearing 50000 VND", "debit treasury:0011:bank 48900 VND", "debit gateway:vnpay:fees 1100 VND"}},
		{"settlement without fees", func() (Entry, error) {
			return PostSettlement(bg, pool, Settlement{Key: "settle-free", Gateway: "vnpay", TreasuryAccount: "0011", FileID: "F2", Currency: "VND", Gross: vnd(100), Net: vnd(100), EffectiveAt: t0})
		}, KindSettlement, []string{"credit gateway:vnpay:clearing 100 VND", "debit treasury:0011:bank 100 VND"}},
		{"transfer", func() (Entry, error) {
			return PostTransfer(bg, pool, Transfer{Key: "transfer", AgencyCode: "HCM-TP", TreasuryAccount: "0011", Reference: "FT123", Currency: "VND", Amount: vnd(10000), EffectiveAt: t0})
		}, KindTransfer, []string{"debit agency:HCM-TP:collected 10000 VND", "credit treasury:0011:bank 10000 VND"}},
		{"suspense", func() (Entry, error) {
			return PostSuspense(bg, pool, SuspenseCredit{Key: "suspense", TreasuryAccount: "0011", StatementRef: "L7", Currency: "VND", Amount: vnd(777), EffectiveAt: t0})
		}, KindSuspense, []string{"debit treasury:0011:bank 777 VND", "credit suspense 777 VND"}},
	}
	for _, tt := range tests {
		e, err := tt.post()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		stored, err := GetEntry(bg, pool, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range stored.Postings {
			got = append(got, leg(p))
		}
		if stored.Kind != tt.kind || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %s %q\nwant %s %q", tt.name, stored.Kind, got, tt.kind, tt.want)
		}
		if again, err := tt.post(); err != nil || again.ID != e.ID {
			t.Errorf("%s: replay gave entry %d, %v; want %d", tt.name, again.ID, err, e.ID)
		}
	}
	mustVerify(t, pool)
}

func TestPostingRulesReject(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	half := decimal.RequireFromString("1000.5")
	tests := []struct {
		name  string
		post  func() (Entry, error)
		field string
	}{
		{"fractional VND share", func() (Entry, error) {
			p := payment("p1", "A", "SVC-1", 0)
			p.Shares[0].Amount = half
			return PostPayment(bg, pool, p)
		}, "shares[0].amount"},
		{"no shares", func() (Entry, error) {
			p := payment("p2", "A", "SVC-1", 1000)
			p.Shares = nil
			return PostPayment(bg, pool, p)
		}, "shares"},
		{"bad gateway", func() (Entry, error) {
			p := payment("p3", "A", "SVC-1", 1000)
			p.Gateway = "vn:pay"
			return PostPayment(bg, pool, p)
		}, "gateway"},
		{"no channel", func() (Entry, error) {
			p := payment("p4", "A", "SVC-1", 1000)
			p.Channel = ""
			return PostPayment(bg, pool, p)
		}, "channel"},
		{"no attempt id", func() (Entry, error) {
			p := payment("p5", "A", "SVC-1", 1000)
			p.AttemptID = uuid.Nil
			return PostPayment(bg, pool, p)
		}, "reference"},
		{"bad agency", func() (Entry, error) {
			return PostRefund(bg, pool, Refund{Key: "r1", OrderID: uuid.New(), RefundID: uuid.New(), Gateway: "vnpay", Channel: "card", Currency: "VND",
				Shares: []Share{{AgencyCode: "", ServiceCode: "S1", Amount: vnd(1)}}, EffectiveAt: t0})
		}, "shares[0].agency_code"},
		{"fractional VND overpayment", func() (Entry, error) {
			return PostOverpayment(bg, pool, Overpayment{Key: "o1", OrderID: uuid.New(), AttemptID: uuid.New(), Gateway: "momo", Currency: "VND", Amount: half, EffectiveAt: t0})
		}, "amount"},
		{"settlement net plus fees is not gross", func() (Entry, error) {
			return PostSettlement(bg, pool, Settlement{Key: "s1", Gateway: "vnpay", TreasuryAccount: "0011", FileID: "F", Currency: "VND", Gross: vnd(100), Fees: vnd(2), Net: vnd(97), EffectiveAt: t0})
		}, "net"},
		{"negative fees", func() (Entry, error) {
			return PostSettlement(bg, pool, Settlement{Key: "s2", Gateway: "vnpay", TreasuryAccount: "0011", FileID: "F", Currency: "VND", Gross: vnd(100), Fees: vnd(-1), Net: vnd(101), EffectiveAt: t0})
		}, "net"},
		{"transfer currency", func() (Entry, error) {
			return PostTransfer(bg, pool, Transfer{Key: "t1", AgencyCode: "A", TreasuryAccount: "0011", Currency: "vnd", Amount: vnd(1), EffectiveAt: t0})
		}, "currency"},
		{"suspense account", func() (Entry, error) {
			return PostSuspense(bg, pool, SuspenseCredit{Key: "x1", TreasuryAccount: "a b", Currency: "VND", Amount: vnd(1), EffectiveAt: t0})
		}, "treasury_account"},
	}
	for _, tt := range tests {
		_, err := tt.post()
		ve, ok := err.(*ValidationError)
		if !ok || ve.Field != tt.field || !isErr(err, ErrInvalidEntry) {
			t.Errorf("%s: %v; want an invalid-entry error naming %q", tt.name, err, tt.field)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM ledger_entries`); n != 0 {
		t.Fatalf("%d entries recorded by refused rules", n)
	}
}
