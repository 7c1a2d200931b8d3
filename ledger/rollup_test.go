package ledger

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
)

// The random books of these tests take effect in the rollupSpan business days
// from rollupDays: the end of January to the start of April, so that reads
// cover whole months (the monthly rollups) and parts of months.
var rollupDays = time.Date(2025, 1, 25, 0, 0, 0, 0, bizday.Zone)

const rollupSpan = 70

// randomBooks posts random revenue-bearing entries into a week: payments of
// one to three shares in VND and USD, refunds, reversals (of payments and
// refunds, effective at the original's time or later), manual adjustments on
// the adjustment channel, and transfers, which are not revenue. Agency "C_1"
// holds LIKE's "_". An account has one currency, so USD goes through accounts
// of its own.
type randomBooks struct {
	rng    *rand.Rand
	posted []Entry // payments and refunds, to refund and reverse
	n      int
}

// books' accounts per currency: agencies, gateway, treasury account, and the
// other side of an adjustment.
var rollupAccounts = map[string]struct {
	agencies                 []string
	gateway, treasury, other string
}{
	"VND": {[]string{"A", "B", "C_1"}, "vnpay", "0011", "suspense"},
	"USD": {[]string{"D-USD", "E_USD"}, "card-usd", "0022", "expense:usd-write-off"},
}

func newRandomBooks(seed uint64) *randomBooks {
	return &randomBooks{rng: rand.New(rand.NewPCG(seed, 15))}
}

func (b *randomBooks) agency(currency string) string {
	as := rollupAccounts[currency].agencies
	return as[b.rng.IntN(len(as))]
}

// at is a random time of the week, now and then exactly a business midnight.
func (b *randomBooks) at() time.Time {
	if b.rng.IntN(8) == 0 {
		return rollupDays.AddDate(0, 0, b.rng.IntN(rollupSpan))
	}
	return rollupDays.Add(time.Duration(b.rng.Int64N(int64(rollupSpan * 24 * time.Hour))))
}

func (b *randomBooks) amount(currency string) decimal.Decimal {
	if currency == "USD" {
		return decimal.New(1+b.rng.Int64N(100_000), -2)
	}
	return decimal.NewFromInt(1000 + b.rng.Int64N(100_000))
}

// post posts one random entry through db.
func (b *randomBooks) post(db DBTX) (Entry, error) {
	b.n++
	key := fmt.Sprintf("r%d", b.n)
	services := []string{"BIRTH-CERT", "STAMP", "FINE-7"}
	currency := []string{"VND", "VND", "VND", "USD"}[b.rng.IntN(4)]
	switch r := b.rng.IntN(20); {
	case r < 10 || len(b.posted) == 0:
		e, err := b.payment(db, key, currency)
		if err == nil {
			b.posted = append(b.posted, e)
		}
		return e, err
	case r < 13:
		paid := b.posted[b.rng.IntN(len(b.posted))]
		var share Posting
		for _, p := range paid.Postings {
			if p.ServiceCode != "" {
				share = p
			}
		}
		agency, _ := agencyOf(share.Account)
		unit := decimal.New(1, -2)
		if share.Currency == "VND" {
			unit = decimal.NewFromInt(1)
		}
		e, err := PostRefund(bg, db, Refund{Key: key, OrderID: uuid.New(), RefundID: uuid.New(), Gateway: rollupAccounts[share.Currency].gateway, Channel: share.Channel,
			Currency: share.Currency, EffectiveAt: b.at(),
			Shares: []Share{{AgencyCode: agency, ServiceCode: share.ServiceCode, Amount: share.Amount.Div(decimal.NewFromInt(2)).Div(unit).Floor().Mul(unit).Add(unit)}}})
		if err == nil {
			b.posted = append(b.posted, e)
		}
		return e, err
	case r < 16:
		rev := Reversal{Key: key, EntryID: b.posted[b.rng.IntN(len(b.posted))].ID, Reason: "test"}
		if b.rng.IntN(2) == 0 {
			rev.EffectiveAt = b.at()
		}
		e, err := Reverse(bg, db, rev)
		if isErr(err, ErrAlreadyReversed) || isErr(err, ErrInvalidEntry) { // reversed already, or dated before the original
			return Entry{}, nil
		}
		return e, err
	case r < 18:
		a := b.amount(currency)
		agency := Posting{Account: AgencyCollected(b.agency(currency)), Direction: Credit, Amount: a, Currency: currency,
			ServiceCode: services[b.rng.IntN(3)], Channel: AdjustmentChannel}
		other := Posting{Account: rollupAccounts[currency].other, Direction: Debit, Amount: a, Currency: currency}
		if b.rng.IntN(2) == 0 {
			agency.Direction, other.Direction = Debit, Credit
		}
		return Post(bg, db, NewEntry{Key: key, Kind: KindAdjustment, Description: "adjust", EffectiveAt: b.at(), Postings: []Posting{agency, other}})
	default:
		return PostTransfer(bg, db, Transfer{Key: key, AgencyCode: b.agency(currency), TreasuryAccount: rollupAccounts[currency].treasury,
			Reference: key, Currency: currency, Amount: b.amount(currency), EffectiveAt: b.at()})
	}
}

// payment posts a random payment (not kept for refunds and reversals).
func (b *randomBooks) payment(db DBTX, key, currency string) (Entry, error) {
	p := Payment{Key: key, OrderID: uuid.New(), AttemptID: uuid.New(), Gateway: rollupAccounts[currency].gateway,
		Channel: []string{"card", "ewallet", "qr"}[b.rng.IntN(3)], Currency: currency, EffectiveAt: b.at()}
	for range 1 + b.rng.IntN(3) {
		p.Shares = append(p.Shares, Share{AgencyCode: b.agency(currency), ServiceCode: []string{"BIRTH-CERT", "STAMP", "FINE-7"}[b.rng.IntN(3)],
			Amount: b.amount(currency)})
	}
	return PostPayment(bg, db, p)
}

// newSeed is a random seed, logged so that a failing run can be replayed.
func newSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return seed
}

// seededBooks is a fresh database with the accounts of openAccounts open,
// and a random seed (newSeed) for the books a test posts to them.
func seededBooks(t testing.TB) (*pgxpool.Pool, uint64) {
	t.Helper()
	pool := newPool(t)
	openAccounts(t, pool)
	return pool, newSeed(t)
}

// openAccounts creates every account the books use, so that an entry left
// in flight by a test never holds a new account's row that a later posting
// would wait for.
func openAccounts(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	for currency, a := range rollupAccounts {
		for _, agency := range a.agencies {
			mustPost(t, pool, NewEntry{Key: "open-" + agency, Kind: KindAdjustment, Description: "open", EffectiveAt: rollupDays,
				Postings: []Posting{
					{Account: GatewayClearing(a.gateway), Direction: Debit, Amount: decimal.NewFromInt(3), Currency: currency},
					{Account: AgencyCollected(agency), Direction: Credit, Amount: decimal.NewFromInt(1), Currency: currency},
					{Account: TreasuryBank(a.treasury), Direction: Credit, Amount: decimal.NewFromInt(1), Currency: currency},
					{Account: a.other, Direction: Credit, Amount: decimal.NewFromInt(1), Currency: currency},
				}})
		}
	}
}

// query is a random revenue query over the span and a day either side: its
// bounds midnights or not, any grouping, all agencies or one.
func (b *randomBooks) query() RevenueQuery {
	bound := func() time.Time {
		t := rollupDays.AddDate(0, 0, b.rng.IntN(rollupSpan+2)-1)
		if b.rng.IntN(2) == 0 {
			t = t.Add(time.Duration(b.rng.Int64N(int64(24 * time.Hour))))
		}
		return t
	}
	q := RevenueQuery{From: bound(), To: bound()}
	for !q.From.Before(q.To) {
		q.From, q.To = bound(), bound()
	}
	for _, d := range []Dimension{ByChannel, ByAgency, ByDay, ByService} {
		if b.rng.IntN(2) == 0 {
			q.GroupBy = append(q.GroupBy, d)
		}
	}
	if b.rng.IntN(3) == 0 {
		q.Agency = b.agency([]string{"VND", "USD"}[b.rng.IntN(2)])
	}
	return q
}

func collect(t testing.TB, read func(DBTX, RevenueQuery, func(RevenueRow) error) error, db DBTX, q RevenueQuery) []RevenueRow {
	t.Helper()
	var rows []RevenueRow
	if err := read(db, q, func(r RevenueRow) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	return rows
}

func revenueOf(db DBTX, q RevenueQuery, fn func(RevenueRow) error) error {
	return Revenue(bg, db, q, fn)
}
func scanOf(db DBTX, q RevenueQuery, fn func(RevenueRow) error) error {
	return RevenueScan(bg, db, q, fn)
}

// sameAsScan compares Revenue with RevenueScan on queries, and every
// account's as-of balance with AccountBalanceScan at random times, all in
// one snapshot; it returns how many revenue rows were compared.
func sameAsScan(t *testing.T, pool *pgxpool.Pool, b *randomBooks, queries int, when string) int {
	t.Helper()
	tx, err := pool.BeginTx(bg, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(bg) }()
	return compareInSnapshot(t, tx, b, queries, when)
}

func compareInSnapshot(t *testing.T, tx pgx.Tx, b *randomBooks, queries int, when string) int {
	t.Helper()
	compared := 0
	for range queries {
		q := b.query()
		got, want := collect(t, revenueOf, tx, q), collect(t, scanOf, tx, q)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: revenue %s – %s by %v agency %q:\nrollups + tail %v\nfull scan      %v", when,
				q.From.Format(time.RFC3339), q.To.Format(time.RFC3339), q.GroupBy, q.Agency, got, want)
		}
		compared += len(got)
		comparePages(t, tx, q, 1+b.rng.IntN(7), want, when)
	}
	asOf := b.at()
	if b.rng.IntN(4) == 0 {
		asOf = rollupDays.AddDate(0, 0, b.rng.IntN(rollupSpan+2)-1)
	}
	all, err := Balances(bg, tx, "*", asOf)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range all {
		want, err := AccountBalanceScan(bg, tx, got.Account, asOf)
		if err != nil {
			t.Fatal(err)
		}
		one, err := AccountBalance(bg, tx, got.Account, asOf)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Net.Equal(want.Net) || !one.Net.Equal(want.Net) || got.Balance.String() != want.Balance.String() {
			t.Fatalf("%s: %s as of %s: Balances %s, AccountBalance %s, full scan %s", when, got.Account, asOf.Format(time.RFC3339), got.Net, one.Net, want.Net)
		}
	}
	return compared
}

// comparePages reads q page by page, limit groups a page, and compares the
// pages, one after the other, and each page's totals with the full scan's
// rows (want) and their totals.
func comparePages(t *testing.T, tx pgx.Tx, q RevenueQuery, limit int, want []RevenueRow, when string) {
	t.Helper()
	var totals RevenueTotals
	for _, r := range want {
		totals.Add(r)
	}
	var got []RevenueRow
	for pages := 0; ; pages++ {
		p, err := readRevenuePage(bg, tx, q, limit)
		if err != nil {
			t.Fatalf("%s: page %d of %+v: %v", when, pages, q, err)
		}
		if len(p.Rows) > limit || (p.More && len(p.Rows) != limit) || pages > len(want) {
			t.Fatalf("%s: page %d of %+v, limit %d: %d rows, more %v", when, pages, q, limit, len(p.Rows), p.More)
		}
		if fmt.Sprint(p.Totals) != fmt.Sprint(totals.Rows()) {
			t.Fatalf("%s: page %d of %+v: totals %v, full scan %v", when, pages, q, p.Totals, totals.Rows())
		}
		got = append(got, p.Rows...)
		if !p.More {
			break
		}
		last := p.Rows[len(p.Rows)-1]
		q.After = &last
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: revenue %s – %s by %v agency %q, %d a page:\npages     %v\nfull scan %v", when,
			q.From.Format(time.RFC3339), q.To.Format(time.RFC3339), q.GroupBy, q.Agency, limit, got, want)
	}
}

func horizonNow(t testing.TB, db DBTX) int64 {
	t.Helper()
	return count(t, db, `SELECT up_to_xid FROM ledger_rollup_horizon`)
}

// rollUpAll rolls up until the horizon passes every committed entry.
func rollUpAll(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	for range 500 {
		if _, err := RollUp(bg, pool); err != nil {
			t.Fatalf("roll up: %v", err)
		}
		if count(t, pool, `SELECT count(*) FROM ledger_entries WHERE xid >= (SELECT up_to_xid FROM ledger_rollup_horizon)`) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the rollups did not cover every entry")
}

// The rollups and checkpoints give exactly what a full scan gives, whenever
// they are read: random books posted with the rollup job run at random
// between entries, and entries that commit late: their transaction took its
// xid before a horizon was computed and commits after, so the job must stop
// below them, and the reads must take them from the tail once they commit.
func TestRollupsEqualFullScan(t *testing.T) {
	t.Parallel()
	pool, seed := seededBooks(t)
	b := newRandomBooks(seed)
	type open struct {
		tx  pgx.Tx
		xid int64
		e   Entry
	}
	var late []open
	t.Cleanup(func() { // before the pool closes (cleanups run last first), if the test stops early
		for _, o := range late {
			_ = o.tx.Rollback(bg)
		}
	})
	compared, lateCommitted := 0, 0
	for step := range 400 {
		switch r := b.rng.IntN(20); {
		case r == 0 && len(late) < 2: // begin an entry that commits late
			tx, err := pool.Begin(bg)
			if err != nil {
				t.Fatal(err)
			}
			b.n++
			e, err := b.payment(tx, fmt.Sprintf("late%d", b.n), []string{"VND", "USD"}[b.rng.IntN(2)])
			if err != nil {
				t.Fatal(err)
			}
			late = append(late, open{tx, count(t, tx, `SELECT xid FROM ledger_entries WHERE id = $1`, e.ID), e})
		case r == 1 && len(late) > 0: // commit the oldest
			if err := late[0].tx.Commit(bg); err != nil {
				t.Fatal(err)
			}
			b.posted = append(b.posted, late[0].e)
			late, lateCommitted = late[1:], lateCommitted+1
		case r < 5:
			if _, err := RollUp(bg, pool); err != nil {
				t.Fatal(err)
			}
			for _, o := range late {
				if h := horizonNow(t, pool); h > o.xid {
					t.Fatalf("the rollups' horizon %d passed transaction %d, still in flight", h, o.xid)
				}
			}
		default:
			if _, err := b.post(pool); err != nil {
				t.Fatal(err)
			}
		}
		if step%40 == 39 {
			compared += sameAsScan(t, pool, b, 6, fmt.Sprintf("step %d (%d late in flight)", step, len(late)))
		}
	}
	for len(late) > 0 {
		if err := late[0].tx.Commit(bg); err != nil {
			t.Fatal(err)
		}
		late, lateCommitted = late[1:], lateCommitted+1
	}
	compared += sameAsScan(t, pool, b, 10, "late entries committed, not yet rolled up")
	rollUpAll(t, pool)
	if n := count(t, pool, `SELECT count(*) FROM ledger_revenue_rollups`); n == 0 {
		t.Fatal("no revenue rollups after rolling everything up")
	}
	compared += sameAsScan(t, pool, b, 20, "everything rolled up")
	r := mustVerify(t, pool)
	if r.RevenueRollups == 0 || r.MonthlyRollups == 0 || r.Checkpoints == 0 || r.RollupHorizon == 0 {
		t.Fatalf("verify checked no rollups: %+v", r)
	}
	if compared == 0 || lateCommitted == 0 {
		t.Fatalf("compared %d revenue rows, %d late entries: the test tested nothing", compared, lateCommitted)
	}
	t.Logf("%d entries, %d late, %d revenue rows compared, %d rollups, %d checkpoints", r.Entries, lateCommitted, compared, r.RevenueRollups, r.Checkpoints)
}

// Posting, rolling up and reading at once: every read in a snapshot gives the
// full scan's numbers, and verify is green at the end.
func TestRollupsUnderConcurrentPosting(t *testing.T) {
	t.Parallel()
	pool, seed := seededBooks(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	t.Cleanup(func() { stop.Store(true); wg.Wait() }) // before the pool closes, if the test stops early
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newRandomBooks(seed + uint64(w))
			b.n = w * 1_000_000 // distinct keys
			for !stop.Load() {
				if _, err := b.post(pool); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if _, err := RollUp(bg, pool); err != nil {
				errs <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	reader := newRandomBooks(seed + 7)
	for i := range 12 {
		sameAsScan(t, pool, reader, 3, fmt.Sprintf("concurrent read %d", i))
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rollUpAll(t, pool)
	sameAsScan(t, pool, reader, 10, "after the load")
	mustVerify(t, pool)
}

// When the rollup job moves the horizon between Revenue's two reads (or
// between an as-of balance's), the query returns the horizon it saw instead
// of rows, and no row reaches the caller.
func TestRollupReadsSeeAMovedHorizon(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	b := newRandomBooks(1)
	for range 30 {
		if _, err := b.post(pool); err != nil {
			t.Fatal(err)
		}
	}
	rollUpAll(t, pool)
	h := horizonNow(t, pool)
	query, args := revenueSQL(RevenueQuery{From: rollupDays, To: rollupDays.AddDate(0, 0, 7), GroupBy: []Dimension{ByDay}})
	for _, stale := range []int64{h - 1, h + 1, 0} {
		args[0] = stale
		calls := 0
		again, err := streamRevenue(bg, pool, query, args, func(RevenueRow) error { calls++; return nil })
		if err != nil || again == nil || *again != h || calls != 0 {
			t.Errorf("revenue read above %d with the horizon at %d: told %v, err %v, %d rows", stale, h, again, err, calls)
		}
	}
	args[0] = h
	calls := 0
	if again, err := streamRevenue(bg, pool, query, args, func(RevenueRow) error { calls++; return nil }); err != nil || again != nil || calls == 0 {
		t.Errorf("revenue read above the horizon: told %v, err %v, %d rows", again, err, calls)
	}
	asOf := rollupDays.AddDate(0, 0, 3)
	var seen []int64
	if _, err := queryBalances(bg, pool, asOfBalanceSQL("a.code", false)+" WHERE a.code ~ $1", &seen, "^", asOf, DayOf(asOf), h-1, DayStart(DayOf(asOf))); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 || slices.ContainsFunc(seen, func(x int64) bool { return x != h }) {
		t.Errorf("as-of rows saw horizons %v, want all %d", seen, h)
	}
}

// A rebuild drops the rollups and makes them again, reporting its progress;
// reads are exact before, during (from the postings) and after; verify
// catches a rollup or checkpoint changed behind the ledger's back, and a
// rebuild mends it.
func TestRebuildAndVerifyRollups(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	b := newRandomBooks(uint64(time.Now().UnixNano()))
	for range 120 {
		if _, err := b.post(pool); err != nil {
			t.Fatal(err)
		}
	}
	rollUpAll(t, pool)
	before := mustVerify(t, pool)

	tamper := []struct {
		name, sql, check string
	}{
		{"rollup net raised", `UPDATE ledger_revenue_rollups SET net = net + 1 WHERE ctid = (SELECT min(ctid) FROM ledger_revenue_rollups)`, "rollup"},
		{"rollup deleted", `DELETE FROM ledger_revenue_rollups WHERE ctid = (SELECT min(ctid) FROM ledger_revenue_rollups)`, "rollup"},
		{"monthly rollup refunds raised", `UPDATE ledger_revenue_rollups_monthly SET refunds = refunds + 1 WHERE ctid = (SELECT max(ctid) FROM ledger_revenue_rollups_monthly)`, "rollup"},
		{"rollup by service gross raised", `UPDATE ledger_revenue_rollups_service SET gross = gross + 1 WHERE ctid = (SELECT min(ctid) FROM ledger_revenue_rollups_service)`, "rollup"},
		{"monthly rollup by service deleted", `DELETE FROM ledger_revenue_rollups_service_monthly WHERE ctid = (SELECT max(ctid) FROM ledger_revenue_rollups_service_monthly)`, "rollup"},
		{"checkpoint count changed", `UPDATE ledger_balance_checkpoints SET postings = postings + 1 WHERE ctid = (SELECT max(ctid) FROM ledger_balance_checkpoints)`, "checkpoint"},
		{"checkpoint of a day without postings", `INSERT INTO ledger_balance_checkpoints (account_code, day, net, postings)
			SELECT account_code, '2031-01-01', net, postings FROM ledger_balance_checkpoints LIMIT 1`, "checkpoint"},
	}
	for _, tc := range tamper {
		asSuperuser(t, pool, tc.sql)
		r, err := Verify(bg, pool)
		if !isErr(err, ErrBroken) || len(r.Findings) == 0 || r.Findings[0].Check != tc.check {
			t.Fatalf("%s: verify said %v, findings %v; want a %s finding", tc.name, err, r.Findings, tc.check)
		}
		var steps []RebuildProgress
		p, err := RebuildRollups(audit.WithActor(bg, audit.Actor{ID: "cli:test", Role: "cli"}), pool, func(p RebuildProgress) { steps = append(steps, p) })
		if err != nil {
			t.Fatalf("%s: rebuild: %v", tc.name, err)
		}
		if len(steps) == 0 || p.Entries != p.Total || p.Total < before.Entries || steps[len(steps)-1] != p {
			t.Fatalf("%s: rebuild reported %+v, then %+v (the ledger has %d entries)", tc.name, steps, p, before.Entries)
		}
		after := mustVerify(t, pool)
		if after.RevenueRollups != before.RevenueRollups || after.MonthlyRollups != before.MonthlyRollups || after.Checkpoints != before.Checkpoints {
			t.Fatalf("%s: rebuilt %+v, was %+v", tc.name, after, before)
		}
		sameAsScan(t, pool, b, 5, tc.name+", rebuilt")
	}
	if n := count(t, pool, `SELECT count(*) FROM audit_log WHERE action = 'ledger.rollups.rebuild'`); n != int64(len(tamper)) {
		t.Fatalf("%d rebuilds audited, want %d", n, len(tamper))
	}

	// Reads are exact while the rollups are empty (just after the drop).
	asSuperuser(t, pool, `DELETE FROM ledger_revenue_rollups`, `DELETE FROM ledger_revenue_rollups_monthly`, `DELETE FROM ledger_balance_checkpoints`,
		`DELETE FROM ledger_revenue_rollups_service`, `DELETE FROM ledger_revenue_rollups_service_monthly`,
		`UPDATE ledger_rollup_horizon SET up_to_xid = 0`)
	sameAsScan(t, pool, b, 5, "no rollups at all")
	mustVerify(t, pool)
}
