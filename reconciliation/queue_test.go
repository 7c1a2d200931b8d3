package reconciliation_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/matcher"
)

// queueFx is a service whose clock stands at 10:00 on day0 + 40 days, with
// exceptions put straight into the database.
type queueFx struct {
	*fx
	clock *clock.Fake
	today time.Time
	runID int64
}

func newQueueFx(t *testing.T) *queueFx {
	t.Helper()
	f := newFx(t)
	q := &queueFx{fx: f, today: day0.AddDate(0, 0, 40)}
	q.clock = clock.NewFake(q.today.Add(10 * time.Hour))
	f.svc = reconciliation.New(f.pool, defaultConfig(t), slog.New(slog.DiscardHandler), reconciliation.Deps{Clock: q.clock})
	if err := f.pool.QueryRow(f.ctx, `INSERT INTO recon_runs (source, business_date, trigger, requested_by, status)
		VALUES ('bank', $1, 'test', 'test', 'completed') RETURNING id`, day0).Scan(&q.runID); err != nil {
		t.Fatal(err)
	}
	return q
}

// raise inserts an open exception of source and class, age days before today.
func (q *queueFx) raise(source string, class matcher.Class, age int) int64 {
	q.t.Helper()
	var id int64
	if err := q.pool.QueryRow(q.ctx, `INSERT INTO recon_exceptions (key, source, business_date, class, first_run_id, last_run_id, detail)
		VALUES ($1, $2, $3, $4, $5, $5, 'test') RETURNING id`, fmt.Sprintf("test:%d", q.seq.Add(1)), source,
		q.today.AddDate(0, 0, -age), class, q.runID).Scan(&id); err != nil {
		q.t.Fatal(err)
	}
	return id
}

func (q *queueFx) ids(f reconciliation.QueueFilter) []int64 {
	q.t.Helper()
	list, err := q.svc.Queue(q.ctx, f)
	if err != nil {
		q.t.Fatalf("queue %+v: %v", f, err)
	}
	out := []int64{}
	for _, e := range list {
		out = append(out, e.ID)
	}
	return out
}

// TestQueueFiltersByAgeClassSourceAndAssignee: each age bucket holds the
// days it names, and the filters combine.
func TestQueueFiltersByAgeClassSourceAndAssignee(t *testing.T) {
	t.Parallel()
	q := newQueueFx(t)
	today := q.raise("vnpay", matcher.MissingHere, 0)
	yesterday := q.raise("bank", matcher.Unknown, 1)
	week := q.raise("bank", matcher.Unknown, 7)
	eight := q.raise("momo", matcher.AmountMismatch, 8)
	month := q.raise("vnpay", matcher.MissingThere, 30)
	old := q.raise("vnpay", matcher.Duplicate, 31)
	if _, err := q.svc.Assign(q.ctx, week, "treasury:staff:lan@example.vn", "treasury:staff:minh@example.vn"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    reconciliation.QueueFilter
		want []int64
	}{
		{reconciliation.QueueFilter{}, []int64{today, yesterday, week, eight, month, old}},
		{reconciliation.QueueFilter{Age: "0-1"}, []int64{today, yesterday}},
		{reconciliation.QueueFilter{Age: "2-7"}, []int64{week}},
		{reconciliation.QueueFilter{Age: "8-30"}, []int64{eight, month}},
		{reconciliation.QueueFilter{Age: "31+"}, []int64{old}},
		{reconciliation.QueueFilter{Source: "vnpay", Age: "8-30"}, []int64{month}},
		{reconciliation.QueueFilter{Class: matcher.Unknown}, []int64{yesterday, week}},
		{reconciliation.QueueFilter{Assignee: "treasury:staff:lan@example.vn"}, []int64{week}},
		{reconciliation.QueueFilter{Assignee: "none", Source: "bank"}, []int64{yesterday}},
		{reconciliation.QueueFilter{After: eight, Limit: 1}, []int64{month}},
		{reconciliation.QueueFilter{State: reconciliation.ExceptionResolved}, []int64{}},
		{reconciliation.QueueFilter{State: reconciliation.StateAll, Age: "31+"}, []int64{old}},
	} {
		if got := q.ids(c.f); !slices.Equal(got, c.want) {
			t.Errorf("queue %+v = %v, want %v", c.f, got, c.want)
		}
	}
	for _, bad := range []reconciliation.QueueFilter{{Age: "3-4"}, {State: "gone"}, {Class: matcher.Matched}, {Source: "paypal"}} {
		if _, err := q.svc.Queue(q.ctx, bad); !errors.Is(err, reconciliation.ErrInvalid) {
			t.Errorf("queue %+v: %v, want ErrInvalid", bad, err)
		}
	}
}

// TestSnoozeHidesUntilTheDay: a snoozed exception leaves the default view
// until the day it is snoozed to, and is in the snoozed view meanwhile.
func TestSnoozeHidesUntilTheDay(t *testing.T) {
	t.Parallel()
	q := newQueueFx(t)
	a, b := q.raise("bank", matcher.Unknown, 2), q.raise("bank", matcher.Unknown, 2)
	if _, err := q.svc.Snooze(q.ctx, a, q.today, "", "treasury:x"); !errors.Is(err, reconciliation.ErrInvalid) {
		t.Fatalf("snooze until today: %v", err)
	}
	e, err := q.svc.Snooze(q.ctx, a, q.today.AddDate(0, 0, 3), "the bank answers on Friday", "treasury:x")
	if err != nil || e.SnoozedUntil != q.today.AddDate(0, 0, 3).Format(time.DateOnly) || e.State(q.today.Format(time.DateOnly)) != reconciliation.StateSnoozed {
		t.Fatalf("snoozed = %+v, %v", e, err)
	}
	if got := q.ids(reconciliation.QueueFilter{}); !slices.Equal(got, []int64{b}) {
		t.Fatalf("default view while snoozed: %v", got)
	}
	if got := q.ids(reconciliation.QueueFilter{State: reconciliation.StateSnoozed}); !slices.Equal(got, []int64{a}) {
		t.Fatalf("snoozed view: %v", got)
	}
	q.clock.Advance(2 * 24 * time.Hour)
	if got := q.ids(reconciliation.QueueFilter{}); !slices.Equal(got, []int64{b}) {
		t.Fatalf("the day before: %v", got)
	}
	q.clock.Advance(24 * time.Hour)
	if got := q.ids(reconciliation.QueueFilter{}); !slices.Equal(got, []int64{a, b}) {
		t.Fatalf("on the day: %v", got)
	}
	if n := q.count(`SELECT count(*) FROM recon_exception_events WHERE exception_id = $1 AND action = 'snoozed'
		AND note LIKE '%Friday%'`, a); n != 1 {
		t.Fatalf("%d snooze events", n)
	}
}

// TestQueueStatesAndTheirHistory: acknowledge, assign, notes, resolve and
// reopen, each an event with who and when and an audit row; the states
// filter as the queue shows them.
func TestQueueStatesAndTheirHistory(t *testing.T) {
	t.Parallel()
	q := newQueueFx(t)
	a, b := q.raise("bank", matcher.Unknown, 1), q.raise("bank", matcher.Unknown, 1)
	const lan, minh = "treasury:staff:lan@example.vn", "treasury:staff:minh@example.vn"
	if _, err := q.svc.Acknowledge(q.ctx, a, lan); err != nil {
		t.Fatal(err)
	}
	if _, err := q.svc.Acknowledge(q.ctx, a, minh); err != nil { // again: nothing changes
		t.Fatal(err)
	}
	if _, err := q.svc.AddNote(q.ctx, a, "  called the bank  ", lan); err != nil {
		t.Fatal(err)
	}
	if _, err := q.svc.AddNote(q.ctx, a, " ", lan); !errors.Is(err, reconciliation.ErrInvalid) {
		t.Fatalf("an empty note: %v", err)
	}
	if got := q.ids(reconciliation.QueueFilter{State: reconciliation.StateAcknowledged}); !slices.Equal(got, []int64{a}) {
		t.Fatalf("acknowledged: %v", got)
	}
	if got := q.ids(reconciliation.QueueFilter{State: reconciliation.StateOpen}); !slices.Equal(got, []int64{b}) {
		t.Fatalf("open: %v", got)
	}
	if _, err := q.svc.Resolve(q.ctx, a, "not_an_error", "the bank's test credit", minh); err != nil {
		t.Fatal(err)
	}
	if _, err := q.svc.Acknowledge(q.ctx, a, lan); !errors.Is(err, reconciliation.ErrAlreadyResolved) {
		t.Fatalf("acknowledge a resolved one: %v", err)
	}
	if _, err := q.svc.Reopen(q.ctx, a, "", minh); !errors.Is(err, reconciliation.ErrInvalid) {
		t.Fatalf("reopen without a note: %v", err)
	}
	e, err := q.svc.Reopen(q.ctx, a, "it was not a test after all", minh)
	if err != nil || e.Status != reconciliation.ExceptionOpen || e.ResolvedBy != "" || e.Resolution != "" {
		t.Fatalf("reopened = %+v, %v", e, err)
	}
	if _, err := q.svc.Reopen(q.ctx, b, "n", minh); !errors.Is(err, reconciliation.ErrNotReopenable) {
		t.Fatalf("reopen an open one: %v", err)
	}
	events, err := q.svc.ExceptionEvents(q.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range events {
		got = append(got, ev.Action+" "+ev.Actor+" "+ev.Note)
	}
	want := []string{"acknowledged " + lan + " ", "noted " + lan + " called the bank",
		"resolved " + minh + " not_an_error: the bank's test credit", "reopened " + minh + " it was not a test after all"}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n%q\nwant\n%q", got, want)
	}
	if n := q.count(`SELECT count(*) FROM audit_log WHERE resource_type = 'recon_exception' AND resource_id = $1`, fmt.Sprint(a)); n != 4 {
		t.Fatalf("%d audit rows, want 4", n)
	}
}

// TestBulkResolveRecordsEachException: one note, one resolution, each
// exception resolved with its own event and audit row; one that cannot be
// resolved is reported and leaves the others done.
func TestBulkResolveRecordsEachException(t *testing.T) {
	t.Parallel()
	q := newQueueFx(t)
	a, b, c := q.raise("momo", matcher.MissingThere, 3), q.raise("momo", matcher.MissingThere, 3), q.raise("momo", matcher.MissingThere, 3)
	if _, err := q.svc.Resolve(q.ctx, c, "accepted", "earlier", "treasury:x"); err != nil {
		t.Fatal(err)
	}
	if _, err := q.svc.BulkResolve(q.ctx, []int64{a, b}, "accepted", " ", "treasury:x"); !errors.Is(err, reconciliation.ErrInvalid) {
		t.Fatalf("bulk without a note: %v", err)
	}
	if _, err := q.svc.BulkAssign(q.ctx, []int64{a, b, b}, "treasury:staff:lan@example.vn", "treasury:x"); err != nil {
		t.Fatal(err)
	}
	res, err := q.svc.BulkResolve(q.ctx, []int64{a, b, c}, "accepted", "MoMo pays these in tomorrow's file", "treasury:y")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0].Err != nil || res[1].Err != nil || !errors.Is(res[2].Err, reconciliation.ErrAlreadyResolved) {
		t.Fatalf("bulk = %+v", res)
	}
	for _, id := range []int64{a, b} {
		if n := q.count(`SELECT count(*) FROM recon_exceptions WHERE id = $1 AND status = 'resolved' AND resolved_by = 'treasury:y'
			AND note = 'MoMo pays these in tomorrow''s file' AND assignee = 'treasury:staff:lan@example.vn'`, id); n != 1 {
			t.Errorf("exception %d not resolved as asked", id)
		}
		if n := q.count(`SELECT count(*) FROM recon_exception_events WHERE exception_id = $1 AND action = 'resolved'`, id); n != 1 {
			t.Errorf("exception %d: %d resolved events", id, n)
		}
		if n := q.count(`SELECT count(*) FROM audit_log WHERE action = 'reconciliation.exception.resolve' AND resource_id = $1`,
			fmt.Sprint(id)); n != 1 {
			t.Errorf("exception %d: %d audit rows", id, n)
		}
	}
	if n := q.count(`SELECT count(*) FROM audit_log WHERE action = 'reconciliation.exception.assign'`); n != 2 {
		t.Fatalf("%d assign audit rows (a duplicate id twice?)", n)
	}
}
