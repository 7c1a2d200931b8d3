package ledger

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// An as-of balance reads the nearer half of its business day: before noon
// the checkpoint before the day plus the postings from midnight to the
// instant, from noon the checkpoint of the day's end minus the postings from
// the instant to the next midnight (balance.go). Both must equal the full
// scan at any instant: either side of noon and of midnight by a microsecond,
// at a posting's own instant (a posting at the instant is not in the balance
// as of it), on days with and without postings, with part of the postings
// rolled into the checkpoints and the rest above the horizon (among them
// some effective on days already checkpointed).
func TestAsOfBalanceEqualsFullScanEitherSideOfNoon(t *testing.T) {
	t.Parallel()
	pool, seed := seededBooks(t)
	rng := rand.New(rand.NewPCG(seed, 41))
	first := rollupDays.AddDate(0, 0, 5)
	const days = 4
	clocks := []time.Duration{0, 6 * time.Hour, 12*time.Hour - time.Microsecond, 12 * time.Hour,
		12*time.Hour + time.Microsecond, 18*time.Hour + 30*time.Minute, 24*time.Hour - time.Microsecond}
	var instants []time.Time
	for d := range days {
		if d == 2 {
			continue // a day without postings
		}
		for _, c := range clocks {
			instants = append(instants, first.AddDate(0, 0, d).Add(c))
		}
	}
	rng.Shuffle(len(instants), func(i, j int) { instants[i], instants[j] = instants[j], instants[i] })
	n := 0
	post := func(at time.Time) {
		n++
		agency := []string{"A", "B"}[rng.IntN(2)]
		amount := decimal.NewFromInt(1 + rng.Int64N(1_000_000))
		mustPost(t, pool, NewEntry{Key: fmt.Sprintf("asof-%d", n), Kind: KindAdjustment, Description: "as-of", EffectiveAt: at,
			Postings: []Posting{
				{Account: GatewayClearing("vnpay"), Direction: Debit, Amount: amount, Currency: "VND"},
				{Account: AgencyCollected(agency), Direction: Credit, Amount: amount, Currency: "VND"},
			}})
	}
	half := len(instants) / 2
	for _, at := range instants[:half] {
		post(at)
	}
	rollUpAll(t, pool)
	for _, at := range instants[half:] { // above the horizon: not in the checkpoints
		post(at)
	}
	if tail := count(t, pool, `SELECT count(*) FROM ledger_postings WHERE xid >= (SELECT up_to_xid FROM ledger_rollup_horizon)`); tail == 0 {
		t.Fatal("no postings above the horizon: the test would not read the tail")
	}

	var checks []time.Time
	for d := -1; d <= days; d++ {
		day := first.AddDate(0, 0, d)
		for _, c := range []time.Duration{0, time.Microsecond, 12*time.Hour - time.Microsecond, 12 * time.Hour,
			12*time.Hour + time.Microsecond, 24*time.Hour - time.Microsecond} {
			checks = append(checks, day.Add(c))
		}
	}
	for _, at := range instants {
		checks = append(checks, at.Add(-time.Microsecond), at, at.Add(time.Microsecond))
	}
	for range 40 {
		checks = append(checks, first.Add(time.Duration(rng.Int64N(int64(days*24*time.Hour)))))
	}
	accounts := []string{GatewayClearing("vnpay"), AgencyCollected("A"), AgencyCollected("B"), AgencyCollected("C_1")}
	fromNoon := 0
	for _, at := range checks {
		day := DayOf(at)
		if DayStart(day.AddDate(0, 0, 1)).Sub(at) <= at.Sub(DayStart(day)) {
			fromNoon++
		}
		all, err := Balances(bg, pool, "*", at)
		if err != nil {
			t.Fatal(err)
		}
		byCode := map[string]Balance{}
		for _, b := range all {
			byCode[b.Account] = b
		}
		for _, code := range accounts {
			want, err := AccountBalanceScan(bg, pool, code, at)
			if err != nil {
				t.Fatal(err)
			}
			got, err := AccountBalance(bg, pool, code, at)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Net.Equal(want.Net) || !byCode[code].Net.Equal(want.Net) {
				t.Fatalf("%s as of %s: AccountBalance %s, Balances %s, full scan %s", code, at.Format(time.RFC3339Nano),
					got.Net, byCode[code].Net, want.Net)
			}
		}
	}
	if fromNoon < 20 || len(checks)-fromNoon < 20 {
		t.Fatalf("%d of %d instants from noon: both halves must be read", fromNoon, len(checks))
	}
}
