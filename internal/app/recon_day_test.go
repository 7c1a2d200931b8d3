package app_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/reconciliation"
)

// A day closed through the API publishes reconciliation.day_closed once,
// however often the closing is retried; its report downloads as PDF and
// XLSX; reopening it waits for a second treasury key, and closing it again
// is a new closing, told again.
func TestDayClosedIsPublishedOnceAndReopenedByASecondKey(t *testing.T) {
	t.Parallel()
	e := apptest.NewQuiet(t)
	ctx := context.Background()
	const day = "2025-03-01"
	for _, src := range reconciliation.Sources() {
		if _, err := e.Pool.Exec(ctx, `INSERT INTO recon_runs (source, business_date, trigger, requested_by, status, stage)
			VALUES ($1, $2, 'test', 'test', 'completed', 'done')`, src, day); err != nil {
			t.Fatal(err)
		}
	}
	events := func() int {
		t.Helper()
		var n int
		if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_events WHERE type = 'reconciliation.day_closed'
			AND subject = 'business-day:'||$1 AND payload->'data'->>'report' = '/v1/days/'||$1||'/report'`, day).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if r := e.Do(t, "GET", "/v1/days/"+day+"/report", e.Admin, nil); r.Status != http.StatusNotFound {
		t.Fatalf("report of an open day: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/v1/days/"+day+"/close", e.Treasury, `{"note":"reconciled"}`); r.Status != http.StatusOK {
		t.Fatalf("close: %d %s", r.Status, r.Body)
	}
	for _, key := range []string{e.Treasury, e.AdminTreasury} {
		if r := e.Do(t, "POST", "/v1/days/"+day+"/close", key, `{"note":"retry"}`); r.Status != http.StatusConflict {
			t.Fatalf("close retried: %d %s", r.Status, r.Body)
		}
	}
	if n := events(); n != 1 {
		t.Fatalf("%d day_closed events after a retried closing", n)
	}
	if r := e.Do(t, "GET", "/v1/days/"+day+"/report?format=pdf&lang=en", e.Admin, nil); r.Status != http.StatusOK ||
		!bytes.HasPrefix(r.Body, []byte("%PDF")) {
		t.Fatalf("report.pdf: %d %.40q", r.Status, r.Body)
	}
	if r := e.Do(t, "GET", "/v1/days/"+day+"/report?format=xlsx", e.Treasury, nil); r.Status != http.StatusOK ||
		!bytes.HasPrefix(r.Body, []byte("PK")) {
		t.Fatalf("report.xlsx: %d %.40q", r.Status, r.Body)
	}

	if r := e.Do(t, "POST", "/v1/days/"+day+"/reopen", e.Treasury, `{"reason":"a refund on the wrong day"}`); r.Status != http.StatusCreated ||
		!strings.Contains(string(r.Body), `"status":"pending"`) {
		t.Fatalf("reopen: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/v1/days/"+day+"/reopen/approve", e.Treasury, `{}`); r.Status != http.StatusForbidden {
		t.Fatalf("the requester approving: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/v1/days/"+day+"/reopen/approve", e.Admin, `{}`); r.Status != http.StatusForbidden {
		t.Fatalf("admin approving: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/v1/days/"+day+"/reopen/approve", e.AdminTreasury, `{"note":"checked"}`); r.Status != http.StatusOK ||
		!strings.Contains(string(r.Body), `"status":"approved"`) {
		t.Fatalf("a second key approving: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "GET", "/v1/days/"+day, e.Admin, nil); r.Status != http.StatusOK || strings.Contains(string(r.Body), `"closed"`) {
		t.Fatalf("the reopened day: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/v1/days/"+day+"/reopen/reject", e.Treasury, `{}`); r.Status != http.StatusNotFound {
		t.Fatalf("rejecting with nothing waiting: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/v1/days/"+day+"/close", e.AdminTreasury, `{}`); r.Status != http.StatusOK {
		t.Fatalf("closing again: %d %s", r.Status, r.Body)
	}
	if n := events(); n != 2 {
		t.Fatalf("%d day_closed events for two closings", n)
	}
}
