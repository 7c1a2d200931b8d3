package console

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation"
)

// reconEnv is the console with reconciliation on the same database and
// clock, and a completed bank run of yesterday that exceptions hang on.
type reconEnv struct {
	*env
	svc   *reconciliation.Service
	runID int64
	today time.Time
	seq   int
}

func newReconEnv(t *testing.T, tweak func(*reconciliation.Config)) *reconEnv {
	t.Helper()
	e := newEnv(t, nil)
	cfg, err := config.Defaults("").ReconConfig()
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(&cfg)
	}
	r := &reconEnv{env: e, today: bizday.Start(t0)}
	r.svc = reconciliation.New(e.pool, cfg, slog.New(slog.DiscardHandler), reconciliation.Deps{Clock: e.clock})
	e.h.SetDeps(Deps{Recon: r.svc})
	if err := e.pool.QueryRow(context.Background(), `INSERT INTO recon_runs (source, business_date, trigger, requested_by, status)
		VALUES ('bank', $1, 'test', 'test', 'completed') RETURNING id`, r.today.AddDate(0, 0, -1)).Scan(&r.runID); err != nil {
		t.Fatal(err)
	}
	return r
}

// raise puts an open exception of source, age days old, in the database.
func (r *reconEnv) raise(source, class string, age int) int64 {
	r.t.Helper()
	r.seq++
	var id int64
	if err := r.pool.QueryRow(context.Background(), `INSERT INTO recon_exceptions (key, source, business_date, class, first_run_id,
		last_run_id, reference, detail) VALUES ($1, $2, $3, $4, $5, $5, $6, 'test') RETURNING id`,
		fmt.Sprintf("test:%d", r.seq), source, r.today.AddDate(0, 0, -age), class, r.runID, fmt.Sprintf("REF-%03d", r.seq)).Scan(&id); err != nil {
		r.t.Fatal(err)
	}
	return id
}

// creditInSuspense is an unknown bank credit of amount VND that the bank
// run put in suspense, as reconciliation leaves one.
func (r *reconEnv) creditInSuspense(amount int64) int64 {
	r.t.Helper()
	ctx := audit.System(context.Background(), "test")
	r.seq++
	key := fmt.Sprintf("BNK%06d", r.seq)
	booked := r.today.Add(-14 * time.Hour)
	if _, err := r.pool.Exec(ctx, `INSERT INTO recon_bank_entries (file_id, stmt_seq, entry_seq, entry_key, account, amount, currency,
		credit, reversal, status, booking_date, booked_at, acct_svcr_ref) VALUES (1, 1, $1, $2, '0011004123456', $3, 'VND', true, false,
		'BOOK', $4, $5, $2)`, r.seq, key, amount, booked.Format(time.DateOnly), booked); err != nil {
		r.t.Fatal(err)
	}
	e, err := ledger.PostSuspense(ctx, r.pool, ledger.SuspenseCredit{Key: "recon:suspense:" + key, TreasuryAccount: "0011004123456",
		StatementRef: key, Currency: "VND", Amount: decimal.NewFromInt(amount), EffectiveAt: booked, Now: t0})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.pool.Exec(ctx, `INSERT INTO recon_bank_postings (entry_key, kind, ledger_entry_id, run_id) VALUES ($1, 'suspense', $2, $3)`,
		key, e.ID, r.runID); err != nil {
		r.t.Fatal(err)
	}
	var id int64
	if err := r.pool.QueryRow(ctx, `INSERT INTO recon_exceptions (key, source, business_date, class, first_run_id, last_run_id,
		entry_key, amount_there, currency, ledger_entry_id, detail) VALUES ('bank:' || $1, 'bank', $2, 'unknown', $3, $3, $1, $4, 'VND', $5,
		'names no payment reference nor settlement file') RETURNING id`, key, booked.Format(time.DateOnly), r.runID, amount, e.ID).Scan(&id); err != nil {
		r.t.Fatal(err)
	}
	return id
}

func (r *reconEnv) status(id int64) string {
	r.t.Helper()
	var s string
	if err := r.pool.QueryRow(context.Background(), `SELECT status FROM recon_exceptions WHERE id = $1`, id).Scan(&s); err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *reconEnv) count(q string, args ...any) int {
	r.t.Helper()
	var n int
	if err := r.pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

var rxRowRE = regexp.MustCompile(`<tr data-id="(\d+)">`)

// rxListed are the exception ids the queue page at path shows.
func rxListed(t *testing.T, b *browser, path string) []string {
	t.Helper()
	p := b.get(path)
	if p.status != http.StatusOK {
		t.Fatalf("%s: %d\n%s", path, p.status, p.body)
	}
	out := []string{}
	for _, m := range rxRowRE.FindAllStringSubmatch(p.body, -1) {
		out = append(out, m[1])
	}
	return out
}

func rxIDs(ns ...int64) []string {
	out := []string{}
	for _, n := range ns {
		out = append(out, fmt.Sprint(n))
	}
	return out
}

// TestExceptionQueueIsTreasurysToWork: treasury reads and acts; admin reads
// and moves nothing (no forms, and a POST is a 403); agency staff see
// nothing; a form without its token is refused.
func TestExceptionQueueIsTreasurysToWork(t *testing.T) {
	t.Parallel()
	r := newReconEnv(t, nil)
	id := r.raise("bank", "unknown", 1)
	_, ts := r.user("lan@example.vn", RoleTreasury, "")
	_, as := r.user("admin@example.vn", RoleAdmin, "")
	_, gs := r.user("clerk@example.vn", RoleAgency, "STP-HCM")
	detail := fmt.Sprintf("/console/reconciliation/exceptions/%d", id)

	ag := r.browser()
	ag.signIn(r.env, gs)
	for _, path := range []string{"/console/reconciliation", "/console/reconciliation/exceptions", detail} {
		if p := ag.get(path); p.status != http.StatusForbidden {
			t.Errorf("agency GET %s: %d, want 403", path, p.status)
		}
	}
	if p := ag.submit("/console", detail+"/acknowledge", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("agency acknowledge: %d, want 403", p.status)
	}

	ad := r.browser()
	ad.signIn(r.env, as)
	if got := rxListed(t, ad, "/console/reconciliation/exceptions"); !slices.Equal(got, rxIDs(id)) {
		t.Fatalf("admin's queue: %v", got)
	}
	page := ad.get(detail)
	if page.status != http.StatusOK || strings.Contains(page.body, `id="resolve-form"`) || strings.Contains(page.body, `id="rx-bulk"`) ||
		!strings.Contains(page.body, `id="events"`) {
		t.Fatalf("admin's exception page: %d, forms shown", page.status)
	}
	for _, action := range []string{"acknowledge", "note", "resolve"} {
		if p := ad.submit(detail, detail+"/"+action, url.Values{"note": {"x"}, "resolution": {"accepted"}}); p.status != http.StatusForbidden {
			t.Errorf("admin %s: %d, want 403", action, p.status)
		}
	}
	if p := ad.submit("/console/reconciliation/exceptions", "/console/reconciliation/exceptions/bulk",
		url.Values{"id": {fmt.Sprint(id)}, "action": {"acknowledge"}}); p.status != http.StatusForbidden {
		t.Errorf("admin bulk: %d, want 403", p.status)
	}

	tr := r.browser()
	tr.signIn(r.env, ts)
	if p := tr.get("/console/reconciliation"); p.status != http.StatusOK || !strings.Contains(p.body, `id="calendar"`) ||
		!strings.Contains(p.body, `href="/console/reconciliation/exceptions"`) {
		t.Errorf("/console/reconciliation (the calendar, linking to the queue): %d", p.status)
	}
	if p := tr.do(http.MethodPost, detail+"/acknowledge", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("acknowledge without the form token: %d, want 403", p.status)
	}
	if p := tr.do(http.MethodPost, detail+"/acknowledge", url.Values{"csrf": {"forged"}}); p.status != http.StatusForbidden {
		t.Errorf("acknowledge with a forged token: %d, want 403", p.status)
	}
	if r.count(`SELECT count(*) FROM recon_exceptions WHERE acknowledged_at IS NOT NULL`) != 0 {
		t.Fatal("a refused form changed the exception")
	}
	p := tr.submit(detail, detail+"/acknowledge", url.Values{})
	if p.status != http.StatusSeeOther || p.location != detail+"?done=acknowledge" {
		t.Fatalf("acknowledge: %d → %q\n%s", p.status, p.location, p.body)
	}
	if page := tr.get(p.location); !strings.Contains(page.body, "Acknowledged.") || !strings.Contains(page.body, "lan@example.vn") {
		t.Fatalf("after acknowledging:\n%s", page.body)
	}
	if n := r.count(`SELECT count(*) FROM audit_log WHERE action = 'reconciliation.exception.acknowledge' AND actor_role = 'staff:treasury'`); n != 1 {
		t.Fatalf("%d audit rows for the acknowledgement by treasury staff", n)
	}
}

// TestExceptionQueueFiltersSnoozesAndBulkResolves: the age buckets, a
// snoozed exception out of the default view until its day, and a bulk
// resolution recorded on each exception selected; a bulk resolve without
// a note is a 422 saying so next to the note.
func TestExceptionQueueFiltersSnoozesAndBulkResolves(t *testing.T) {
	t.Parallel()
	r := newReconEnv(t, nil)
	fresh, week, month, old := r.raise("vnpay", "missing_here", 1), r.raise("bank", "unknown", 5), r.raise("momo", "duplicate", 20),
		r.raise("bank", "unknown", 45)
	_, ts := r.user("lan@example.vn", RoleTreasury, "")
	_, _ = r.user("minh@example.vn", RoleTreasury, "")
	b := r.browser()
	b.signIn(r.env, ts)
	const list = "/console/reconciliation/exceptions"
	for query, want := range map[string][]string{
		"":                       rxIDs(fresh, week, month, old),
		"?age=0-1":               rxIDs(fresh),
		"?age=2-7":               rxIDs(week),
		"?age=8-30":              rxIDs(month),
		"?age=31%2B":             rxIDs(old),
		"?source=bank&age=31%2B": rxIDs(old),
		"?class=duplicate":       rxIDs(month),
		"?state=resolved":        {},
	} {
		if got := rxListed(t, b, list+query); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", query, got, want)
		}
	}
	if p := b.get(list + "?age=old"); p.status != http.StatusBadRequest {
		t.Errorf("a bad age bucket: %d, want 400", p.status)
	}

	detail := fmt.Sprintf("%s/%d", list, week)
	until := r.today.AddDate(0, 0, 2).Format(time.DateOnly)
	if p := b.submit(detail, detail+"/snooze", url.Values{"until": {r.today.Format(time.DateOnly)}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, `id="snooze-until-error"`) {
		t.Fatalf("snooze until today: %d", p.status)
	}
	if p := b.submit(detail, detail+"/snooze", url.Values{"until": {until}, "note": {"waiting for the bank"}}); p.status != http.StatusSeeOther {
		t.Fatalf("snooze: %d\n%s", p.status, p.body)
	}
	if got := rxListed(t, b, list); !slices.Equal(got, rxIDs(fresh, month, old)) {
		t.Fatalf("default view while snoozed: %v", got)
	}
	if got := rxListed(t, b, list+"?state=snoozed"); !slices.Equal(got, rxIDs(week)) {
		t.Fatalf("snoozed view: %v", got)
	}
	r.clock.Advance(48 * time.Hour)
	b.signIn(r.env, ts) // the session's idle timeout has passed
	if got := rxListed(t, b, list); !slices.Equal(got, rxIDs(fresh, week, month, old)) {
		t.Fatalf("default view on the day: %v", got)
	}

	// Assign two to a colleague, then resolve them with one note.
	sel := url.Values{"id": {fmt.Sprint(fresh), fmt.Sprint(month)}}
	form := func(extra url.Values) url.Values {
		v := url.Values{}
		for k, x := range sel {
			v[k] = x
		}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	if p := b.submit(list, list+"/bulk", form(url.Values{"action": {"assign"}, "assignee": {"treasury:staff:minh@example.vn"}})); p.status != http.StatusSeeOther {
		t.Fatalf("bulk assign: %d\n%s", p.status, p.body)
	}
	if p := b.submit(list, list+"/bulk", form(url.Values{"action": {"assign"}, "assignee": {"treasury:staff:stranger@example.vn"}})); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bulk assign to someone not in treasury: %d", p.status)
	}
	if got := rxListed(t, b, list+"?assignee=treasury%3Astaff%3Aminh%40example.vn"); !slices.Equal(got, rxIDs(fresh, month)) {
		t.Fatalf("minh's: %v", got)
	}
	p := b.submit(list, list+"/bulk", form(url.Values{"action": {"resolve"}, "resolution": {"accepted"}, "note": {" "}}))
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="bulk-note-error"`) {
		t.Fatalf("bulk resolve without a note: %d", p.status)
	}
	p = b.submit(list, list+"/bulk", form(url.Values{"action": {"resolve"}, "resolution": {"accepted"}, "note": {"paid in tomorrow's files"}}))
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "ok=2") {
		t.Fatalf("bulk resolve: %d → %q", p.status, p.location)
	}
	for _, id := range []int64{fresh, month} {
		if r.status(id) != "resolved" || r.count(`SELECT count(*) FROM recon_exception_events WHERE exception_id = $1 AND action = 'resolved'`, id) != 1 ||
			r.count(`SELECT count(*) FROM audit_log WHERE action = 'reconciliation.exception.resolve' AND resource_id = $1`, fmt.Sprint(id)) != 1 {
			t.Errorf("exception %d not resolved on its own", id)
		}
	}
	if r.status(week) != "open" || r.status(old) != "open" {
		t.Fatal("an exception not selected was resolved")
	}
}

// TestResolutionWaitsForASecondTreasuryUser: a refund above the approval
// amount waits; its requester is not offered, and is refused, the
// approval; another treasury user approves, once; the entry is posted once.
func TestResolutionWaitsForASecondTreasuryUser(t *testing.T) {
	t.Parallel()
	r := newReconEnv(t, func(c *reconciliation.Config) { c.ApprovalAmount = decimal.NewFromInt(100_000) })
	id := r.creditInSuspense(150_000)
	_, as := r.user("lan@example.vn", RoleTreasury, "")
	_, bs := r.user("minh@example.vn", RoleTreasury, "")
	detail := fmt.Sprintf("/console/reconciliation/exceptions/%d", id)
	a := r.browser()
	a.signIn(r.env, as)
	if p := a.submit(detail, detail+"/act", url.Values{"kind": {"refund_sender"}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, `id="act-note-error"`) {
		t.Fatalf("a resolution without a note: %d", p.status)
	}
	p := a.submit(detail, detail+"/act", url.Values{"kind": {"refund_sender"}, "note": {"the sender's bank asked for it back"}})
	if p.status != http.StatusSeeOther || !strings.HasSuffix(p.location, "done=pending") {
		t.Fatalf("request: %d → %q\n%s", p.status, p.location, p.body)
	}
	page := a.get(detail)
	if !strings.Contains(page.body, `id="own-request"`) || strings.Contains(page.body, `id="approve-form"`) {
		t.Fatal("the requester is offered the approval")
	}
	var resID int64
	if err := r.pool.QueryRow(context.Background(), `SELECT id FROM recon_resolutions WHERE exception_id = $1`, id).Scan(&resID); err != nil {
		t.Fatal(err)
	}
	approve := fmt.Sprintf("/console/reconciliation/resolutions/%d/approve", resID)
	if p := a.submit(detail, approve, url.Values{"exception": {fmt.Sprint(id)}}); p.status != http.StatusForbidden {
		t.Fatalf("own approval: %d, want 403", p.status)
	}
	if n := r.count(`SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1`, fmt.Sprintf("recon:resolve:%d:refund", id)); n != 0 {
		t.Fatal("posted before the approval")
	}

	b := r.browser()
	b.signIn(r.env, bs)
	if page := b.get(detail); !strings.Contains(page.body, `id="approve-form"`) {
		t.Fatal("the second treasury user is not offered the approval")
	}
	if p := b.submit(detail, approve, url.Values{"exception": {fmt.Sprint(id)}, "note": {"checked with the bank"}}); p.status != http.StatusSeeOther {
		t.Fatalf("approval: %d\n%s", p.status, p.body)
	}
	if p := b.submit(detail, approve, url.Values{"exception": {fmt.Sprint(id)}}); p.status != http.StatusConflict {
		t.Fatalf("approving again: %d, want 409", p.status)
	}
	if n := r.count(`SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1`, fmt.Sprintf("recon:resolve:%d:refund", id)); n != 1 ||
		r.status(id) != "resolved" {
		t.Fatalf("%d refund entries, exception %s", n, r.status(id))
	}
	if n := r.count(`SELECT count(*) FROM audit_log WHERE action = 'reconciliation.resolution.approve' AND actor LIKE 'user:%'`); n != 1 {
		t.Fatalf("%d approval audit rows", n)
	}
	// Reopening a resolution that moved money is refused.
	if p := b.submit(detail, detail+"/reopen", url.Values{"note": {"wrong"}}); p.status != http.StatusConflict {
		t.Fatalf("reopen a posted resolution: %d, want 409", p.status)
	}
}

// TestExceptionQueueMessagesExist: every message the pages build from a
// state, class, source, age, kind, difference, event or error code exists.
func TestExceptionQueueMessagesExist(t *testing.T) {
	t.Parallel()
	var keys []string
	add := func(prefix string, xs ...string) {
		for _, x := range xs {
			keys = append(keys, prefix+x)
		}
	}
	add("rx.state.", reconciliation.QueueStates...)
	add("rx.state.", reconciliation.ExceptionOpen, reconciliation.StatePendingApproval)
	add("rx.class.", "missing_here", "missing_there", "amount_mismatch", "duplicate", "unknown")
	add("rx.source.", reconciliation.Sources()...)
	add("rx.age.", reconciliation.AgeBuckets...)
	add("rx.resolution.", reconciliation.Resolutions...)
	add("rx.difference.", reconciliation.Differences...)
	add("rx.resolution.status.", reconciliation.ResolutionPending, reconciliation.ResolutionPosted, reconciliation.ResolutionRejected)
	for _, k := range reconciliation.ResolutionKinds {
		keys = append(keys, "rx.kind."+string(k))
	}
	add("rx.event.", "raised", "reclassified", "auto_resolved", "resolved", "cleared", "reopened", "awaiting_approval", "approved",
		"acknowledged", "assigned", "noted", "snoozed", "resolution_requested", "resolution_rejected")
	add("rx.done.", "acknowledge", "assign", "note", "snooze", "wake", "resolve", "reopen", "act", "pending", "approve", "reject",
		"approve-credit")
	for _, k := range keys {
		if _, ok := messages[k]; !ok {
			t.Errorf("no message %q", k)
		}
	}
}
