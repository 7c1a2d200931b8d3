package ledger

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestBalances(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	day := func(d int) time.Time { return t0.AddDate(0, 0, d) }
	post := func(key string, at time.Time, debit, credit string, amount int64) {
		e := pair(key, debit, credit, amount)
		e.EffectiveAt = at
		mustPost(t, pool, e)
	}
	post("p1", day(0), "gateway:vnpay:clearing", "agency:A:collected", 1000)
	post("p2", day(1), "gateway:momo:clearing", "agency:A:collected", 500)
	post("p3", day(2), "gateway:vnpay:clearing", "agency:B:collected", 300)
	post("s1", day(3), "treasury:0011:bank", "gateway:vnpay:clearing", 1300)

	tests := []struct {
		code string
		asOf time.Time
		want int64 // on the normal side
	}{
		{"agency:A:collected", time.Time{}, 1500},
		{"agency:A:collected", day(1), 1000}, // as of is exclusive: p2 is effective at day(1)
		{"agency:A:collected", day(1).Add(time.Microsecond), 1500},
		{"gateway:vnpay:clearing", time.Time{}, 0},
		{"gateway:vnpay:clearing", day(3), 1300},
		{"treasury:0011:bank", time.Time{}, 1300},
		{"treasury:0011:bank", day(-1), 0},
	}
	check := func(stage string) {
		t.Helper()
		for _, tt := range tests {
			b, err := AccountBalance(bg, pool, tt.code, tt.asOf)
			if err != nil || !b.Balance.Equal(vnd(tt.want)) {
				t.Errorf("%s: balance of %s as of %v = %s, %v; want %d", stage, tt.code, tt.asOf, b.Balance, err, tt.want)
			}
		}
	}
	check("from postings")
	if n := snapshotAll(t, pool); n != 5 {
		t.Fatalf("snapshotted %d accounts, want 5", n)
	}
	check("from snapshots")
	post("p4", day(4), "gateway:momo:clearing", "agency:A:collected", 7)
	tests[0].want = 1507
	check("snapshot plus later postings")
	if n := snapshotAll(t, pool); n != 2 {
		t.Fatalf("second snapshot took %d accounts, want the 2 that moved", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM ledger_balance_snapshots`); n != 5 {
		t.Fatalf("%d snapshots kept, want one per account", n)
	}
	check("from new snapshots")

	if _, err := AccountBalance(bg, pool, "agency:Z:collected", time.Time{}); !isErr(err, ErrAccountNotFound) {
		t.Errorf("unknown account: %v", err)
	}
	bs, err := Balances(bg, pool, "gateway:*:clearing", time.Time{})
	if err != nil || len(bs) != 2 || bs[0].Account != "gateway:momo:clearing" || !bs[0].Balance.Equal(vnd(507)) || !bs[1].Balance.IsZero() {
		t.Fatalf("clearing balances %+v, %v", bs, err)
	}
	all, err := Balances(bg, pool, "*", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if totals := Summarize(all); len(totals) != 1 || !totals[0].Net.IsZero() {
		t.Fatalf("trial balance %+v", totals)
	}
	mustVerify(t, pool)
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	got := Summarize([]Balance{
		{Currency: "VND", Net: vnd(5)}, {Currency: "USD", Net: decimal.RequireFromString("1.5")}, {Currency: "VND", Net: vnd(-2)},
	})
	if fmt.Sprint(got) != "[{USD 1.5} {VND 3}]" {
		t.Fatalf("Summarize = %v", got)
	}
}
