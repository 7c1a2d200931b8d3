package console

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// reconDay is the business day the tests work: the day before t0.
const reconDay = "2026-11-23"

// dayEnv is the console with reconciliation (VNPAY and the bank, no
// fetch URL) on the env's clock.
func dayEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, nil)
	cfg, err := config.Defaults("").ReconConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateways, cfg.SettlementURL, cfg.StatementURL = []string{statement.GatewayVNPAY}, "", ""
	svc := reconciliation.New(e.pool, cfg, slog.New(slog.DiscardHandler), reconciliation.Deps{Clock: e.clock})
	rc, err := river.NewClient(riverpgxv5.New(e.pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetJobs(rc)
	e.h.SetDeps(Deps{Recon: svc})
	return e
}

// seedReconDay marks both sources of reconDay reconciled (a completed run
// each) and raises one open exception on the bank's; it returns its id.
func seedReconDay(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	var bankRun int64
	for _, src := range []string{statement.GatewayVNPAY, reconciliation.SourceBank} {
		if err := e.pool.QueryRow(ctx, `INSERT INTO recon_runs (source, business_date, trigger, requested_by, status, stage)
			VALUES ($1, $2, 'test', 'test', 'completed', 'done') RETURNING id`, src, reconDay).Scan(&bankRun); err != nil {
			t.Fatal(err)
		}
	}
	var id string
	if err := e.pool.QueryRow(ctx, `INSERT INTO recon_exceptions (key, source, business_date, class, first_run_id, last_run_id,
			amount_there, currency, detail) VALUES ('bank:X1', 'bank', $1, 'unknown', $2, $2, 123456, 'VND', 'CK NHAM')
		RETURNING id::text`, reconDay, bankRun).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// twoTreasurers is dayEnv seeded (seedReconDay: exc is the open
// exception) with two treasury people signed in, alice and bob, and the
// day's page.
func twoTreasurers(t *testing.T) (e *env, exc string, alice, bob *browser, day string) {
	t.Helper()
	e = dayEnv(t)
	exc = seedReconDay(t, e)
	alice = e.signedIn("alice@example.vn", RoleTreasury, "")
	bob = e.signedIn("bob@example.vn", RoleTreasury, "")
	return e, exc, alice, bob, "/console/reconciliation/" + reconDay
}

func (e *env) signedIn(email string, role Role, agency string) *browser {
	e.t.Helper()
	_, secret := e.user(email, role, agency)
	b := e.browser()
	b.signIn(e, secret)
	e.clock.Advance(31 * time.Second) // the next sign-in's code is a new one
	return b
}

// Agency staff see nothing of reconciliation; admin reads and acts on
// nothing; treasury reads the calendar and the day.
func TestReconDayPagesByRole(t *testing.T) {
	t.Parallel()
	e := dayEnv(t)
	seedReconDay(t, e)
	agent := e.signedIn("agent@example.vn", RoleAgency, "STP-HCM")
	admin := e.signedIn("admin@example.vn", RoleAdmin, "")
	treasury := e.signedIn("treasury@example.vn", RoleTreasury, "")
	day := "/console/reconciliation/" + reconDay
	for _, path := range []string{"/console/reconciliation", day, day + "/report.pdf", day + "/report.xlsx"} {
		if p := agent.get(path); p.status != http.StatusForbidden {
			t.Errorf("agency GET %s: %d", path, p.status)
		}
	}
	if p := agent.submit("/console", day+"/close", url.Values{"note": {"x"}}); p.status != http.StatusForbidden {
		t.Errorf("agency close: %d", p.status)
	}
	cal := admin.get("/console/reconciliation?month=2026-11")
	if cal.status != http.StatusOK || !strings.Contains(cal.body, `id="day-2026-11-23" data-state="exceptions_open"`) ||
		!strings.Contains(cal.body, `id="day-2026-11-22" data-state="not_run"`) {
		t.Fatalf("admin calendar %d:\n%s", cal.status, cal.body)
	}
	p := admin.get(day)
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-state="exceptions_open"`) || strings.Contains(p.body, `id="close-form"`) ||
		strings.Contains(p.body, `id="carry-`) || strings.Contains(p.body, `id="upload-form"`) {
		t.Fatalf("admin day %d:\n%s", p.status, p.body)
	}
	if p := admin.submit(day, day+"/close", url.Values{"note": {"x"}}); p.status != http.StatusForbidden {
		t.Errorf("admin close: %d", p.status)
	}
	if p := treasury.get(day); p.status != http.StatusOK || !strings.Contains(p.body, `id="close-form"`) ||
		!strings.Contains(p.body, `id="fetch-vnpay"`) || !strings.Contains(p.body, `id="upload-form"`) {
		t.Fatalf("treasury day %d:\n%s", p.status, p.body)
	}
	if p := treasury.get("/console/reconciliation/2026-13-45"); p.status != http.StatusNotFound {
		t.Errorf("no such day: %d", p.status)
	}
	if p := treasury.get("/console/reconciliation?month=nope"); p.status != http.StatusUnprocessableEntity {
		t.Errorf("a bad month: %d", p.status)
	}
}

// The day is worked to closed in the console: a POST without the form
// token changes nothing; closing with an open exception is refused and says
// why; the exception is carried forward (a note is required); the day
// closes, its reports download; reopening it needs another treasury person.
func TestReconDayClosedFromTheConsole(t *testing.T) {
	t.Parallel()
	e, exc, alice, bob, day := twoTreasurers(t)
	closed := func() bool {
		var n int
		if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_closed_days WHERE day = $1`, reconDay).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	if p := alice.do(http.MethodPost, day+"/close", url.Values{"note": {"no token"}}); p.status != http.StatusForbidden || closed() {
		t.Fatalf("close without CSRF: %d, closed %v", p.status, closed())
	}
	p := alice.submit(day, day+"/close", url.Values{"note": {"first try"}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, `id="close-error"`) || closed() {
		t.Fatalf("close with an open exception: %d\n%s", p.status, p.body)
	}
	p = alice.submit(day, day+"/carry", url.Values{"exception": {exc}, "note": {" "}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="carry-error-`+exc+`"`) {
		t.Fatalf("carry without a note: %d\n%s", p.status, p.body)
	}
	if p := alice.submit(day, day+"/carry", url.Values{"exception": {exc}, "note": {"sender traced by the bank"}}); p.status != http.StatusSeeOther {
		t.Fatalf("carry: %d\n%s", p.status, p.body)
	}
	if p := alice.get(day); !strings.Contains(p.body, `id="exception-`+exc+`" data-carried="true"`) || !strings.Contains(p.body, "sender traced by the bank") {
		t.Fatalf("the carried exception is not shown so:\n%s", p.body)
	}
	if p := alice.submit(day, day+"/close", url.Values{"note": {"balanced, one carried"}}); p.status != http.StatusSeeOther || !closed() {
		t.Fatalf("close: %d\n%s", p.status, p.body)
	}
	p = alice.get(day + "?lang=en")
	if !strings.Contains(p.body, `data-state="closed"`) || !strings.Contains(p.body, "Closed by alice@example.vn") ||
		!strings.Contains(p.body, `id="report-pdf"`) {
		t.Fatalf("closed day:\n%s", p.body)
	}
	if pdf := alice.get(day + "/report.pdf"); pdf.status != http.StatusOK || !strings.HasPrefix(pdf.body, "%PDF") {
		t.Errorf("report.pdf: %d %.20q", pdf.status, pdf.body)
	}
	if x := alice.get(day + "/report.xlsx"); x.status != http.StatusOK || !strings.HasPrefix(x.body, "PK") {
		t.Errorf("report.xlsx: %d %.20q", x.status, x.body)
	}

	if p := alice.submit(day, day+"/reopen", url.Values{"reason": {""}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, `id="reopen-error"`) {
		t.Fatalf("reopen without a reason: %d\n%s", p.status, p.body)
	}
	if p := alice.submit(day, day+"/reopen", url.Values{"reason": {"a refund was booked on the wrong day"}}); p.status != http.StatusSeeOther {
		t.Fatalf("reopen: %d\n%s", p.status, p.body)
	}
	page := alice.get(day)
	m := regexp.MustCompile(`action="(/console/reconciliation/` + reconDay + `/reopen/\d+/approve)"`).FindStringSubmatch(page.body)
	if m == nil || !strings.Contains(page.body, `id="reopen-own"`) {
		t.Fatalf("no approve form for the pending request:\n%s", page.body)
	}
	if p := alice.submit(day, m[1], url.Values{"note": {"mine"}}); p.status != http.StatusForbidden || !closed() {
		t.Fatalf("the requester approving: %d, closed %v\n%s", p.status, closed(), p.body)
	}
	if p := bob.submit(day, m[1], url.Values{"note": {"checked"}}); p.status != http.StatusSeeOther || closed() {
		t.Fatalf("a second person approving: %d, closed %v\n%s", p.status, closed(), p.body)
	}
	if p := bob.get(day); !strings.Contains(p.body, `id="reopens"`) || strings.Contains(p.body, `data-state="closed"`) {
		t.Fatalf("reopened day:\n%s", p.body)
	}
	var actions string
	if err := e.pool.QueryRow(context.Background(), `SELECT string_agg(action, ',' ORDER BY id) FROM audit_log
		WHERE action LIKE 'ledger.day.%' OR action LIKE 'reconciliation.%'`).Scan(&actions); err != nil {
		t.Fatal(err)
	}
	if want := "reconciliation.exception.carry_forward,ledger.day.close,ledger.day.reopen_request,ledger.day.reopen"; actions != want {
		t.Fatalf("audit %s, want %s", actions, want)
	}
}

// An upload from the day's page goes into the same import as POST
// /v1/statements (stored, audited, its load queued); a file that is no
// statement is refused next to the field.
func TestReconDayUpload(t *testing.T) {
	t.Parallel()
	e := dayEnv(t)
	treasury := e.signedIn("treasury@example.vn", RoleTreasury, "")
	day := "/console/reconciliation/" + reconDay
	var camt bytes.Buffer
	d := time.Date(2026, 11, 23, 0, 0, 0, 0, bizday.Zone)
	if err := statement.WriteCAMT053(&camt, statement.Statement{MessageID: "MSG-1", StatementID: "STMT-1", Created: d.Add(23 * time.Hour),
		Account: "0011004123456", Currency: "VND",
		Opening: &statement.Balance{Type: statement.BalanceOpening, Amount: decimal.NewFromInt(1_000_000), Currency: "VND", Date: d}},
		[]statement.Entry{{Amount: decimal.NewFromInt(50_000), Currency: "VND", Credit: true, Status: statement.StatusBooked,
			BookingDate: d, ValueDate: d, AcctSvcrRef: "BNK1"}}); err != nil {
		t.Fatal(err)
	}
	token := csrfRE.FindStringSubmatch(treasury.get(day).body)[1]
	upload := func(name string, data []byte) page { return uploadFile(t, e, treasury, day, token, name, data) }
	if p := upload("notes.txt", []byte("hello, not a statement")); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, `id="upload-error"`) {
		t.Fatalf("a text file: %d\n%s", p.status, p.body)
	}
	if p := upload("stmt-1123.xml", camt.Bytes()); p.status != http.StatusSeeOther || p.location != day+"?done=upload" {
		t.Fatalf("upload: %d %q\n%s", p.status, p.location, p.body)
	}
	var name, by string
	if err := e.pool.QueryRow(context.Background(), `SELECT f.name, f.received_by FROM recon_files f
		JOIN audit_log a ON a.action = 'statement.import' AND a.resource_id = f.id::text`).Scan(&name, &by); err != nil ||
		name != "stmt-1123.xml" || by != "treasury:staff:treasury@example.vn" {
		t.Fatalf("file %q by %q: %v", name, by, err)
	}
}

// uploadFile posts data as file name to day's upload form with b's session
// and form token.
func uploadFile(t *testing.T, e *env, b *browser, day, token, name string, data []byte) page {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("csrf", token)
	fw, _ := w.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = w.Close()
	req := httptest.NewRequest(http.MethodPost, day+"/upload", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Accept-Language", "en")
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := e.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(out)}
}

// A closed day's page offers neither fetch now nor upload, and the server
// refuses both (409, on the page): nothing is fetched, stored or queued for
// the day, and nothing is audited as done.
func TestReconDayClosedRefusesFetchAndUpload(t *testing.T) {
	t.Parallel()
	e := dayEnv(t)
	exc := seedReconDay(t, e)
	alice := e.signedIn("alice@example.vn", RoleTreasury, "")
	day := "/console/reconciliation/" + reconDay
	if p := alice.submit(day, day+"/carry", url.Values{"exception": {exc}, "note": {"sender traced"}}); p.status != http.StatusSeeOther {
		t.Fatalf("carry: %d\n%s", p.status, p.body)
	}
	if p := alice.submit(day, day+"/close", url.Values{"note": {"closed"}}); p.status != http.StatusSeeOther {
		t.Fatalf("close: %d\n%s", p.status, p.body)
	}
	page := alice.get(day)
	if !strings.Contains(page.body, `data-state="closed"`) || strings.Contains(page.body, `id="fetch-`) ||
		strings.Contains(page.body, `/fetch"`) || strings.Contains(page.body, `id="upload-form"`) {
		t.Fatalf("the closed day's page:\n%s", page.body)
	}
	p := alice.submit(day, day+"/fetch", url.Values{"source": {"vnpay"}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, `id="fetch-error"`) || !strings.Contains(p.body, "This day is closed.") {
		t.Fatalf("fetch now on a closed day: %d\n%s", p.status, p.body)
	}
	token := csrfRE.FindStringSubmatch(page.body)[1]
	// The file's own business date decides, not the page it is sent from.
	closedDay := time.Date(2026, time.November, 23, 0, 0, 0, 0, bizday.Zone)
	for _, c := range []struct {
		name, page string
		data       []byte
		want       int
	}{
		{"a file of the closed day from its page", day, camt053Of(t, closedDay, 1), http.StatusConflict},
		{"a file of the closed day from another day's page", "/console/reconciliation/2026-11-22", camt053Of(t, closedDay, 2),
			http.StatusConflict},
		{"a file of an open day from the closed day's page", day, camt053Of(t, closedDay.AddDate(0, 0, -1), 3), http.StatusSeeOther},
	} {
		p := uploadFile(t, e, alice, c.page, token, "stmt.xml", c.data)
		if p.status != c.want {
			t.Fatalf("%s: %d, want %d\n%s", c.name, p.status, c.want, p.body)
		}
		if c.want == http.StatusConflict && (!strings.Contains(p.body, `id="error"`) || !strings.Contains(p.body, "This day is closed.") ||
			!strings.Contains(p.body, reconDay+" is closed")) {
			t.Fatalf("%s: the refusal does not name the closed day:\n%s", c.name, p.body)
		}
	}
	var runs, files, audits int
	if err := e.pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM recon_runs WHERE business_date = $1::date AND status = 'queued'),
			(SELECT count(*) FROM recon_files),
			(SELECT count(*) FROM audit_log WHERE action IN ('reconciliation.day.fetch', 'statement.import'))`,
		reconDay).Scan(&runs, &files, &audits); err != nil || runs != 0 || files != 1 || audits != 1 {
		t.Fatalf("after the refusals: %d queued runs, %d files, %d audit rows, want 0 and the open day's 1, 1 (%v)",
			runs, files, audits, err)
	}
}

// camt053Of is a treasury statement of day with one booked credit (n makes
// each file's bytes its own).
func camt053Of(t *testing.T, day time.Time, n int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	ref := "BNK" + day.Format("20060102") + string(rune('A'+n))
	st := statement.Statement{MessageID: "MSG-" + ref, StatementID: "STMT-" + ref, Created: day.Add(23 * time.Hour),
		Account: "0011004123456", Currency: "VND",
		Opening: &statement.Balance{Type: statement.BalanceOpening, Amount: decimal.NewFromInt(1_000_000_000), Currency: "VND", Date: day}}
	e := statement.Entry{Amount: decimal.NewFromInt(50_000 + n), Currency: "VND", Credit: true, Status: statement.StatusBooked,
		BookingDate: day.Add(10 * time.Hour), ValueDate: day.Add(10 * time.Hour), AcctSvcrRef: ref,
		TxDetails: []statement.TxDetail{{EndToEndID: ref, RemittanceInfo: []string{"CK NHAM"}}}}
	if err := statement.WriteCAMT053(&buf, st, []statement.Entry{e}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Fetch now runs reconciliation's ReconcileDay for the one source (here no
// fetch URL is configured: it queues the source's run), audited as the
// person's; a source that is not configured is refused.
func TestReconDayFetchNow(t *testing.T) {
	t.Parallel()
	e := dayEnv(t)
	treasury := e.signedIn("treasury@example.vn", RoleTreasury, "")
	day := "/console/reconciliation/" + reconDay
	if p := treasury.submit(day, day+"/fetch", url.Values{"source": {"momo"}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, `id="fetch-error"`) {
		t.Fatalf("an unconfigured source: %d\n%s", p.status, p.body)
	}
	if p := treasury.submit(day, day+"/fetch", url.Values{"source": {"vnpay"}}); p.status != http.StatusSeeOther {
		t.Fatalf("fetch: %d\n%s", p.status, p.body)
	}
	var runs, audits int
	if err := e.pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM recon_runs WHERE source = 'vnpay' AND business_date = $1::date AND status = 'queued'),
			(SELECT count(*) FROM audit_log WHERE action = 'reconciliation.day.fetch' AND resource_id = $1::text AND actor LIKE 'user:%')`,
		reconDay).Scan(&runs, &audits); err != nil || runs != 1 || audits != 1 {
		t.Fatalf("%d queued runs, %d audit rows, %v", runs, audits, err)
	}
	if p := treasury.get(day); !strings.Contains(p.body, "run #1, queued") {
		t.Fatalf("the queued run is not shown:\n%s", p.body)
	}
}

// The times the day's page shows of what people did on it — the carry, the
// closing, the reopening asked and decided — are the app's clock's (the
// clock that decides the business day), not the database server's.
func TestReconDayTimesAreTheAppClocks(t *testing.T) {
	t.Parallel()
	e, exc, alice, bob, day := twoTreasurers(t)
	if p := alice.submit(day, day+"/carry", url.Values{"exception": {exc}, "note": {"sender traced"}}); p.status != http.StatusSeeOther {
		t.Fatalf("carry: %d\n%s", p.status, p.body)
	}
	carried := formatTime(e.clock.Now())
	e.clock.Advance(7 * time.Minute)
	if p := alice.submit(day, day+"/close", url.Values{"note": {"closed"}}); p.status != http.StatusSeeOther {
		t.Fatalf("close: %d\n%s", p.status, p.body)
	}
	closed := formatTime(e.clock.Now())
	e.clock.Advance(5 * time.Minute)
	if p := alice.submit(day, day+"/reopen", url.Values{"reason": {"a refund on the wrong day"}}); p.status != http.StatusSeeOther {
		t.Fatalf("reopen: %d\n%s", p.status, p.body)
	}
	asked := formatTime(e.clock.Now())
	p := alice.get(day + "?lang=en")
	for what, want := range map[string]string{"carried": "carried forward by alice@example.vn at " + carried, "closed": "Closed by alice@example.vn at " + closed,
		"asked": asked} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the page does not show the %s time %q:\n%s", what, want, p.body)
		}
	}
	e.clock.Advance(9 * time.Minute)
	m := regexp.MustCompile(`action="(/console/reconciliation/` + reconDay + `/reopen/\d+/approve)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no approve form:\n%s", p.body)
	}
	if p := bob.submit(day, m[1], url.Values{"note": {"checked"}}); p.status != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%s", p.status, p.body)
	}
	if p := bob.get(day + "?lang=en"); !strings.Contains(p.body, "bob@example.vn, "+formatTime(e.clock.Now())) {
		t.Errorf("the page does not show the decision's time %q:\n%s", formatTime(e.clock.Now()), p.body)
	}
}
