package ledger

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/problem"
	"github.com/civicpay/civicpay/internal/testkit/apicheck"
)

// api is the ledger's routes in an app built as the server builds it, with a
// key per role.
type api struct {
	t    *testing.T
	app  *fiber.App
	pool *pgxpool.Pool
	keys map[string]string // role or "agency:<code>" → secret
	ids  map[string]auth.Key
}

// testRules are the manual-entry rules of these tests: a second approver
// above 10,000,000 VND, backdating up to a week.
var testRules = ManualRules{ApprovalAmount: decimal.NewFromInt(10_000_000), MaxBackdate: 7 * 24 * time.Hour}

func newAPI(t *testing.T) *api {
	t.Helper()
	pool := newPool(t)
	if _, err := pool.Exec(bg, `INSERT INTO agencies (code, name, treasury_account) VALUES ('HCM-TP', 'HCMC', '0011'), ('HN', 'Hà Nội', '0022')`); err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{ErrorHandler: problem.Handler(slog.Default(), append(auth.HTTPErrors, HTTPErrors...)...)})
	store := auth.NewStore(pool)
	v1 := app.Group("/v1", auth.NewAuthenticator(store, 0).Middleware())
	NewHandler(pool, slog.Default()).WithRules(testRules).Routes(v1)
	a := &api{t: t, app: app, pool: pool, keys: map[string]string{}, ids: map[string]auth.Key{}}
	for name, role := range map[string]auth.Role{"portal": auth.RolePortal, "treasury": auth.RoleTreasury, "admin": auth.RoleAdmin,
		"treasury2": auth.RoleTreasury, "treasury3": auth.RoleTreasury, "agency:HCM-TP": auth.RoleAgency, "agency:HN": auth.RoleAgency} {
		agency, _ := strings.CutPrefix(name, "agency:")
		if role != auth.RoleAgency {
			agency = ""
		}
		k, secret, err := store.Create(audit.System(bg, "test"), role, agency, name)
		if err != nil {
			t.Fatal(err)
		}
		a.keys[name], a.ids[name] = secret, k
	}
	return a
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// field is the field named by a problem+json body.
func (r response) field(t *testing.T) string {
	t.Helper()
	var p problem.Problem
	r.json(t, &p)
	if len(p.Errors) != 1 {
		t.Fatalf("problem %s names no single field", r.body)
	}
	return p.Errors[0].Field
}

func (a *api) do(who, method, path, body string, header ...string) response {
	a.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+a.keys[who])
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := a.app.Test(req, -1)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	apicheck.Check(a.t, req, res.StatusCode, res.Header, b)
	return response{res.StatusCode, res.Header, b}
}

// manualBody is a manual entry that touches no agency account (posted at
// once when small enough); agencyBody one that does (four eyes).
func manualBody(amount, at string) string {
	return fmt.Sprintf(`{"reason":"correct a mistyped fee","effective_at":%q,"postings":[
		{"account":"treasury:0011:bank","direction":"debit","amount":%s,"currency":"VND"},
		{"account":"suspense","direction":"credit","amount":%s,"currency":"VND"}]}`, at, amount, amount)
}

func agencyBody(amount, at string) string {
	return strings.Replace(manualBody(amount, at), "treasury:0011:bank", "agency:HCM-TP:collected", 1)
}

// recent is an effective time a manual entry may take: an hour ago.
func recent() (string, time.Time) {
	t := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	return t.Format(time.RFC3339), t
}

func TestHTTPRoles(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tests := []struct {
		who, method, path string
		want              int
	}{
		{"", "GET", "/v1/ledger/accounts", 401},
		{"portal", "GET", "/v1/ledger/accounts", 403},
		{"agency:HCM-TP", "GET", "/v1/ledger/accounts", 403},
		{"agency:HCM-TP", "POST", "/v1/ledger/entries", 403},
		{"agency:HCM-TP", "GET", "/v1/ledger/entries", 403},
		{"treasury", "GET", "/v1/ledger/accounts", 200},
		{"admin", "GET", "/v1/ledger/entries", 200},
		{"portal", "GET", "/v1/revenue?from=2025-03-01&to=2025-03-02", 403},
		{"agency:HCM-TP", "GET", "/v1/revenue?from=2025-03-01&to=2025-03-02", 200},
		{"treasury", "GET", "/v1/revenue?from=2025-03-01&to=2025-03-02", 200},
		{"admin", "GET", "/v1/revenue?from=2025-03-01&to=2025-03-02", 200},
	}
	for _, tt := range tests {
		if r := a.do(tt.who, tt.method, tt.path, ""); r.status != tt.want {
			t.Errorf("%s %s as %q: %d %s, want %d", tt.method, tt.path, tt.who, r.status, r.body, tt.want)
		}
	}
}

func TestHTTPManualEntry(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	at, atTime := recent()
	body := manualBody("5000", at)
	created := a.do("treasury", "POST", "/v1/ledger/entries", body, "Idempotency-Key", "fix-1")
	if created.status != 201 {
		t.Fatalf("post: %d %s", created.status, created.body)
	}
	var e Entry
	created.json(t, &e)
	if e.Kind != KindAdjustment || e.RecordedBy != "treasury:"+a.ids["treasury"].Prefix || e.Description != "correct a mistyped fee" ||
		created.header.Get("Location") != fmt.Sprintf("/v1/ledger/entries/%d", e.ID) || !e.EffectiveAt.Equal(atTime) {
		t.Fatalf("entry %+v, location %q", e, created.header.Get("Location"))
	}
	replay := a.do("treasury", "POST", "/v1/ledger/entries", body, "Idempotency-Key", "fix-1")
	var again Entry
	replay.json(t, &again)
	if replay.status != 200 || again.ID != e.ID {
		t.Fatalf("replay: %d %s", replay.status, replay.body)
	}
	if r := a.do("treasury", "POST", "/v1/ledger/entries", manualBody("6000", at), "Idempotency-Key", "fix-1"); r.status != 422 {
		t.Fatalf("same key, other body: %d %s", r.status, r.body)
	}
	other := a.do("treasury2", "POST", "/v1/ledger/entries", body, "Idempotency-Key", "fix-1")
	var theirs Entry
	other.json(t, &theirs)
	if other.status != 201 || theirs.ID == e.ID {
		t.Fatalf("another key's fix-1 should be its own entry: %d %s", other.status, other.body)
	}
	if r := a.do("treasury", "GET", fmt.Sprintf("/v1/ledger/entries/%d", e.ID), ""); r.status != 200 || !strings.Contains(string(r.body), `"suspense"`) {
		t.Fatalf("get: %d %s", r.status, r.body)
	}

	invalid := []struct {
		name, body, key string
		status          int
		field           string
	}{
		{"no key", body, "", 422, "header.Idempotency-Key"},
		{"no reason", strings.Replace(body, `"correct a mistyped fee"`, `" "`, 1), "k1", 422, "reason"},
		{"no effective time", `{"reason":"x","postings":[]}`, "k2", 422, "effective_at"},
		{"unbalanced", strings.Replace(body, `"amount":5000,"currency":"VND"}]`, `"amount":4000,"currency":"VND"}]`, 1), "k3", 422, "postings"},
		{"fractional VND", manualBody("5000.5", "2025-03-01T10:00:00Z"), "k4", 422, "postings[0].amount"},
		{"unknown account", strings.Replace(body, "suspense", "cash", 1), "k5", 422, "postings[1].account"},
		{"unknown field", strings.Replace(body, `"reason"`, `"memo":1,"reason"`, 1), "k6", 400, "memo"},
		{"string amount is fine but a bool is not", strings.Replace(body, `"amount":5000,`, `"amount":true,`, 1), "k7", 400, "body"},
	}
	for _, tt := range invalid {
		r := a.do("treasury", "POST", "/v1/ledger/entries", tt.body, "Idempotency-Key", tt.key)
		if r.status != tt.status || r.field(t) != tt.field {
			t.Errorf("%s: %d %s; want %d naming %s", tt.name, r.status, r.body, tt.status, tt.field)
		}
	}
	if n := count(t, a.pool, `SELECT count(*) FROM ledger_entries`); n != 2 {
		t.Fatalf("%d entries recorded", n)
	}
}

func TestHTTPReversal(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var e Entry
	at, _ := recent()
	a.do("treasury", "POST", "/v1/ledger/entries", manualBody("5000", at), "Idempotency-Key", "orig").json(t, &e)
	path := fmt.Sprintf("/v1/ledger/entries/%d/reversal", e.ID)
	first := a.do("treasury", "POST", path, `{"reason":"entered twice"}`, "Idempotency-Key", "rev")
	var rev Entry
	first.json(t, &rev)
	if first.status != 201 || rev.Reverses != e.ID || rev.Postings[0].Direction != Credit {
		t.Fatalf("reversal: %d %s", first.status, first.body)
	}
	if r := a.do("treasury", "POST", path, `{"reason":"entered twice"}`, "Idempotency-Key", "rev"); r.status != 200 {
		t.Fatalf("replayed reversal: %d %s", r.status, r.body)
	}
	if r := a.do("treasury", "POST", path, `{"reason":"again"}`, "Idempotency-Key", "rev-2"); r.status != 409 {
		t.Fatalf("second reversal: %d %s", r.status, r.body)
	}
	if r := a.do("treasury", "POST", "/v1/ledger/entries/999/reversal", `{"reason":"x"}`, "Idempotency-Key", "rev-3"); r.status != 404 {
		t.Fatalf("reversal of a missing entry: %d %s", r.status, r.body)
	}
}

func TestHTTPListEntriesPaginates(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var want []int64
	for i := range 7 {
		e := pair(fmt.Sprint("x", i), "gateway:vnpay:clearing", "agency:HCM-TP:collected", 100)
		e.EffectiveAt = t0.Add(time.Duration(i%3) * time.Hour) // ties broken by id
		want = append(want, mustPost(t, a.pool, e).ID)
		mustPost(t, a.pool, pair(fmt.Sprint("y", i), "gateway:momo:clearing", "agency:HN:collected", 100))
	}
	order := []int{0, 3, 6, 1, 4, 2, 5} // by effective time, then id
	var got []int64
	cursor := ""
	for pages := 0; ; pages++ {
		r := a.do("treasury", "GET", "/v1/ledger/entries?account=agency:HCM-TP:collected&limit=3&cursor="+cursor, "")
		var page struct {
			Entries    []Entry `json:"entries"`
			NextCursor string  `json:"next_cursor"`
		}
		r.json(t, &page)
		if r.status != 200 || pages > 3 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.body)
		}
		for _, e := range page.Entries {
			got = append(got, e.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	var wantOrder []int64
	for _, i := range order {
		wantOrder = append(wantOrder, want[i])
	}
	if fmt.Sprint(got) != fmt.Sprint(wantOrder) {
		t.Fatalf("paged ids %v, want %v", got, wantOrder)
	}
	var window struct{ Entries []Entry }
	a.do("treasury", "GET", "/v1/ledger/entries?account=agency:HCM-TP:collected&from="+url.QueryEscape(t0.Add(time.Hour).Format(time.RFC3339))+
		"&to="+url.QueryEscape(t0.Add(2*time.Hour).Format(time.RFC3339)), "").json(t, &window)
	if len(window.Entries) != 2 {
		t.Fatalf("[1h, 2h) holds %d entries, want 2", len(window.Entries))
	}
	var all struct{ Entries []Entry }
	a.do("treasury", "GET", "/v1/ledger/entries?limit=500", "").json(t, &all)
	if len(all.Entries) != 14 {
		t.Fatalf("all entries: %d", len(all.Entries))
	}
	for query, field := range map[string]string{
		"cursor=abc": "query.cursor", "limit=0": "query.limit", "limit=501": "query.limit", "from=yesterday": "query.from",
		"to=2025-02-30": "query.to", "account=cash": "query.account",
	} {
		if r := a.do("treasury", "GET", "/v1/ledger/entries?"+query, ""); r.status != 422 || r.field(t) != field {
			t.Errorf("%s: %d %s; want 422 naming %s", query, r.status, r.body, field)
		}
	}
}

func TestHTTPAccountsAndBalances(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	mustPost(t, a.pool, pair("a", "gateway:vnpay:clearing", "agency:HCM-TP:collected", 700))
	later := pair("b", "gateway:momo:clearing", "agency:HCM-TP:collected", 300)
	later.EffectiveAt = t0.AddDate(0, 0, 1)
	mustPost(t, a.pool, later)

	var page struct {
		Accounts   []Account `json:"accounts"`
		NextCursor string    `json:"next_cursor"`
	}
	a.do("treasury", "GET", "/v1/ledger/accounts?match=gateway:&limit=1", "").json(t, &page)
	if len(page.Accounts) != 1 || page.Accounts[0].Code != "gateway:momo:clearing" || page.NextCursor == "" {
		t.Fatalf("first page %+v", page)
	}
	next := page.NextCursor
	page.NextCursor = ""
	a.do("treasury", "GET", "/v1/ledger/accounts?match=gateway:&limit=1&cursor="+next, "").json(t, &page)
	if len(page.Accounts) != 1 || page.Accounts[0].Code != "gateway:vnpay:clearing" || page.NextCursor != "" {
		t.Fatalf("second page %+v", page)
	}

	for _, tt := range []struct {
		path, want string
	}{
		{"/v1/ledger/accounts/agency:HCM-TP:collected/balance", `"balance":"1000"`},
		{"/v1/ledger/accounts/agency%3AHCM-TP%3Acollected/balance?as_of=" + url.QueryEscape(t0.Add(time.Hour).Format(time.RFC3339)), `"balance":"700"`},
		{"/v1/ledger/accounts/gateway:vnpay:clearing/balance?as_of=2025-03-01", `"balance":"0"`}, // midnight GMT+7 is before t0
		{"/v1/ledger/balances?match=gateway:*:clearing", `"totals":[{"currency":"VND","net":"1000"}]`},
	} {
		r := a.do("treasury", "GET", tt.path, "")
		if r.status != 200 || !strings.Contains(string(r.body), tt.want) {
			t.Errorf("%s: %d %s; want %s", tt.path, r.status, r.body, tt.want)
		}
	}
	for path, want := range map[string]int{
		"/v1/ledger/accounts/agency:XX:collected/balance":             404,
		"/v1/ledger/accounts/cash/balance":                            404,
		"/v1/ledger/accounts/suspense/balance?as_of=tomorrow":         422,
		"/v1/ledger/balances":                                         422,
		"/v1/ledger/accounts?cursor=" + encodeAccountCursor("") + "x": 422,
	} {
		if r := a.do("treasury", "GET", path, ""); r.status != want {
			t.Errorf("%s: %d %s, want %d", path, r.status, r.body, want)
		}
	}
}

func TestHTTPRevenue(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for i, share := range []struct {
		agency, service, channel string
		amount                   int64
	}{{"HCM-TP", "BIRTH-CERT", "card", 30000}, {"HCM-TP", "STAMP", "ewallet", 20000}, {"HN", "FINE-7", "card", 90000}, {"HCM-TP", "BIRTH-CERT", "card", 30000}} {
		p := payment(fmt.Sprint("p", i), share.agency, share.service, share.amount)
		p.Channel = share.channel
		if _, err := PostPayment(bg, a.pool, p); err != nil {
			t.Fatal(err)
		}
	}
	const window = "from=2025-03-01&to=2025-03-02"
	type result struct {
		Rows   []RevenueRow `json:"rows"`
		Totals []RevenueRow `json:"totals"`
		Agency string       `json:"agency"`
	}
	var own result
	a.do("agency:HCM-TP", "GET", "/v1/revenue?"+window+"&group_by=service,agency", "").json(t, &own)
	if own.Agency != "HCM-TP" || len(own.Rows) != 2 || own.Rows[0].Agency != "HCM-TP" || own.Rows[1].Agency != "HCM-TP" ||
		len(own.Totals) != 1 || !own.Totals[0].Net.Equal(vnd(80000)) {
		t.Fatalf("HCM-TP's own revenue: %+v", own)
	}
	if r := a.do("agency:HCM-TP", "GET", "/v1/revenue?"+window+"&agency=HN", ""); r.status != 404 {
		t.Fatalf("HCM-TP asking for HN: %d %s", r.status, r.body)
	}
	var all result
	a.do("treasury", "GET", "/v1/revenue?"+window+"&group_by=agency", "").json(t, &all)
	if len(all.Rows) != 2 || !all.Totals[0].Net.Equal(vnd(170000)) {
		t.Fatalf("treasury sees %+v", all)
	}
	var hn result
	a.do("treasury", "GET", "/v1/revenue?"+window+"&agency=HN", "").json(t, &hn)
	if len(hn.Rows) != 1 || !hn.Rows[0].Net.Equal(vnd(90000)) {
		t.Fatalf("treasury asking for HN: %+v", hn)
	}

	// CSV streams the same rows and totals.
	var detailed result
	const groups = "&group_by=day,service,channel,agency"
	a.do("treasury", "GET", "/v1/revenue?"+window+groups, "").json(t, &detailed)
	r := a.do("treasury", "GET", "/v1/revenue?"+window+groups, "", "Accept", "text/csv")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", r.status, r.body)
	}
	records, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON [][]string
	for kind, rows := range map[string][]RevenueRow{"group": detailed.Rows, "total": detailed.Totals} {
		for _, x := range rows {
			fromJSON = append(fromJSON, []string{kind, x.Day, x.Agency, x.Service, x.Channel, x.Currency, x.Gross.String(), x.Refunds.String(), x.Adjustments.String(), x.Net.String(), fmt.Sprint(x.Postings)})
		}
	}
	if len(records) != 1+len(fromJSON) || records[0][0] != "row" || fmt.Sprint(records[1:]) != fmt.Sprint(sortedRecords(fromJSON)) {
		t.Fatalf("csv %v\njson %v", records, fromJSON)
	}

	// Page by page, a group a page: the same rows, and every page's totals
	// are those of all.
	var paged []RevenueRow
	cursor := ""
	for pages := 0; ; pages++ {
		var page struct {
			result
			NextCursor string `json:"next_cursor"`
		}
		a.do("treasury", "GET", "/v1/revenue?"+window+groups+"&limit=1&cursor="+cursor, "").json(t, &page)
		if len(page.Rows) != 1 || fmt.Sprint(page.Totals) != fmt.Sprint(detailed.Totals) || pages > len(detailed.Rows) {
			t.Fatalf("page %d: %+v", pages, page)
		}
		paged = append(paged, page.Rows...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
		// A cursor is of its grouping.
		if r := a.do("treasury", "GET", "/v1/revenue?"+window+"&group_by=service&cursor="+cursor, ""); r.status != 422 || r.field(t) != "query.cursor" {
			t.Fatalf("cursor of another grouping: %d %s", r.status, r.body)
		}
	}
	if len(detailed.Rows) < 3 || fmt.Sprint(paged) != fmt.Sprint(detailed.Rows) {
		t.Fatalf("pages %v\nall at once %v", paged, detailed.Rows)
	}

	for query, field := range map[string]string{
		window + "&limit=0":                          "query.limit",
		window + "&limit=10001":                      "query.limit",
		window + "&cursor=eA":                        "query.cursor",
		"to=2025-03-02":                              "query.from",
		"from=2025-03-01":                            "query.to",
		"from=2025-03-02&to=2025-03-01":              "query.to",
		window + "&group_by=day,month":               "query.group_by",
		window + "&group_by=day,day":                 "query.group_by",
		window + "&agency=" + url.QueryEscape("a b"): "query.agency",
	} {
		if r := a.do("treasury", "GET", "/v1/revenue?"+query, ""); r.status != 422 || r.field(t) != field {
			t.Errorf("%s: %d %s; want 422 naming %s", query, r.status, r.body, field)
		}
	}
	if r := a.do("treasury", "GET", "/v1/revenue?"+window, "", "Accept", "application/xml"); r.status != 406 {
		t.Errorf("xml: %d", r.status)
	}
}

// sortedRecords puts group rows before total rows, keeping each kind's order.
func sortedRecords(records [][]string) [][]string {
	var out [][]string
	for _, kind := range []string{"group", "total"} {
		for _, r := range records {
			if r[0] == kind {
				out = append(out, r)
			}
		}
	}
	return out
}
