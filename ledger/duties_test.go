package ledger

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
)

// closeDay closes the business day of t, as treasury would.
func closeDay(t *testing.T, pool *pgxpool.Pool, at time.Time) time.Time {
	t.Helper()
	day := DayOf(at)
	ctx := audit.WithActor(bg, audit.Actor{ID: "key:test", Role: "treasury"})
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := CloseDay(ctx, tx, day, "treasury:test", "reconciled")
		return err
	})
	if err != nil {
		t.Fatalf("close %s: %v", day.Format(DayLayout), err)
	}
	return day
}

// yesterday is a time in a business day that is over (30 hours ago), within
// the default back-dating limit.
func yesterday() time.Time { return time.Now().Add(-30 * time.Hour).UTC().Truncate(time.Second) }

func auditActions(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	if err := pool.QueryRow(bg, `SELECT coalesce(string_agg(action, ',' ORDER BY id), '') FROM audit_log WHERE action LIKE 'ledger.%'`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// A manual entry touching an agency account is not posted: it waits for a
// second, different treasury key. (On main it was posted at once.)
func TestManualEntryTouchingAgencyWaitsForSecondApprover(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	at, _ := recent()
	r := a.do("treasury", "POST", "/v1/ledger/entries", agencyBody("5000", at), "Idempotency-Key", "a1")
	var req EntryRequest
	r.json(t, &req)
	if r.status != 202 || req.Status != RequestPending || fmt.Sprint(req.Reasons) != "[agency_account]" ||
		r.header.Get("Location") != fmt.Sprintf("/v1/ledger/entries/requests/%d", req.ID) {
		t.Fatalf("post: %d %s", r.status, r.body)
	}
	if n := count(t, a.pool, `SELECT count(*) FROM ledger_entries`); n != 0 {
		t.Fatalf("%d entries posted before approval", n)
	}
	if again := a.do("treasury", "POST", "/v1/ledger/entries", agencyBody("5000", at), "Idempotency-Key", "a1"); again.status != 200 ||
		!strings.Contains(string(again.body), fmt.Sprintf(`"id":%d`, req.ID)) {
		t.Fatalf("replay: %d %s", again.status, again.body)
	}
	approve := fmt.Sprintf("/v1/ledger/entries/requests/%d/approve", req.ID)
	if r := a.do("treasury", "POST", approve, ""); r.status != 403 {
		t.Fatalf("the requester approving its own: %d %s", r.status, r.body)
	}
	if r := a.do("admin", "POST", approve, ""); r.status != 403 {
		t.Fatalf("admin approving: %d %s", r.status, r.body)
	}
	ok := a.do("treasury2", "POST", approve, `{"note":"checked the fee schedule"}`)
	var out struct {
		Request EntryRequest `json:"request"`
		Entry   Entry        `json:"entry"`
	}
	ok.json(t, &out)
	want := "treasury:" + a.ids["treasury"].Prefix + ", approved by treasury:" + a.ids["treasury2"].Prefix
	if ok.status != 201 || out.Request.Status != RequestPosted || out.Request.EntryID == nil || *out.Request.EntryID != out.Entry.ID ||
		out.Entry.RecordedBy != want || out.Entry.Kind != KindAdjustment {
		t.Fatalf("approve: %d %s", ok.status, ok.body)
	}
	if r := a.do("treasury3", "POST", approve, ""); r.status != 409 {
		t.Fatalf("approving twice: %d %s", r.status, r.body)
	}
	if got := auditActions(t, a.pool); got != "ledger.entry.request,ledger.entry.approve" {
		t.Fatalf("audit %s", got)
	}
	if r := a.do("admin", "GET", "/v1/ledger/entries/requests?status=posted", ""); r.status != 200 ||
		!strings.Contains(string(r.body), `"decided_by":"treasury:`+a.ids["treasury2"].Prefix) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}

	// Rejected (here withdrawn by its requester), it can no more be approved.
	a.do("treasury", "POST", "/v1/ledger/entries", agencyBody("6000", at), "Idempotency-Key", "a2").json(t, &req)
	if r := a.do("treasury", "POST", fmt.Sprintf("/v1/ledger/entries/requests/%d/reject", req.ID), `{"note":"wrong amount"}`); r.status != 200 ||
		!strings.Contains(string(r.body), `"status":"rejected"`) {
		t.Fatalf("reject: %d %s", r.status, r.body)
	}
	if r := a.do("treasury2", "POST", fmt.Sprintf("/v1/ledger/entries/requests/%d/approve", req.ID), ""); r.status != 409 {
		t.Fatalf("approve after reject: %d %s", r.status, r.body)
	}
	if got := auditActions(t, a.pool); !strings.HasSuffix(got, "ledger.entry.request,ledger.entry.reject") {
		t.Fatalf("audit %s", got)
	}
}

// Above the approval amount, an entry waits too; at it, it posts at once.
func TestManualEntryAboveAmountWaits(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	at, _ := recent()
	if r := a.do("treasury", "POST", "/v1/ledger/entries", manualBody("10000001", at), "Idempotency-Key", "big"); r.status != 202 ||
		!strings.Contains(string(r.body), `"reasons":["amount"]`) {
		t.Fatalf("above: %d %s", r.status, r.body)
	}
	if r := a.do("treasury", "POST", "/v1/ledger/entries", manualBody("10000000", at), "Idempotency-Key", "at"); r.status != 201 {
		t.Fatalf("at the amount: %d %s", r.status, r.body)
	}
	if got := auditActions(t, a.pool); got != "ledger.entry.request,ledger.entry.post" {
		t.Fatalf("audit %s", got)
	}
}

// Two approvers at once post a request exactly once.
func TestApprovalRacePostsOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	at, _ := recent()
	const n = 8
	for i := range n {
		var req EntryRequest
		a.do("treasury", "POST", "/v1/ledger/entries", agencyBody(fmt.Sprint(1000+i), at), "Idempotency-Key", fmt.Sprint("race-", i)).json(t, &req)
		path := fmt.Sprintf("/v1/ledger/entries/requests/%d/approve", req.ID)
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for j, who := range []string{"treasury2", "treasury3"} {
			wg.Go(func() { statuses[j] = a.do(who, "POST", path, "").status })
		}
		wg.Wait()
		if !(statuses[0] == 201 && statuses[1] == 409) && !(statuses[0] == 409 && statuses[1] == 201) {
			t.Fatalf("request %d: approvals answered %v, want one 201 and one 409", req.ID, statuses)
		}
	}
	if got := count(t, a.pool, `SELECT count(*) FROM ledger_entries`); got != n {
		t.Fatalf("%d entries for %d requests", got, n)
	}
}

// A manual entry attributes revenue only when marked as an adjustment, and
// revenue shows adjustments apart from gross and refunds.
func TestManualAttributionIsAnAdjustment(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	at, atTime := recent()
	body := func(adjustment bool) string {
		return fmt.Sprintf(`{"reason":"fee booked on the wrong service","effective_at":%q,"adjustment":%t,"postings":[
			{"account":"agency:HCM-TP:collected","direction":"credit","amount":7000,"currency":"VND","service_code":"BIRTH-CERT","channel":"adjustment"},
			{"account":"suspense","direction":"debit","amount":7000,"currency":"VND"}]}`, at, adjustment)
	}
	if r := a.do("treasury", "POST", "/v1/ledger/entries", body(false), "Idempotency-Key", "attr"); r.status != 422 || r.field(t) != "postings[0].service_code" {
		t.Fatalf("attribution without adjustment: %d %s", r.status, r.body)
	}
	if r := a.do("treasury", "POST", "/v1/ledger/entries", strings.Replace(body(true), `"channel":"adjustment"`, `"channel":"card"`, 1),
		"Idempotency-Key", "card"); r.status != 422 || r.field(t) != "postings[0].channel" {
		t.Fatalf("adjustment posing as a card payment: %d %s", r.status, r.body)
	}
	var req EntryRequest
	a.do("treasury", "POST", "/v1/ledger/entries", body(true), "Idempotency-Key", "adj").json(t, &req)
	if r := a.do("treasury2", "POST", fmt.Sprintf("/v1/ledger/entries/requests/%d/approve", req.ID), ""); r.status != 201 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	p := payment("pay-1", "HCM-TP", "BIRTH-CERT", 60000)
	p.EffectiveAt = atTime
	if _, err := PostPayment(bg, a.pool, p); err != nil {
		t.Fatal(err)
	}
	window := "from=" + url.QueryEscape(atTime.Add(-time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	var res struct {
		Rows   []RevenueRow `json:"rows"`
		Totals []RevenueRow `json:"totals"`
	}
	r := a.do("agency:HCM-TP", "GET", "/v1/revenue?"+window+"&group_by=service", "")
	r.json(t, &res)
	if r.status != 200 || len(res.Rows) != 1 {
		t.Fatalf("revenue: %d %s", r.status, r.body)
	}
	row := res.Rows[0]
	if !row.Gross.Equal(vnd(60000)) || !row.Refunds.IsZero() || !row.Adjustments.Equal(vnd(7000)) || !row.Net.Equal(vnd(67000)) {
		t.Fatalf("revenue row %+v: want gross 60000, adjustments 7000 apart, net 67000", row)
	}
	// A payment rule cannot pose as an adjustment either.
	p = payment("pay-2", "HCM-TP", "BIRTH-CERT", 1000)
	p.Channel = AdjustmentChannel
	if _, err := PostPayment(bg, a.pool, p); !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("payment by channel adjustment: %v", err)
	}
}

// Manual entries are dated within limits: not in the future, not more than
// the back-dating limit ago, not in or before the last closed day.
func TestManualEntryDating(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	d := closeDay(t, a.pool, yesterday())
	for name, tt := range map[string]struct {
		at     time.Time
		status int
	}{
		"future":            {time.Now().Add(time.Hour), 422},
		"eight days ago":    {time.Now().Add(-8 * 24 * time.Hour), 422},
		"in the closed day": {DayStart(d).Add(12 * time.Hour), 409},
		"before it":         {DayStart(d).Add(-time.Minute), 409},
	} {
		r := a.do("treasury", "POST", "/v1/ledger/entries", manualBody("5000", tt.at.Format(time.RFC3339)), "Idempotency-Key", name)
		if r.status != tt.status {
			t.Errorf("%s: %d %s, want %d", name, r.status, r.body, tt.status)
		}
	}
	now, _ := recent()
	if r := a.do("treasury", "POST", "/v1/ledger/entries", manualBody("5000", now), "Idempotency-Key", "now"); r.status != 201 {
		t.Fatalf("an entry of today: %d %s", r.status, r.body)
	}
}

// The database refuses an entry that takes effect in a closed day, however it
// is inserted; the ledger's Go refuses a manual adjustment there too.
func TestDatabaseRefusesEntryInClosedDay(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	d := closeDay(t, pool, yesterday())
	in := DayStart(d).Add(10 * time.Hour)
	_, err := pool.Exec(bg, `INSERT INTO ledger_entries (idempotency_key, kind, reference, description, recorded_by, effective_at, content_hash)
		VALUES ('direct', 'adjustment', '', 'back-dated by hand', 'psql', $1, decode(repeat('00', 32), 'hex'))`, in)
	if err == nil || !strings.Contains(err.Error(), "closed business day") {
		t.Fatalf("direct insert into a closed day: %v", err)
	}
	_, err = Post(bg, pool, NewEntry{Key: "adj", Kind: KindAdjustment, EffectiveAt: in, Postings: []Posting{
		{Account: "suspense", Direction: Debit, Amount: vnd(1), Currency: "VND"},
		{Account: "overpayments", Direction: Credit, Amount: vnd(1), Currency: "VND"}}})
	if !errors.Is(err, ErrDayClosed) {
		t.Fatalf("adjustment into a closed day: %v", err)
	}
	// The day after is open.
	if _, err := pool.Exec(bg, `BEGIN; INSERT INTO ledger_entries (idempotency_key, kind, reference, description, recorded_by, effective_at, content_hash)
		VALUES ('direct2', 'adjustment', '', 'x', 'psql', $1, decode(repeat('00', 32), 'hex')); ROLLBACK`, DayStart(d).AddDate(0, 0, 1)); err != nil &&
		strings.Contains(err.Error(), "closed business day") {
		t.Fatalf("insert into the open day: %v", err)
	}
	if _, err := pool.Exec(bg, `DELETE FROM ledger_closed_days`); err == nil {
		t.Fatal("a closed day was reopened")
	}
}

// A payment (or any posting rule's entry) dated in a closed day takes effect
// now, in the open day, and replays as the same entry; the chain verifies.
func TestLatePostingTakesEffectInTheOpenDay(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	late := yesterday()
	d := closeDay(t, pool, late)
	before := time.Now()
	p := payment("late", "HCM-TP", "BIRTH-CERT", 5000)
	p.EffectiveAt = late
	e, err := PostPayment(bg, pool, p)
	if err != nil {
		t.Fatalf("late payment: %v", err)
	}
	if e.EffectiveAt.Before(before.Truncate(time.Microsecond)) || DayOf(e.EffectiveAt).Equal(d) {
		t.Fatalf("late payment takes effect %s, want now (day %s is closed)", e.EffectiveAt, d.Format(DayLayout))
	}
	again, err := PostPayment(bg, pool, p)
	if err != nil || again.ID != e.ID {
		t.Fatalf("replay: %v (entry %d, want %d)", err, again.ID, e.ID)
	}
	q := payment("late-batch", "HN", "FINE-7", 700)
	q.EffectiveAt = late
	r := payment("today-batch", "HN", "FINE-7", 800)
	r.EffectiveAt = time.Now()
	if es, err := PostPayments(bg, pool, []Payment{q, r}); err != nil || DayOf(es[0].EffectiveAt).Equal(d) {
		t.Fatalf("batch: %v %+v", err, es)
	}
	if _, err := Seal(bg, pool); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, pool)
}

// "Now" is the caller's clock, not the wall clock: in a test running on a
// clock in the past, a late entry moves to that clock's reading, and one of
// a day that is closed but not before the clock's day is left to the
// database (which refuses it). A zero Now is the wall clock.
func TestLatePostingTakesEffectAtTheCallersNow(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	closed := closeDay(t, pool, time.Date(2025, 3, 1, 12, 0, 0, 0, bizday.Zone))
	in := DayStart(closed).Add(10 * time.Hour)
	now := DayStart(closed).AddDate(0, 0, 2).Add(9*time.Hour + 123456789) // 09:00 two days later, by the caller's clock
	tests := []struct {
		name    string
		now     time.Time
		want    time.Time // zero: the wall clock's day
		refused bool
	}{
		{"the caller's clock", now, now.UTC().Truncate(time.Microsecond), false},
		{"no clock: the wall clock", time.Time{}, time.Time{}, false},
		{"a clock still in the closed day", in.Add(time.Hour), time.Time{}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := payment(fmt.Sprintf("late-%d", i), "HCM-TP", "BIRTH-CERT", 5000)
			p.EffectiveAt, p.Now = in, tt.now
			// The wall clock's day before and after the posting: the entry's day is
			// one of them, even when the posting straddles midnight.
			dayBefore := DayOf(time.Now())
			e, err := PostPayment(bg, pool, p)
			dayAfter := DayOf(time.Now())
			switch {
			case tt.refused:
				if err == nil || !strings.Contains(err.Error(), "closed business day") {
					t.Fatalf("posted %+v, %v; want the database's refusal", e, err)
				}
			case err != nil:
				t.Fatal(err)
			case tt.want.IsZero() && !DayOf(e.EffectiveAt).Equal(dayBefore) && !DayOf(e.EffectiveAt).Equal(dayAfter):
				t.Fatalf("takes effect %s, want today by the wall clock", e.EffectiveAt)
			case !tt.want.IsZero() && !e.EffectiveAt.Equal(tt.want):
				t.Fatalf("takes effect %s, want %s", e.EffectiveAt, tt.want)
			}
		})
	}
}

// A reversal of an entry of a closed day takes effect now, in the open day.
func TestReversalOfClosedDayEntryPostsToday(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var orig Entry
	if r := a.do("treasury", "POST", "/v1/ledger/entries", manualBody("5000", yesterday().Format(time.RFC3339)), "Idempotency-Key", "orig"); r.status != 201 {
		t.Fatalf("orig: %d %s", r.status, r.body)
	} else {
		r.json(t, &orig)
	}
	d := closeDay(t, a.pool, orig.EffectiveAt)
	path := fmt.Sprintf("/v1/ledger/entries/%d/reversal", orig.ID)
	if r := a.do("treasury", "POST", path, fmt.Sprintf(`{"reason":"x","effective_at":%q}`, orig.EffectiveAt.Format(time.RFC3339)), "Idempotency-Key", "back"); r.status != 409 {
		t.Fatalf("reversal dated in the closed day: %d %s", r.status, r.body)
	}
	before := time.Now().Truncate(time.Microsecond)
	r := a.do("treasury", "POST", path, `{"reason":"entered twice"}`, "Idempotency-Key", "rev")
	after := time.Now()
	var rev Entry
	r.json(t, &rev)
	// Now is between the request's start and its answer, however slow the machine.
	if r.status != 201 || rev.Reverses != orig.ID || DayOf(rev.EffectiveAt).Equal(d) ||
		rev.EffectiveAt.Before(before) || rev.EffectiveAt.After(after) {
		t.Fatalf("reversal: %d %s; want it effective now, not on %s", r.status, r.body, d.Format(DayLayout))
	}
	if again := a.do("treasury", "POST", path, `{"reason":"entered twice"}`, "Idempotency-Key", "rev"); again.status != 200 ||
		!strings.Contains(string(again.body), fmt.Sprintf(`"id":%d`, rev.ID)) {
		t.Fatalf("replay: %d %s", again.status, again.body)
	}
}

// An agency entry's reversal needs a second approver too, and posts into the
// open day once approved if the original's day closed meanwhile.
func TestAgencyReversalWaitsAndPostsToday(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var req EntryRequest
	a.do("treasury", "POST", "/v1/ledger/entries", agencyBody("5000", yesterday().Format(time.RFC3339)), "Idempotency-Key", "o").json(t, &req)
	var out struct{ Entry Entry }
	a.do("treasury2", "POST", fmt.Sprintf("/v1/ledger/entries/requests/%d/approve", req.ID), "").json(t, &out)
	orig := out.Entry
	r := a.do("treasury", "POST", fmt.Sprintf("/v1/ledger/entries/%d/reversal", orig.ID), `{"reason":"wrong agency"}`, "Idempotency-Key", "r")
	r.json(t, &req)
	if r.status != 202 || req.Kind != "reversal" {
		t.Fatalf("reversal request: %d %s", r.status, r.body)
	}
	d := closeDay(t, a.pool, orig.EffectiveAt)
	ok := a.do("treasury3", "POST", fmt.Sprintf("/v1/ledger/entries/requests/%d/approve", req.ID), "")
	ok.json(t, &out)
	if ok.status != 201 || out.Entry.Reverses != orig.ID || DayOf(out.Entry.EffectiveAt).Equal(d) {
		t.Fatalf("approve reversal: %d %s", ok.status, ok.body)
	}
}
