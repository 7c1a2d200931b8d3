package app_test

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/internal/testkit/browser"
	"github.com/civicpay/civicpay/payments/reference"
)

// consoleOrder is an order made and paid through the API and gatewaysim.
type consoleOrder struct {
	ID, Reference string
}

// paidOrder creates an order through the API with body's lines and pays it
// with MoMo through the pay page and the simulator, waiting for the callback.
func payByMoMo(t *testing.T, e *apptest.Env, idem, lines string) consoleOrder {
	t.Helper()
	r := e.Do(t, "POST", "/v1/orders", e.Portal, `{"lines":`+lines+`,
		"payer":{"name":"Nguyễn Thị Hoa","phone":"0912345678"},"description":"Lệ phí"}`, "Idempotency-Key", idem)
	if r.Status != http.StatusCreated {
		t.Fatalf("create order: %d %s", r.Status, r.Body)
	}
	var o consoleOrder
	r.JSON(t, &o)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.PostForm(e.URL+"/pay/"+o.Reference, url.Values{"method": {"ewallet:momo"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if _, err := e.Sim.Pay(gatewaysim.PayRequest{Gateway: "momo", PayURL: res.Header.Get("Location"), Outcome: gatewaysim.PaySuccess}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var got struct{ Status string }
		e.Do(t, "GET", "/v1/orders/"+o.ID, e.Portal, nil).JSON(t, &got)
		if got.Status == "paid" {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s still %s", o.Reference, got.Status)
		}
	}
}

// TestBrowserConsoleAgencyDay drives headless Chromium, JavaScript off,
// through an agency clerk's work in the whole app (API, gatewaysim, River):
// sign-in with password and TOTP, the dashboard, an order found by its
// reference typed with spaces in lower case, its page, the CSV and XLSX of
// the list compared with what the API lists for the agency's key, nothing of
// another agency (its order's page is a 404, its order in no download), a
// form posted without its token refused, and, after the idle timeout, the
// next page sends the clerk to sign in. Every sign-in and download is in the
// audit log under the clerk. Screenshots go to $CIVICPAY_SCREENSHOTS.
func TestBrowserConsoleAgencyDay(t *testing.T) {
	t.Parallel()
	b := browser.New(t, 180*time.Second)
	shots := browser.ShotsDir(t)
	clk := clock.NewRunning(time.Now())
	e := apptest.NewWithSim(t, apptest.WithClock(clk), func(c *config.Config) { c.Console.IdleTimeout = 30 * time.Minute })
	ctx := context.Background()

	// Two agencies' orders: one with a line of each, one of AG-B only.
	both := payByMoMo(t, e, "console-both", `[{"service":"A-FINE","agency":"AG-A","amount":150000},
		{"service":"B-CHARGE","agency":"AG-B","amount":50000}]`)
	onlyB := payByMoMo(t, e, "console-b", `[{"service":"B-CHARGE","agency":"AG-B","amount":70000}]`)

	store := console.NewStore(e.Pool, e.App.DataKeys, clk, console.Policy{})
	clerk, secret, err := store.DemoUser(audit.System(ctx, "test"),
		console.NewUser{Email: "clerk@agency-a.gov.vn", Role: console.RoleAgency, AgencyCode: "AG-A", CanRefund: true}, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	b.Step("sign in with password and TOTP", browser.NoScript(),
		consoleSignIn(e.URL, "Clerk@Agency-A.gov.vn", "correct horse battery", secret, clk),
		browser.Shot(t, filepath.Join(shots, "console-agency-1-dashboard.png")),
		browser.Accessible(t, "dashboard"),
	)

	typed := strings.ToLower(reference.Format(both.Reference))
	b.Step("find the order by its reference typed with spaces",
		chromedp.Navigate(e.URL+"/console/payments"),
		chromedp.WaitVisible(chromedp.CSS("#payments-filter")),
		chromedp.SendKeys(chromedp.CSS("#reference"), typed+"\r"),
		// The answer's form carries the query in its value attribute; the
		// page typed on has it only as the input's live value.
		chromedp.WaitVisible(chromedp.CSS(`#reference[value="`+typed+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#orders")),
		browser.Shot(t, filepath.Join(shots, "console-agency-2-payments.png")),
		browser.Accessible(t, "payments"),
	)
	if rows := b.Read("the list", chromedp.Text(chromedp.CSS("#orders tbody"))); !strings.Contains(rows, both.Reference) {
		t.Errorf("searching %q lists %q, want %s", typed, rows, both.Reference)
	}
	b.Step("open the order",
		chromedp.Click(chromedp.CSS(`#orders a[href="/console/payments/`+both.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#order")),
	)
	if st := b.Read("status", chromedp.Text(chromedp.CSS("#order-status"))); !strings.Contains(st, "Paid") {
		t.Errorf("order page status %q", st)
	}

	// Revenue, the agency's own, by day, before the refund (the page's
	// figures are ledger.Revenue's, compared with the API in console_revenue_test.go).
	b.Step("revenue",
		chromedp.Navigate(e.URL+"/console/revenue"),
		chromedp.WaitVisible(chromedp.CSS("svg.chart")),
		browser.Shot(t, filepath.Join(shots, "console-agency-4-revenue.png")),
		browser.Accessible(t, "revenue"),
	)
	b.Step("back to the order", chromedp.Navigate(e.URL+"/console/payments/"+both.ID), chromedp.WaitVisible(chromedp.CSS("#refund-form")))

	// Refund the agency's own line (line 1, 150,000 of the 200,000), with a
	// reason: the refund is requested through the domain, the simulated
	// gateway refunds it, and the order ends partially refunded.
	b.Step("refund one line",
		chromedp.Click(chromedp.CSS("#mode-lines")),
		chromedp.SendKeys(chromedp.CSS("#line_1"), "150000"),
		chromedp.SendKeys(chromedp.CSS("#refund-reason"), "Hồ sơ bị từ chối"),
		chromedp.Click(chromedp.CSS(`#refund-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#notice")),
		browser.Shot(t, filepath.Join(shots, "console-agency-3-order.png")),
		browser.Accessible(t, "order"),
	)
	if rows := b.Read("refunds", chromedp.Text(chromedp.CSS("#refunds tbody"))); !strings.Contains(rows, "150,000") && !strings.Contains(rows, "150.000") {
		t.Errorf("the order's refunds after refunding line 1: %q", rows)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var got struct {
			Status         string
			AmountRefunded string `json:"amount_refunded"`
		}
		e.Do(t, "GET", "/v1/orders/"+both.ID, e.AgencyA, nil).JSON(t, &got)
		if got.Status == "partially_refunded" {
			if got.AmountRefunded != "150000" {
				t.Errorf("refunded %s, want 150000", got.AmountRefunded)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s after the refund: %s", both.Reference, got.Status)
		}
	}

	// Another agency's order: its page is not found, as in the API.
	b.Step("another agency's order", chromedp.Navigate(e.URL+"/console/payments/"+onlyB.ID), chromedp.WaitVisible(chromedp.CSS("#error-body")))
	if h := b.Read("refusal", chromedp.Text(chromedp.CSS("h1"))); !strings.Contains(h, "not found") && !strings.Contains(h, "Not found") {
		t.Errorf("another agency's order page shows %q", h)
	}

	// The downloads the unfiltered list offers, fetched with the browser's
	// own session, against what the API lists for the agency's key.
	b.Step("the unfiltered list", chromedp.Navigate(e.URL+"/console/payments"), chromedp.WaitVisible(chromedp.CSS("#export-csv")))
	hc := sessionClient(t, b, e.URL)
	var api struct {
		Data []struct{ Reference string } `json:"data"`
	}
	e.Do(t, "GET", "/v1/orders", e.AgencyA, nil).JSON(t, &api)
	var want []string
	for _, o := range api.Data {
		want = append(want, o.Reference)
	}
	slices.Sort(want)
	if len(want) == 0 || slices.Contains(want, onlyB.Reference) {
		t.Fatalf("the API lists %v for AG-A", want)
	}
	csvHref := browser.Value(b, "CSV link", chromedp.AttributeValue(chromedp.CSS("#export-csv"), "href")).Value
	xlsxHref := browser.Value(b, "XLSX link", chromedp.AttributeValue(chromedp.CSS("#export-xlsx"), "href")).Value
	csvRows := readCSV(t, download(t, hc, e.URL, csvHref))
	xlsxRows := readXLSX(t, download(t, hc, e.URL, xlsxHref))
	for name, rows := range map[string][][]string{"CSV": csvRows, "XLSX": xlsxRows} {
		if got := references(t, rows); !slices.Equal(got, want) {
			t.Errorf("%s lists %v, the API %v", name, got, want)
		}
	}

	// A form posted without its token, with the session's cookie.
	res, err := hc.PostForm(e.URL+"/console/logout", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without the form token: %d, want 403", res.StatusCode)
	}

	// Past the idle timeout the next page is the sign-in.
	clk.Advance(31 * time.Minute)
	b.Step("idle past the timeout", chromedp.Navigate(e.URL+"/console/payments"), chromedp.WaitVisible(chromedp.CSS("#login-form")))

	var logins, exports, refunds int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE action = 'staff.login'), count(*) FILTER (WHERE action = 'payments.export'),
		count(*) FILTER (WHERE action = 'refund.request')
		FROM audit_log WHERE actor = $1`, "user:"+clerk.ID.String()).Scan(&logins, &exports, &refunds); err != nil {
		t.Fatal(err)
	}
	if logins != 1 || exports != 2 || refunds != 1 {
		t.Errorf("audit log under the clerk: %d sign-ins, %d exports, %d refunds; want 1, 2 and 1", logins, exports, refunds)
	}
}

// consoleSignIn signs in at base's console with email, password and the
// TOTP code of secret at clk's time, ending on the dashboard.
func consoleSignIn(base, email, password, secret string, clk clock.Clock) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/login?lang=en"),
			chromedp.WaitVisible(chromedp.CSS("#login-form")),
			chromedp.SendKeys(chromedp.CSS("#email"), email),
			chromedp.SendKeys(chromedp.CSS("#password"), password+"\r"),
			chromedp.WaitVisible(chromedp.CSS("#code-form"))); err != nil {
			return err
		}
		code, err := console.TOTPCode(secret, clk.Now())
		if err != nil {
			return err
		}
		return chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#code"), code+"\r"), chromedp.WaitVisible(chromedp.CSS("#revenue")))
	})
}

// sessionClient is an HTTP client carrying the browser's cookies for base
// (the console session), not following redirects.
func sessionClient(t *testing.T, b *browser.Browser, base string) *http.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
	defer cancel()
	var cookies []*network.Cookie
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		r, err := cdp.Call(ctx, tgt, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/console/"}})
		if err != nil {
			return err
		}
		cookies = r.Cookies
		return nil
	})); err != nil {
		t.Fatalf("browser cookies: %v", err)
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(base + "/console/")
	var hs []*http.Cookie
	for _, c := range cookies {
		hs = append(hs, &http.Cookie{Name: c.Name, Value: c.Value, Path: c.Path})
	}
	jar.SetCookies(u, hs)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func download(t *testing.T, hc *http.Client, base, href string) []byte {
	t.Helper()
	res, err := hc.Get(base + href)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", href, res.StatusCode, err)
	}
	return body
}

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v", err)
	}
	return rows
}

func readXLSX(t *testing.T, b []byte) [][]string {
	t.Helper()
	f, err := excelize.OpenReader(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("XLSX: %v", err)
	}
	defer f.Close()
	rows, err := f.GetRows(f.GetSheetName(0))
	if err != nil {
		t.Fatalf("XLSX rows: %v", err)
	}
	return rows
}

// references reads the sorted "reference" column of a download.
func references(t *testing.T, rows [][]string) []string {
	t.Helper()
	if len(rows) == 0 {
		t.Fatal("a download without a header")
	}
	col := slices.Index(rows[0], "reference")
	if col < 0 {
		t.Fatalf("no reference column in %v", rows[0])
	}
	var out []string
	for _, r := range rows[1:] {
		if col < len(r) && r[col] != "" {
			out = append(out, r[col])
		}
	}
	slices.Sort(out)
	return out
}

// TestBrowserConsoleAdminInvites drives headless Chromium, JavaScript off:
// an admin signs in, invites an agency clerk in the admin pages and reads the
// one-time set-up link the page shows; signed out, the link sets the clerk's
// password and enrols TOTP (the code computed from the secret the page
// shows), and the clerk lands on a dashboard scoped to its agency. The
// invitation, the password and the enrolment are in the audit log, the
// first under the admin.
func TestBrowserConsoleAdminInvites(t *testing.T) {
	t.Parallel()
	b := browser.New(t, 180*time.Second)
	shots := browser.ShotsDir(t)
	clk := clock.NewRunning(time.Now())
	e := apptest.New(t, apptest.WithClock(clk))
	ctx := context.Background()
	store := console.NewStore(e.Pool, e.App.DataKeys, clk, console.Policy{})
	admin, secret, err := store.DemoUser(audit.System(ctx, "test"),
		console.NewUser{Email: "root@civicpay.gov.vn", Role: console.RoleAdmin}, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	code := func(secret string) string {
		c, err := console.TOTPCode(secret, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	b.Step("the admin signs in", browser.NoScript(),
		consoleSignIn(e.URL, "root@civicpay.gov.vn", "correct horse battery", secret, clk),
		chromedp.Navigate(e.URL+"/console/admin/users"),
		chromedp.WaitVisible(chromedp.CSS("#invite-form")),
		chromedp.SendKeys(chromedp.CSS("#email"), "new.clerk@agency-b.gov.vn"),
		chromedp.SetValue(chromedp.CSS("#role"), "agency"),
		chromedp.SetValue(chromedp.CSS("#agency"), "AG-B"),
		chromedp.Click(chromedp.CSS(`#invite-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#setup-link")),
		browser.Shot(t, filepath.Join(shots, "console-admin-1-invited.png")),
		browser.Accessible(t, "admin users"),
	)
	link := browser.Value(b, "the set-up link", chromedp.AttributeValue(chromedp.CSS("#setup-link"), "value")).Value
	if !strings.HasPrefix(link, e.URL+"/console/setup/") {
		t.Fatalf("the invitation shows %q", link)
	}
	b.Step("the admin signs out; the clerk opens the link",
		chromedp.Navigate(e.URL+"/console"),
		chromedp.Click(chromedp.CSS(`#logout-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.Navigate(link+"?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("#setup-form")),
		chromedp.SendKeys(chromedp.CSS("#password"), "a long new passphrase"),
		chromedp.SendKeys(chromedp.CSS("#confirm"), "a long new passphrase"),
		chromedp.Click(chromedp.CSS(`#setup-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#enrol-form")),
	)
	clerkSecret := strings.TrimSpace(b.Read("the clerk's secret", chromedp.Text(chromedp.CSS("#totp-secret"))))
	b.Step("the clerk enrols TOTP",
		chromedp.SendKeys(chromedp.CSS("#code"), code(clerkSecret)),
		chromedp.Click(chromedp.CSS(`#enrol-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#recovery-codes")),
		chromedp.Click(chromedp.CSS("#to-console")),
		chromedp.WaitVisible(chromedp.CSS("#revenue")),
	)
	if who := b.Read("who", chromedp.Text(chromedp.CSS("#who"))); !strings.Contains(who, "new.clerk@agency-b.gov.vn") || !strings.Contains(who, "AG-B") {
		t.Errorf("the new clerk's header says %q", who)
	}
	if link2, err := http.Get(link); err == nil {
		link2.Body.Close()
		if link2.StatusCode == http.StatusOK {
			t.Error("the set-up link works a second time")
		}
	}
	var invited, password, enrolled int
	if err := e.Pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE action = 'staff.user.create' AND actor = $1),
			count(*) FILTER (WHERE action = 'staff.password.set'),
			count(*) FILTER (WHERE action = 'staff.totp.enrol')
		FROM audit_log`, "user:"+admin.ID.String()).Scan(&invited, &password, &enrolled); err != nil {
		t.Fatal(err)
	}
	if invited != 1 || password != 1 || enrolled != 1 {
		t.Errorf("audit: %d invitations by the admin, %d passwords set, %d enrolments; want 1 each", invited, password, enrolled)
	}
}
