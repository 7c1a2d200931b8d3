package app_test

import (
	"bytes"
	"context"
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

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/ledger"
)

// TestConsoleRevenueIsTheAPIs: on seeded ledger data, for every "group by",
// the console's revenue page, its XLSX and its CSV give exactly what GET
// /v1/revenue answers for the same filter (the CSV byte for byte): to
// treasury for all agencies and for one, to an agency user what the API
// gives that agency's key. An agency user never gets another agency's
// revenue: naming it is a 404 on the page and both downloads, as on the API.
func TestConsoleRevenueIsTheAPIs(t *testing.T) {
	t.Parallel()
	e := apptest.NewQuiet(t)
	ctx := context.Background()
	at := func(d, h int) time.Time { return time.Date(2025, 11, d, h, 0, 0, 0, bizday.Zone) }
	pay := func(key, channel string, when time.Time, shares ...ledger.Share) {
		t.Helper()
		if _, err := ledger.PostPayment(ctx, e.Pool, ledger.Payment{Key: key, OrderID: uuid.New(), AttemptID: uuid.New(),
			Gateway: "vnpay", Channel: channel, Currency: "VND", EffectiveAt: when, Now: when, Shares: shares}); err != nil {
			t.Fatal(err)
		}
	}
	share := func(agency, service string, amount int64) ledger.Share {
		return ledger.Share{AgencyCode: agency, ServiceCode: service, Amount: decimal.NewFromInt(amount)}
	}
	pay("p1", "card", at(3, 9), share("AG-A", "A-FEE", 200_000))
	pay("p2", "ewallet", at(3, 23), share("AG-B", "B-CHARGE", 1_250_000))
	pay("p3", "qr", at(17, 10), share("AG-A", "A-FINE", 350_000), share("AG-B", "B-CHARGE", 90_000))
	pay("p4", "card", at(30, 23), share("AG-A", "A-FEE", 200_000))
	pay("p5", "card", time.Date(2025, 12, 1, 0, 30, 0, 0, bizday.Zone), share("AG-A", "A-FEE", 200_000)) // the day after
	if _, err := ledger.PostRefund(ctx, e.Pool, ledger.Refund{Key: "r1", OrderID: uuid.New(), RefundID: uuid.New(), Gateway: "vnpay",
		Channel: "qr", Currency: "VND", EffectiveAt: at(18, 8), Now: at(18, 8), Shares: []ledger.Share{share("AG-A", "A-FINE", 50_000)}}); err != nil {
		t.Fatal(err)
	}

	treasury := signedInConsole(t, e, "treasury@example.vn", console.RoleTreasury, "")
	agent := signedInConsole(t, e, "agent@example.vn", console.RoleAgency, "AG-A")
	const days, apiDays = "&from=2025-11-01&to=2025-11-30", "&from=2025-11-01&to=2025-12-01" // the console's "to" is included
	for _, dim := range []string{"day", "service", "channel", "agency"} {
		for _, tc := range []struct {
			name    string
			get     func(string) (*http.Response, string)
			key     string
			filter  string
			minRows int
		}{
			{"treasury, all agencies", treasury, e.Treasury, "", 2},
			{"treasury, AG-B", treasury, e.Treasury, "&agency=AG-B", 1},
			{"agency user", agent, e.AgencyA, "", 1},
		} {
			name := dim + ", " + tc.name
			api := e.Do(t, http.MethodGet, "/v1/revenue?group_by="+dim+apiDays+tc.filter, tc.key, nil)
			if api.Status != http.StatusOK {
				t.Fatalf("%s: API %d %s", name, api.Status, api.Body)
			}
			want := apiLines(t, api, dim)
			if len(want) < tc.minRows+1 {
				t.Fatalf("%s: the seed gives only %q", name, want)
			}
			query := "?group_by=" + dim + days + tc.filter
			res, page := tc.get("/console/revenue" + query)
			if got := consolePageLines(t, page); res.StatusCode != http.StatusOK || !slices.Equal(got, want) {
				t.Errorf("%s: page (%d)\n%q\nAPI\n%q", name, res.StatusCode, got, want)
			}
			res, body := tc.get("/console/revenue/export.xlsx" + query)
			if got := xlsxLines(t, body, dim); res.StatusCode != http.StatusOK || !slices.Equal(got, want) {
				t.Errorf("%s: XLSX (%d)\n%q\nAPI\n%q", name, res.StatusCode, got, want)
			}
			apiCSV := e.Do(t, http.MethodGet, "/v1/revenue?group_by="+dim+apiDays+tc.filter, tc.key, nil, "Accept", "text/csv")
			if res, body := tc.get("/console/revenue/export.csv" + query); res.StatusCode != http.StatusOK || body != string(apiCSV.Body) {
				t.Errorf("%s: CSV (%d)\n%s\nAPI's\n%s", name, res.StatusCode, body, apiCSV.Body)
			}
		}
	}
	// Another agency: a 404 on the API and everywhere in the console.
	if r := e.Do(t, http.MethodGet, "/v1/revenue?agency=AG-B"+apiDays, e.AgencyA, nil); r.Status != http.StatusNotFound {
		t.Fatalf("API, agency key naming another agency: %d", r.Status)
	}
	for _, path := range []string{"/console/revenue", "/console/revenue/export.csv", "/console/revenue/export.xlsx"} {
		if res, body := agent(path + "?agency=AG-B" + days); res.StatusCode != http.StatusNotFound ||
			strings.Contains(body, "B-CHARGE") || strings.Contains(body, "1250000") {
			t.Errorf("agency user asking for AG-B on %s: %d", path, res.StatusCode)
		}
	}
}

// signedInConsole makes a staff user and signs it in on e's console with
// password and TOTP code; the result GETs a path with the session.
func signedInConsole(t *testing.T, e *apptest.Env, email string, role console.Role, agency string) func(string) (*http.Response, string) {
	t.Helper()
	get, post := consoleClient(t, e)
	store := console.NewStore(e.Pool, e.App.DataKeys, nil, console.Policy{})
	_, secret, err := store.DemoUser(audit.System(context.Background(), "test"),
		console.NewUser{Email: email, Role: role, AgencyCode: agency}, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	_, page := get("/console/login?lang=en")
	if res := post("/console/login", url.Values{"csrf": {csrf.FindStringSubmatch(page)[1]}, "email": {email},
		"password": {"correct horse battery"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s password: %d", email, res.StatusCode)
	}
	_, page = get("/console/login/code")
	code, _ := console.TOTPCode(secret, time.Now())
	if res := post("/console/login/code", url.Values{"csrf": {csrf.FindStringSubmatch(page)[1]}, "code": {code}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s code: %d", email, res.StatusCode)
	}
	return get
}

// revenueLine is one row of revenue as the tests compare them:
// kind|group|currency|gross|refunds|adjustments|net|postings.
func revenueLine(kind, group, currency string, amounts []decimal.Decimal, postings string) string {
	parts := []string{kind, group, currency}
	for _, a := range amounts {
		parts = append(parts, a.String())
	}
	return strings.Join(append(parts, postings), "|")
}

func apiLines(t *testing.T, r apptest.Response, dim string) []string {
	t.Helper()
	var body struct {
		Rows, Totals []map[string]any
	}
	r.JSON(t, &body)
	var out []string
	conv := func(kind string, rows []map[string]any) {
		for _, m := range rows {
			var amounts []decimal.Decimal
			for _, k := range []string{"gross", "refunds", "adjustments", "net"} {
				d, err := decimal.NewFromString(strings.Trim(anyString(m[k]), `"`))
				if err != nil {
					t.Fatalf("%s %v: %v", k, m[k], err)
				}
				amounts = append(amounts, d)
			}
			group := ""
			if kind == "group" {
				group = anyString(m[dim])
			}
			out = append(out, revenueLine(kind, group, anyString(m["currency"]), amounts, anyString(m["postings"])))
		}
	}
	conv("group", body.Rows)
	conv("total", body.Totals)
	return out
}

func anyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return decimal.NewFromFloat(x).String()
	case nil:
		return ""
	}
	return ""
}

var (
	consoleRowRE = regexp.MustCompile(`<tr class="(group|total)"><th scope="row">([^<]*)</th><td>([A-Z]{3})</td>` +
		`<td class="num">([^<]+)</td><td class="num">([^<]+)</td>\s*<td class="num">([^<]+)</td><td class="num">([^<]+)</td><td class="num">([^<]+)</td></tr>`)
	consoleAmountRE = regexp.MustCompile(`^(-?[0-9,]+(?:\.[0-9]+)?)\x{a0}[A-Z]{3}$`)
)

// consolePageLines reads the table of an English revenue page.
func consolePageLines(t *testing.T, page string) []string {
	t.Helper()
	var out []string
	for _, m := range consoleRowRE.FindAllStringSubmatch(page, -1) {
		var amounts []decimal.Decimal
		for _, s := range m[4:8] {
			a := consoleAmountRE.FindStringSubmatch(s)
			if a == nil {
				t.Fatalf("amount %q", s)
			}
			amounts = append(amounts, decimal.RequireFromString(strings.ReplaceAll(a[1], ",", "")))
		}
		group := m[2]
		if m[1] == "total" {
			group = ""
		}
		out = append(out, revenueLine(m[1], group, m[3], amounts, m[8]))
	}
	return out
}

// xlsxLines opens an XLSX download with excelize and reads its rows.
func xlsxLines(t *testing.T, body, dim string) []string {
	t.Helper()
	x, err := excelize.OpenReader(bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatalf("xlsx: %v", err)
	}
	defer x.Close()
	rows, err := x.GetRows(x.GetSheetName(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("empty XLSX")
	}
	header := rows[0]
	col := slices.Index(header, dim)
	if col < 0 || len(header) != 11 || header[0] != "row" || header[5] != "currency" || header[10] != "postings" {
		t.Fatalf("XLSX header %q", header)
	}
	var out []string
	for _, r := range rows[1:] {
		for len(r) < len(header) {
			r = append(r, "")
		}
		var amounts []decimal.Decimal
		for _, s := range r[6:10] {
			d, err := decimal.NewFromString(s)
			if err != nil {
				t.Fatalf("XLSX amount %q: %v", s, err)
			}
			amounts = append(amounts, d)
		}
		out = append(out, revenueLine(r[0], r[col], r[5], amounts, r[10]))
	}
	return out
}
