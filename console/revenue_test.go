package console

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/ledger"
)

// seedRevenue posts payments and a refund straight to the ledger (t0 is
// 24 November 2026, 10:00 GMT+7): two agencies, three services, three
// channels, over several business days, one payment split between the
// agencies and one in October, outside the default 30 days.
func seedRevenue(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	day := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, bizday.Zone) }
	type share struct {
		agency, service string
		amount          int64
	}
	pay := func(key, channel string, at time.Time, shares ...share) {
		t.Helper()
		p := ledger.Payment{Key: key, OrderID: uuid.New(), AttemptID: uuid.New(), Gateway: "vnpay", Channel: channel,
			Currency: "VND", EffectiveAt: at, Now: at}
		for _, s := range shares {
			p.Shares = append(p.Shares, ledger.Share{AgencyCode: s.agency, ServiceCode: s.service, Amount: decimal.NewFromInt(s.amount)})
		}
		if _, err := ledger.PostPayment(ctx, e.pool, p); err != nil {
			t.Fatal(err)
		}
	}
	pay("p1", "card", day(24, 9, 0), share{"STP-HCM", "STP-LLTP", 200_000})
	pay("p2", "ewallet", day(24, 9, 5), share{"CSGT-HN", "CSGT-TOCDO", 800_000})
	pay("p3", "qr", day(23, 23, 30), share{"STP-HCM", "STP-LLTP", 50_000}) // 16:30 UTC: the 23rd in GMT+7
	pay("p4", "card", day(20, 14, 0), share{"STP-HCM", "STP-KETHON", 100_000}, share{"CSGT-HN", "CSGT-TOCDO", 300_000})
	pay("p5", "card", time.Date(2026, 10, 1, 12, 0, 0, 0, bizday.Zone), share{"STP-HCM", "STP-LLTP", 7_000})
	if _, err := ledger.PostRefund(ctx, e.pool, ledger.Refund{Key: "r1", OrderID: uuid.New(), RefundID: uuid.New(), Gateway: "vnpay",
		Channel: "card", Currency: "VND", EffectiveAt: day(24, 8, 0), Now: day(24, 8, 0),
		Shares: []ledger.Share{{AgencyCode: "STP-HCM", ServiceCode: "STP-KETHON", Amount: decimal.NewFromInt(30_000)}}}); err != nil {
		t.Fatal(err)
	}
}

// revenueLines is ledger.Revenue's answer for q as "kind|key|currency|gross|
// refunds|adjustments|net|postings" lines: the groups, then the totals.
func revenueLines(t *testing.T, e *env, q ledger.RevenueQuery) []string {
	t.Helper()
	var out []string
	var totals ledger.RevenueTotals
	err := ledger.Revenue(context.Background(), e.pool, q, func(r ledger.RevenueRow) error {
		totals.Add(r)
		out = append(out, line("group", groupKey(r, q.GroupBy[0]), r.Currency, r.Gross, r.Refunds, r.Adjustments, r.Net, r.Postings))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range totals.Rows() {
		out = append(out, line("total", "", r.Currency, r.Gross, r.Refunds, r.Adjustments, r.Net, r.Postings))
	}
	return out
}

func line(kind, key, currency string, amounts ...any) string {
	parts := []string{kind, key, currency}
	for _, a := range amounts {
		parts = append(parts, fmt.Sprint(a))
	}
	return strings.Join(parts, "|")
}

var (
	revRowRE = regexp.MustCompile(`<tr class="(group|total)"><th scope="row">([^<]*)</th><td>([A-Z]{3})</td>` +
		`<td class="num">([^<]+)</td><td class="num">([^<]+)</td>\s*<td class="num">([^<]+)</td><td class="num">([^<]+)</td><td class="num">([^<]+)</td></tr>`)
	// An English amount: "1,000,000 VND" (a no-break space before the currency).
	enAmountRE = regexp.MustCompile(`^(-?[0-9,]+(?:\.[0-9]+)?)\x{a0}[A-Z]{3}$`)
)

// pageLines reads the revenue table of an English page as revenueLines
// writes ledger's answer.
func pageLines(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	for _, m := range revRowRE.FindAllStringSubmatch(body, -1) {
		key := m[2]
		if m[1] == "total" {
			key = ""
		}
		amounts := []any{}
		for _, s := range m[4:8] {
			a := enAmountRE.FindStringSubmatch(s)
			if a == nil {
				t.Fatalf("amount %q", s)
			}
			amounts = append(amounts, decimal.RequireFromString(strings.ReplaceAll(a[1], ",", "")))
		}
		out = append(out, line(m[1], key, m[3], append(amounts, m[8])...))
	}
	return out
}

// downloadLines reads a download's records (header first) as revenueLines
// writes ledger's answer.
func downloadLines(t *testing.T, records [][]string, dim ledger.Dimension) []string {
	t.Helper()
	if len(records) == 0 || !slices.Equal(records[0], revenueHeader) {
		t.Fatalf("header %q, want %q", records[:min(len(records), 1)], revenueHeader)
	}
	col := slices.Index(revenueHeader, string(dim))
	var out []string
	for _, r := range records[1:] {
		amounts := []any{}
		for _, s := range r[6:10] {
			d, err := decimal.NewFromString(s)
			if err != nil {
				t.Fatalf("amount %q in %q", s, r)
			}
			amounts = append(amounts, d)
		}
		out = append(out, line(r[0], r[col], r[5], append(amounts, r[10])...))
	}
	return out
}

func readCSV(t *testing.T, body string) [][]string {
	t.Helper()
	records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, body)
	}
	return records
}

func readXLSX(t *testing.T, body string) [][]string {
	t.Helper()
	x, err := excelize.OpenReader(bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatalf("xlsx: %v", err)
	}
	defer x.Close()
	rows, err := x.GetRows("Revenue")
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows { // trailing empty cells are left out
		for len(rows[i]) < len(revenueHeader) {
			rows[i] = append(rows[i], "")
		}
	}
	return rows
}

// TestRevenueMatchesTheLedger: for each "group by", the page's table, the
// CSV and the XLSX hold exactly what ledger.Revenue (GET /v1/revenue's
// function) answers for the same range, groups then totals; the page draws
// one chart, by day a bar for every day of the range.
func TestRevenueMatchesTheLedger(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seedRevenue(t, e)
	treasury, secret := e.user("treasury@example.vn", RoleTreasury, "")
	b := e.browser()
	b.signIn(e, secret)
	from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, bizday.Zone), time.Date(2026, 11, 25, 0, 0, 0, 0, bizday.Zone)
	for _, dim := range revenueGroups {
		query := "?group_by=" + string(dim) + "&from=2026-11-01&to=2026-11-24"
		want := revenueLines(t, e, ledger.RevenueQuery{From: from, To: to, GroupBy: []ledger.Dimension{dim}})
		if len(want) < 3 {
			t.Fatalf("%s: the seed gives only %q", dim, want)
		}
		p := b.get("/console/revenue" + query)
		if p.status != http.StatusOK {
			t.Fatalf("%s: %d\n%s", dim, p.status, p.body)
		}
		if got := pageLines(t, p.body); !slices.Equal(got, want) {
			t.Errorf("%s: page\n%q\nledger\n%q", dim, got, want)
		}
		if n := strings.Count(p.body, `<svg `); n != 1 {
			t.Errorf("%s: %d charts", dim, n)
		}
		bars := strings.Count(p.body, "<rect ")
		if wantBars := len(want) - 1; dim == ledger.ByDay {
			if bars != 24 {
				t.Errorf("by day: %d bars for 24 days", bars)
			}
		} else if bars != wantBars {
			t.Errorf("%s: %d bars for %d groups", dim, bars, wantBars)
		}
		csvRes := b.get("/console/revenue/export.csv" + query)
		if csvRes.status != http.StatusOK {
			t.Fatalf("%s csv: %d", dim, csvRes.status)
		}
		if got := downloadLines(t, readCSV(t, csvRes.body), dim); !slices.Equal(got, want) {
			t.Errorf("%s: CSV\n%q\nledger\n%q", dim, got, want)
		}
		xlsxRes := b.get("/console/revenue/export.xlsx" + query)
		if xlsxRes.status != http.StatusOK {
			t.Fatalf("%s xlsx: %d", dim, xlsxRes.status)
		}
		if got := downloadLines(t, readXLSX(t, xlsxRes.body), dim); !slices.Equal(got, want) {
			t.Errorf("%s: XLSX\n%q\nledger\n%q", dim, got, want)
		}
	}
	// The default: by day, the last 30 business days (October's payment is
	// not in them); the download links carry that range.
	p := b.get("/console/revenue")
	want := revenueLines(t, e, ledger.RevenueQuery{From: to.AddDate(0, 0, -30), To: to, GroupBy: []ledger.Dimension{ledger.ByDay}})
	if got := pageLines(t, p.body); !slices.Equal(got, want) {
		t.Errorf("default page\n%q\nledger\n%q", got, want)
	}
	if !strings.Contains(p.body, `href="/console/revenue/export.csv?from=2026-10-26&amp;group_by=day&amp;to=2026-11-24"`) {
		t.Errorf("the download link does not name the range shown")
	}
	var exports int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'revenue.export'
		AND actor = $1 AND after->>'scope' = 'all'`, "user:"+treasury.ID.String()).Scan(&exports); err != nil || exports != 8 {
		t.Errorf("audited exports: %d, %v; want 8", exports, err)
	}
}

// TestRevenueAgencyIsolation: an agency user's page and downloads hold only
// its agency's revenue, whatever the query says; naming another agency is a
// 404 everywhere. Treasury may filter by agency and sees the same figures.
func TestRevenueAgencyIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seedRevenue(t, e)
	agent, agencySecret := e.user("agent@example.vn", RoleAgency, "STP-HCM")
	_, treasurySecret := e.user("treasury@example.vn", RoleTreasury, "")
	ag := e.browser()
	ag.signIn(e, agencySecret)
	e.clock.Advance(31 * time.Second)
	tr := e.browser()
	tr.signIn(e, treasurySecret)

	from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, bizday.Zone), time.Date(2026, 11, 25, 0, 0, 0, 0, bizday.Zone)
	for _, dim := range revenueGroups {
		own := revenueLines(t, e, ledger.RevenueQuery{From: from, To: to, GroupBy: []ledger.Dimension{dim}, Agency: "STP-HCM"})
		all := revenueLines(t, e, ledger.RevenueQuery{From: from, To: to, GroupBy: []ledger.Dimension{dim}})
		if slices.Equal(own, all) {
			t.Fatalf("%s: the seed does not tell the agency from all", dim)
		}
		for _, query := range []string{"", "&agency=STP-HCM", "&agency=stp-hcm"} {
			q := "?group_by=" + string(dim) + "&from=2026-11-01&to=2026-11-24" + query
			p := ag.get("/console/revenue" + q)
			if got := pageLines(t, p.body); p.status != http.StatusOK || !slices.Equal(got, own) {
				t.Errorf("agency page %s: %d\n%q\nwant\n%q", q, p.status, got, own)
			}
			if strings.Contains(p.body, "CSGT") || strings.Contains(p.body, `id="agency"`) {
				t.Errorf("agency page %s shows another agency or the agency filter", q)
			}
			if got := downloadLines(t, readCSV(t, ag.get("/console/revenue/export.csv"+q).body), dim); !slices.Equal(got, own) {
				t.Errorf("agency CSV %s\n%q\nwant\n%q", q, got, own)
			}
			if got := downloadLines(t, readXLSX(t, ag.get("/console/revenue/export.xlsx"+q).body), dim); !slices.Equal(got, own) {
				t.Errorf("agency XLSX %s\n%q\nwant\n%q", q, got, own)
			}
			// Treasury asking for the agency sees what the agency sees.
			if query != "" {
				if got := pageLines(t, tr.get("/console/revenue"+q).body); !slices.Equal(got, own) {
					t.Errorf("treasury page %s\n%q\nwant\n%q", q, got, own)
				}
			}
		}
		if got := pageLines(t, tr.get("/console/revenue?group_by="+string(dim)+"&from=2026-11-01&to=2026-11-24").body); !slices.Equal(got, all) {
			t.Errorf("treasury page, all agencies\n%q\nwant\n%q", got, all)
		}
	}
	for _, path := range []string{"/console/revenue", "/console/revenue/export.csv", "/console/revenue/export.xlsx"} {
		p := ag.get(path + "?agency=CSGT-HN")
		if p.status != http.StatusNotFound || strings.Contains(p.body, "800") {
			t.Errorf("agency user asking for another agency on %s: %d", path, p.status)
		}
	}
	var scopes []string
	rows, err := e.pool.Query(context.Background(), `SELECT DISTINCT after->>'scope' FROM audit_log
		WHERE action = 'revenue.export' AND actor = $1`, "user:"+agent.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		scopes = append(scopes, s)
	}
	if rows.Err() != nil || !slices.Equal(scopes, []string{"STP-HCM"}) {
		t.Errorf("the agency user's exports are audited with scopes %q, %v", scopes, rows.Err())
	}
}

// TestRevenueFilterErrors: a filter the page cannot read is shown next to its
// field with a 422 (and the download refuses it likewise); nothing is read.
func TestRevenueFilterErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, secret := e.user("treasury@example.vn", RoleTreasury, "")
	b := e.browser()
	b.signIn(e, secret)
	for _, tc := range []struct {
		query, field, text string
	}{
		{"group_by=week", "group_by", "Choose day, service, channel or agency."},
		{"from=24/11/2026", "from", "Dates are YYYY-MM-DD."},
		{"to=tomorrow", "to", "Dates are YYYY-MM-DD."},
		{"from=2026-11-24&to=2026-11-01", "to", "The end date may not be before the start date."},
		{"from=2025-01-01&to=2026-11-24", "to", "At most 366 days at a time."},
		{"agency=" + url.QueryEscape("<b>"), "agency", "That is not an agency code."},
	} {
		p := b.get("/console/revenue?" + tc.query)
		if p.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422", tc.query, p.status)
		}
		if !strings.Contains(p.body, `<p class="field-error" id="`+tc.field+`-error">`+tc.text+`</p>`) {
			t.Errorf("%s: no %q next to %s", tc.query, tc.text, tc.field)
		}
		if strings.Contains(p.body, `id="revenue"`) || strings.Contains(p.body, "export.csv") {
			t.Errorf("%s: figures shown for a filter that cannot be read", tc.query)
		}
		if p := b.get("/console/revenue/export.csv?" + tc.query); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, tc.text) {
			t.Errorf("%s: download %d", tc.query, p.status)
		}
	}
	// A whole year is allowed; no revenue says so.
	if p := b.get("/console/revenue?from=2025-11-25&to=2026-11-24"); p.status != http.StatusOK || !strings.Contains(p.body, `id="no-revenue"`) {
		t.Errorf("366 days: %d", p.status)
	}
	for _, g := range revenueGroups {
		if _, ok := messages["rev.group."+string(g)]; !ok {
			t.Errorf("no message for group %s", g)
		}
	}
}

// TestDashboardChartGatewaysAndExceptions: the dashboard draws the daily net
// of the last 30 business days (a bar and a table row per day, the same
// figures as ledger.Revenue by day), shows each gateway's breakers in words
// (an open one says so), and shows treasury, not agency staff, the open
// reconciliation exceptions.
func TestDashboardChartGatewaysAndExceptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seedRevenue(t, e)
	router, err := gateways.NewRouter(gateways.RouterConfig{Breaker: gateways.BreakerSettings{ConsecutiveFailures: 1,
		Window: time.Minute, OpenTimeout: time.Hour, HalfOpenRequests: 1, ProbeInterval: time.Hour, ProbeTimeout: time.Second}},
		fakeGateway{name: "vnpay"}, fakeGateway{name: "momo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(router.Close)
	gw, err := router.Get("momo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Create(context.Background(), gateways.CreateRequest{}); !gateways.IsTechnical(err) {
		t.Fatalf("create: %v", err)
	}
	e.h.SetDeps(Deps{Gateways: router})
	if _, err := e.pool.Exec(context.Background(), `
		WITH r AS (INSERT INTO recon_runs (source, business_date, trigger, requested_by) VALUES ('vnpay', '2026-11-23', 'test', 'test') RETURNING id)
		INSERT INTO recon_exceptions (key, source, business_date, class, status, first_run_id, last_run_id)
		SELECT k, 'vnpay', '2026-11-23', 'missing_here', s, r.id, r.id FROM r,
			(VALUES ('x1', 'open'), ('x2', 'open'), ('x3', 'cleared')) AS v(k, s)`); err != nil {
		t.Fatal(err)
	}

	_, agencySecret := e.user("agent@example.vn", RoleAgency, "STP-HCM")
	_, treasurySecret := e.user("treasury@example.vn", RoleTreasury, "")
	ag := e.browser()
	ag.signIn(e, agencySecret)
	e.clock.Advance(31 * time.Second)
	tr := e.browser()
	tr.signIn(e, treasurySecret)

	today := bizday.Start(t0)
	dayRE := regexp.MustCompile(`<tr id="day-([0-9-]+)"><th scope="row">[0-9-]+</th><td class="num">([^<]+)</td></tr>`)
	for _, tc := range []struct {
		name   string
		b      *browser
		agency string
		recon  bool
	}{{"agency", ag, "STP-HCM", false}, {"treasury", tr, "", true}} {
		body := tc.b.get("/console").body
		want := map[string]string{}
		err := ledger.Revenue(context.Background(), e.pool, ledger.RevenueQuery{From: today.AddDate(0, 0, -29), To: today.AddDate(0, 0, 1),
			GroupBy: []ledger.Dimension{ledger.ByDay}, Agency: tc.agency}, func(r ledger.RevenueRow) error {
			want[r.Day] = formatAmount(r.Net, r.Currency, langEN)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		days := dayRE.FindAllStringSubmatch(body, -1)
		if len(days) != 30 || days[0][1] != "2026-10-26" || days[29][1] != "2026-11-24" {
			t.Fatalf("%s: %d days in the table", tc.name, len(days))
		}
		for _, d := range days {
			w, ok := want[d[1]]
			if !ok {
				w = formatAmount(decimal.Zero, "VND", langEN)
			}
			if d[2] != w {
				t.Errorf("%s: %s net %q, ledger %q", tc.name, d[1], d[2], w)
			}
		}
		if n := strings.Count(body, "<rect "); n != 30 || !strings.Contains(body, "<title id=\"dash-chart-1-title\">Net revenue by day, last 30 days, VND</title>") {
			t.Errorf("%s: %d bars, or no chart title", tc.name, n)
		}
		if !strings.Contains(body, `<tr id="gw-momo"><th scope="row">momo<span class="hint"> (card)</span></th>`+"\n"+
			`      <td data-state="breaker.open">Suspended (breaker open)</td><td data-state="breaker.closed">Working (breaker closed)</td></tr>`) ||
			!strings.Contains(body, `<td data-state="breaker.closed">Working (breaker closed)</td><td data-state="breaker.closed">`) {
			t.Errorf("%s: breakers not shown:\n%s", tc.name, body)
		}
		if got := strings.Contains(body, `<p id="open-exceptions" data-count="2">Open reconciliation exceptions: 2.`); got != tc.recon {
			t.Errorf("%s: open exceptions shown %v, want %v", tc.name, got, tc.recon)
		}
		// Treasury sees each agency's 30 days, the ledger's figures per
		// agency; an agency user sees no such table.
		if tc.agency != "" {
			if strings.Contains(body, `id="by-agency"`) {
				t.Errorf("%s: sees revenue by agency", tc.name)
			}
		} else {
			rowRE := regexp.MustCompile(`<tr data-agency="([^"]+)"><th scope="row">[^<]+</th><td class="num">[^<]+</td><td class="num">[^<]+</td>\s*<td class="num">[^<]+</td><td class="num">([^<]+)</td></tr>`)
			rows := rowRE.FindAllStringSubmatch(body, -1)
			want := map[string]string{}
			if err := ledger.Revenue(context.Background(), e.pool, ledger.RevenueQuery{From: today.AddDate(0, 0, -29), To: today.AddDate(0, 0, 1),
				GroupBy: []ledger.Dimension{ledger.ByAgency}}, func(r ledger.RevenueRow) error {
				want[r.Agency] = formatAmount(r.Net, r.Currency, langEN)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(want) || len(rows) < 2 {
				t.Errorf("%s: %d agencies on the dashboard, the ledger has %d", tc.name, len(rows), len(want))
			}
			for _, r := range rows {
				if want[r[1]] != r[2] {
					t.Errorf("%s: %s net over 30 days %q, ledger %q", tc.name, r[1], r[2], want[r[1]])
				}
			}
		}
		if tc.agency != "" && strings.Contains(body, "recon-heading") {
			t.Errorf("%s: sees reconciliation", tc.name)
		}
	}
}

// fakeGateway is a gateway whose every call fails technically.
type fakeGateway struct {
	gateways.Gateway
	name string
}

func (g fakeGateway) Name() string               { return g.name }
func (g fakeGateway) Methods() []gateways.Method { return []gateways.Method{gateways.MethodCard} }
func (g fakeGateway) Create(context.Context, gateways.CreateRequest) (gateways.CreateResult, error) {
	return gateways.CreateResult{}, &gateways.TechnicalError{Op: g.name + ": create", Err: errors.New("down")}
}
