package console

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"riverqueue.com/riverui"
)

// send is do for a request the test builds itself (headers, JSON body).
func (b *browser) send(req *http.Request) page {
	b.t.Helper()
	req.Header.Set("Accept-Language", "en")
	req.Header.Set("X-Test-IP", b.ip)
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := b.app.Test(req, -1)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body)}
}

// withJobs mounts River's UI, on a client of the test's database, in e's console.
func (e *env) withJobs() {
	e.t.Helper()
	rc, err := river.NewClient(riverpgxv5.New(e.pool), &river.Config{Logger: e.h.log})
	if err != nil {
		e.t.Fatal(err)
	}
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(rc, nil), Logger: e.h.log, Prefix: JobsPrefix})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := ui.Start(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	e.h.SetJobs(ui)
}

func (e *env) countAudit(action string) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = $1`, action).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestJobsUI: River's UI answers admins only, through the mount (its page
// and its JSON API); a non-GET request from another origin, or with no
// origin at all, is refused and not passed on; one from the console's own
// origin is passed on and audited with who, method and path.
func TestJobsUI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.withJobs()
	_, adminSecret := e.user("admin@example.vn", RoleAdmin, "")
	_, treasurySecret := e.user("treasury@example.vn", RoleTreasury, "")
	_, agencySecret := e.user("agency@example.vn", RoleAgency, "STP-HCM")

	anon := e.browser()
	for _, path := range []string{"/console/jobs", "/console/jobs/", "/console/jobs/api/jobs?state=available"} {
		if p := anon.get(path); p.status != http.StatusSeeOther || p.location != "/console/login" {
			t.Errorf("anonymous %s: %d → %q, want the sign-in page", path, p.status, p.location)
		}
	}
	for name, secret := range map[string]string{"treasury": treasurySecret, "agency": agencySecret} {
		b := e.browser()
		b.signIn(e, secret)
		for _, path := range []string{"/console/jobs/", "/console/jobs/api/jobs?state=available"} {
			if p := b.get(path); p.status != http.StatusForbidden {
				t.Errorf("%s %s: %d, want 403", name, path, p.status)
			}
		}
		if p := b.get("/console"); strings.Contains(p.body, `id="nav-jobs"`) {
			t.Errorf("%s sees the jobs link", name)
		}
	}

	b := e.browser()
	b.signIn(e, adminSecret)
	if p := b.get("/console"); !strings.Contains(p.body, `href="/console/jobs" id="nav-jobs"`) {
		t.Errorf("the admin's navigation has no jobs link:\n%s", p.body)
	}
	if p := b.get("/console/jobs/"); p.status != http.StatusOK || !strings.Contains(p.body, "/console/jobs/assets/") {
		t.Errorf("admin, the UI's page: %d\n%.500s", p.status, p.body)
	}
	if p := b.get("/console/jobs/api/jobs?state=available"); p.status != http.StatusOK || !strings.HasPrefix(p.body, `{"data":[`) {
		t.Errorf("admin, the UI's API: %d %.300s", p.status, p.body)
	}

	post := func(method, path string, headers map[string]string) page {
		req := httptest.NewRequest(method, path, strings.NewReader(`{"job_ids":["1"]}`))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		return b.send(req)
	}
	refused := []struct {
		name, method string
		headers      map[string]string
	}{
		{"another origin", http.MethodPost, map[string]string{"Origin": "https://evil.example"}},
		{"cross-site fetch", http.MethodPost, map[string]string{"Origin": "http://example.com", "Sec-Fetch-Site": "cross-site"}},
		{"no origin", http.MethodPost, nil},
		{"another origin, PUT", http.MethodPut, map[string]string{"Origin": "https://evil.example"}},
		{"same-site subdomain, PATCH", http.MethodPatch, map[string]string{"Sec-Fetch-Site": "same-site"}},
	}
	for _, r := range refused {
		path := "/console/jobs/api/jobs/cancel"
		if r.method != http.MethodPost {
			path = "/console/jobs/api/queues/default"
		}
		if p := post(r.method, path, r.headers); p.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403\n%.300s", r.name, p.status, p.body)
		}
	}
	if n := e.countAudit("staff.jobs.request"); n != 0 {
		t.Errorf("refused requests audited: %d rows", n)
	}

	// httptest's requests are to host example.com: this is the console's own origin.
	p := post(http.MethodPost, "/console/jobs/api/jobs/cancel", map[string]string{"Origin": "http://example.com", "Sec-Fetch-Site": "same-origin"})
	if p.status == http.StatusForbidden || p.status >= 500 || !strings.HasPrefix(p.body, "{") {
		t.Errorf("same-origin cancel: %d %.300s, want the UI's own JSON answer", p.status, p.body)
	}
	var actor, route, after string
	err := e.pool.QueryRow(context.Background(), `SELECT actor, route, after::text FROM audit_log WHERE action = 'staff.jobs.request'`).
		Scan(&actor, &route, &after)
	if err != nil {
		t.Fatalf("the UI's POST is not audited: %v", err)
	}
	if !strings.HasPrefix(actor, "user:") || route != "POST /console/jobs/*" ||
		!strings.Contains(after, `"method": "POST"`) || !strings.Contains(after, `"path": "/console/jobs/api/jobs/cancel"`) {
		t.Errorf("audit row: actor %q route %q after %s", actor, route, after)
	}
}

// TestJobsUINotMounted: before SetJobs the page is a 404, not a panic.
func TestJobsUINotMounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, secret := e.user("admin@example.vn", RoleAdmin, "")
	b := e.browser()
	b.signIn(e, secret)
	if p := b.get("/console/jobs/"); p.status != http.StatusNotFound {
		t.Errorf("no UI: %d, want 404", p.status)
	}
}

// seedAudit writes n entries by actor with action at the given instant.
func (e *env) seedAudit(at time.Time, actor, action, resourceID string, n int) {
	e.t.Helper()
	_, err := e.pool.Exec(context.Background(), `
		INSERT INTO audit_log (at, actor, actor_role, action, resource_type, resource_id)
		SELECT $1, $2, 'admin', $3, 'order', $4 FROM generate_series(1, $5)`, at, actor, action, resourceID, n)
	if err != nil {
		e.t.Fatal(err)
	}
}

var auditRowRE = regexp.MustCompile(`<tr data-id="(\d+)">`)

// TestAuditPage: the log's page filters by actor, action, target and GMT+7
// days, pages by keyset (no row twice, none missed), downloads the whole
// filtered list as CSV with formula cells neutralised, and is refused to
// agency staff and to nobody signed in.
func TestAuditPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, adminSecret := e.user("admin@example.vn", RoleAdmin, "")
	_, treasurySecret := e.user("treasury@example.vn", RoleTreasury, "")
	_, agencySecret := e.user("agency@example.vn", RoleAgency, "STP-HCM")

	// Long before the sign-ins' own entries (at the database's now()).
	// 23:30 GMT+7 on 1 Dec is 16:30 UTC: the 1st in Hanoi, whatever UTC says.
	day1Late := time.Date(2020, 12, 1, 16, 30, 0, 0, time.UTC)
	// 00:30 GMT+7 on 2 Dec is 17:30 UTC on the 1st.
	day2Early := time.Date(2020, 12, 1, 17, 30, 0, 0, time.UTC)
	e.seedAudit(day1Late, "key:alpha", "refund.create", "ORD-1", 3)
	e.seedAudit(day2Early, "key:alpha", "refund.create", "ORD-2", 120)
	e.seedAudit(day2Early, "key:beta", "=HYPERLINK(\"http://x\")", "ORD-3", 1)

	if p := e.browser().get("/console/audit"); p.status != http.StatusSeeOther || p.location != "/console/login" {
		t.Errorf("anonymous: %d → %q", p.status, p.location)
	}
	ag := e.browser()
	ag.signIn(e, agencySecret)
	for _, path := range []string{"/console/audit", "/console/audit.csv"} {
		if p := ag.get(path); p.status != http.StatusForbidden {
			t.Errorf("agency %s: %d, want 403", path, p.status)
		}
	}
	tr := e.browser()
	tr.signIn(e, treasurySecret)
	if p := tr.get("/console/audit?actor=key:beta"); p.status != http.StatusOK || len(auditRowRE.FindAllString(p.body, -1)) != 1 {
		t.Errorf("treasury: %d, %d rows", p.status, len(auditRowRE.FindAllString(p.body, -1)))
	}

	b := e.browser()
	b.signIn(e, adminSecret)
	rows := func(path string) (ids []string, next string) {
		t.Helper()
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("%s: %d\n%s", path, p.status, p.body)
		}
		for _, m := range auditRowRE.FindAllStringSubmatch(p.body, -1) {
			ids = append(ids, m[1])
		}
		if m := regexp.MustCompile(`href="([^"]+)" id="audit-next"`).FindStringSubmatch(p.body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
		return ids, next
	}
	for _, c := range []struct {
		query string
		want  int
	}{
		{"actor=key:alpha&from=2020-12-01&to=2020-12-01", 3},
		{"actor=key:alpha&from=2020-12-02&to=2020-12-02", 50}, // the first page of 120
		{"resource_id=ORD-1", 3},
		{"action=refund.create&resource_type=order&resource_id=ORD-3", 0},
		{"actor=key:beta", 1},
		{"from=2020-12-03&to=2020-12-31", 0},
	} {
		if ids, _ := rows("/console/audit?" + c.query); len(ids) != c.want {
			t.Errorf("%s: %d rows, want %d", c.query, len(ids), c.want)
		}
	}
	for _, bad := range []string{"from=2020-13-01", "from=2020-12-02&to=2020-12-01", "cursor=x"} {
		if p := b.get("/console/audit?" + bad); p.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, p.status)
		}
	}

	// Paging: 120 + 3 of key:alpha, newest first, 50 a page, each once.
	seen := map[string]bool{}
	path, pages := "/console/audit?actor=key:alpha", 0
	for path != "" {
		ids, next := rows(path)
		pages++
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("row %s on two pages", id)
			}
			seen[id] = true
		}
		if next != "" && !strings.Contains(next, "actor=key%3Aalpha") {
			t.Fatalf("the next page drops the filter: %s", next)
		}
		path = next
	}
	if len(seen) != 123 || pages != 3 {
		t.Errorf("paging: %d rows in %d pages, want 123 in 3", len(seen), pages)
	}

	// CSV: the whole filtered list (more than a page of the screen), header
	// first, the formula neutralised.
	p := b.get("/console/audit.csv?from=2020-12-02&to=2020-12-02")
	if p.status != http.StatusOK {
		t.Fatalf("CSV: %d", p.status)
	}
	recs, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+121 || recs[0][0] != "id" || recs[0][4] != "action" {
		t.Fatalf("CSV: %d records, header %v", len(recs), recs[0])
	}
	var beta []string
	for _, r := range recs[1:] {
		if r[2] == "key:beta" {
			beta = r
		}
		if r[6] == "ORD-1" {
			t.Errorf("CSV has a row of the 1st: %v", r)
		}
	}
	if beta == nil || beta[4] != `'=HYPERLINK("http://x")` {
		t.Errorf("CSV formula cell not neutralised: %v", beta)
	}
	// More than one of the download's reads (audit.MaxLimit rows each): every
	// row once.
	e.seedAudit(time.Date(2020, 11, 1, 0, 0, 0, 0, time.UTC), "key:bulk", "order.cancel", "ORD-9", 2*500+1)
	p = b.get("/console/audit.csv?actor=key:bulk")
	recs, err = csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range recs[1:] {
		ids[r[0]] = true
	}
	if len(recs) != 1+1001 || len(ids) != 1001 {
		t.Errorf("bulk CSV: %d records, %d distinct ids, want 1001", len(recs)-1, len(ids))
	}
	if p := b.get("/console/audit.csv?from=bad"); p.status != http.StatusBadRequest {
		t.Errorf("CSV with a bad date: %d", p.status)
	}
}
