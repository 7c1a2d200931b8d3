package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/internal/testkit/browser"
	"github.com/civicpay/civicpay/internal/testkit/pdftest"
	"github.com/civicpay/civicpay/ledger"
)

// treasuryDay is the business day the treasury test works: 10:00 GMT+7 on
// a fixed day, far from either midnight.
var treasuryDay = time.Date(2026, time.November, 23, 10, 0, 0, 0, bizday.Zone)

// treasuryEnv is a whole civicpay paying through an in-process gatewaysim,
// both on one running clock the test moves, reconciling vnpay, momo and the
// bank from what the simulator publishes, with a write-off limit of 50,000
// VND and a second approver above 500,000.
type treasuryEnv struct {
	*apptest.Env
	sim   *gatewaysim.Sim
	clock *clock.Fake
}

func newTreasuryEnv(t *testing.T) *treasuryEnv {
	t.Helper()
	clk := clock.NewRunning(treasuryDay)
	e := apptest.NewWithSimRecon(t, clk, []string{"vnpay", "momo"}, func(c *config.Config) {
		c.Console.IdleTimeout, c.Console.AbsoluteTimeout = 72*time.Hour, 72*time.Hour
		c.Recon.WriteOffLimit, c.Recon.ResolutionApprovalAmount = "50000", "500000"
	})
	return &treasuryEnv{Env: e, sim: e.Sim, clock: clk}
}

type treasuryOrder struct {
	ID, Reference, Attempt, GatewayRef string
}

var treasurySeq atomic.Int64

// pay creates an order of amount VND (a fine of agency A) and pays it at
// gateway as a citizen would (for VietQR: starts the attempt only).
func (e *treasuryEnv) pay(t *testing.T, gateway, method string, amount int64) treasuryOrder {
	t.Helper()
	body := fmt.Sprintf(`{"lines":[{"service":"A-FINE","agency":"AG-A","amount":%d}],"payer":{"name":"Lê Văn C","email":"c@example.vn"},"description":"Phạt"}`, amount)
	r := e.Do(t, "POST", "/v1/orders", e.Portal, body, "Idempotency-Key", fmt.Sprintf("treasury-%d", treasurySeq.Add(1)))
	if r.Status != http.StatusCreated {
		t.Fatalf("create order = %d %s", r.Status, r.Body)
	}
	var o struct{ ID, Reference string }
	r.JSON(t, &o)
	r = e.Do(t, "POST", "/v1/orders/"+o.ID+"/attempts", e.Portal, fmt.Sprintf(`{"method":%q,"gateway":%q}`, method, gateway))
	if r.Status != http.StatusCreated {
		t.Fatalf("start %s attempt = %d %s", gateway, r.Status, r.Body)
	}
	var a struct {
		ID          string `json:"id"`
		GatewayRef  string `json:"gateway_ref"`
		RedirectURL string `json:"redirect_url"`
	}
	r.JSON(t, &a)
	if gateway != "vietqr" {
		if _, err := e.sim.Pay(gatewaysim.PayRequest{Gateway: gateway, PayURL: a.RedirectURL, Outcome: gatewaysim.PaySuccess}); err != nil {
			t.Fatalf("pay %s: %v", gateway, err)
		}
	}
	return treasuryOrder{ID: o.ID, Reference: o.Reference, Attempt: a.ID, GatewayRef: a.GatewayRef}
}

func (e *treasuryEnv) status(t *testing.T, id string) string {
	t.Helper()
	var o struct{ Status string }
	e.Do(t, "GET", "/v1/orders/"+id, e.Treasury, nil).JSON(t, &o)
	return o.Status
}

// waitFor polls cond until it holds, failing after a generous deadline
// (what is waited for is River and callbacks, not speed).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *treasuryEnv) count(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (e *treasuryEnv) exceptionID(t *testing.T, source, class string) int64 {
	t.Helper()
	var id int64
	if err := e.Pool.QueryRow(context.Background(), `SELECT id FROM recon_exceptions WHERE business_date = '2026-11-23'
		AND source = $1 AND class = $2`, source, class).Scan(&id); err != nil {
		t.Fatalf("the %s %s exception: %v", source, class, err)
	}
	return id
}

// postForm posts a console form with the session of hc and the form token
// of the page the browser shows.
func postForm(t *testing.T, b *browser.Browser, hc *http.Client, base, path string, form url.Values) (int, string) {
	t.Helper()
	token := browser.Value(b, "the form token", chromedp.AttributeValue(chromedp.CSS(`input[name="csrf"]`), "value")).Value
	form.Set("csrf", token)
	res, err := hc.PostForm(base+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// TestBrowserConsoleTreasuryDay drives headless Chromium, JavaScript off,
// through treasury's business day 2026-11-23 in the whole app (API,
// gatewaysim, River): VNPAY's file lacks nothing but one of its IPNs was
// lost and its status API answers 503, it charged 1,000 VND too much fee on
// another payment, MoMo settled one payment twice, and the bank booked a
// 600,000 VND credit naming no reference for an open VietQR order. Lan
// fetches the day, hand-matches, writes off, is refused an over-limit
// write-off at the field, carries one exception forward, moves the credit
// to its order (Minh approves it), closes the day; a back-dated entry into
// it is refused; its report downloads; the ledger verifies; reopening waits
// for Minh; the day is closed again, and the calendar and the audit log say
// so. Screenshots go to $CIVICPAY_SCREENSHOTS.
func TestBrowserConsoleTreasuryDay(t *testing.T) {
	t.Parallel()
	b := browser.New(t, 300*time.Second)
	shots := browser.ShotsDir(t)
	e := newTreasuryEnv(t)
	ctx := context.Background()
	const date = "2026-11-23"
	dayURL := e.URL + "/console/reconciliation/" + date

	// The day's payments, as gatewaysim has them.
	plainV := e.pay(t, "vnpay", "card", 210_000)
	feeV := e.pay(t, "vnpay", "card", 220_000)
	if err := e.sim.SetFaults("vnpay", gatewaysim.Faults{CallbackDropRate: 1}); err != nil {
		t.Fatal(err)
	}
	droppedV := e.pay(t, "vnpay", "card", 230_000) // paid at VNPAY; its IPN is lost
	// VNPAY's status API answers 503 from now on: the sweep cannot confirm it.
	if err := e.sim.SetFaults("vnpay", gatewaysim.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	plainM := e.pay(t, "momo", "ewallet", 310_000)
	dupM := e.pay(t, "momo", "ewallet", 320_000)
	qr := e.pay(t, "vietqr", "bank_transfer", 600_000) // open: its payer's transfer names no reference
	if _, err := e.sim.SetBankDiscrepancies(gatewaysim.BankDiscrepancies{UnknownCredit: 600_000}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []treasuryOrder{plainV, feeV, plainM, dupM} {
		waitFor(t, "order "+o.Reference+" paid", func() bool { return e.status(t, o.ID) == "paid" })
	}
	for _, o := range []treasuryOrder{droppedV, qr} {
		if s := e.status(t, o.ID); s != "open" {
			t.Fatalf("order %s is %s before reconciliation, want open", o.Reference, s)
		}
	}
	for gw, d := range map[string]gatewaysim.FileDiscrepancies{
		"vnpay": {AlterFee: feeV.GatewayRef}, "momo": {DuplicateLine: dupM.GatewayRef},
	} {
		if err := e.sim.SetFileDiscrepancies(gw, d); err != nil {
			t.Fatal(err)
		}
	}

	store := console.NewStore(e.Pool, e.App.DataKeys, e.clock, console.Policy{})
	lan, lanSecret, err := store.DemoUser(audit.System(ctx, "test"),
		console.NewUser{Email: "lan@kbnn.gov.vn", Role: console.RoleTreasury}, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	minh, minhSecret, err := store.DemoUser(audit.System(ctx, "test"),
		console.NewUser{Email: "minh@kbnn.gov.vn", Role: console.RoleTreasury}, "staple battery horse")
	if err != nil {
		t.Fatal(err)
	}
	signOut := chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		return chromedp.Do(ctx, chromedp.Navigate(e.URL+"/console"), chromedp.Click(chromedp.CSS(`#logout-form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS("#login-form")))
	})
	asLan := consoleSignIn(e.URL, "lan@kbnn.gov.vn", "correct horse battery", lanSecret, e.clock)
	asMinh := consoleSignIn(e.URL, "minh@kbnn.gov.vn", "staple battery horse", minhSecret, e.clock)
	text := func(name, sel string) string { return b.Read(name, chromedp.Text(chromedp.CSS(sel))) }
	// dayPage loads the day's page until cond holds of it (runs are River's).
	dayPage := func(what string, cond func() bool) {
		t.Helper()
		waitFor(t, what, func() bool {
			b.Step("the day's page", chromedp.Navigate(dayURL), chromedp.WaitVisible(chromedp.CSS("#day-state")))
			return cond()
		})
	}

	// Lan fetches the day: each source now.
	b.Step("Lan signs in", browser.NoScript(), asLan)
	for _, src := range []string{"vnpay", "momo", "bank"} {
		b.Step("fetch "+src, chromedp.Navigate(dayURL), chromedp.WaitVisible(chromedp.CSS("#fetch-"+src)),
			chromedp.Click(chromedp.CSS(`#fetch-`+src+` button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#notice")))
	}
	dayPage("the day's four exceptions", func() bool {
		return strings.TrimSpace(text("open", "#open-count")) == "4" && strings.TrimSpace(text("missing", "#missing-runs")) == "none" &&
			e.count(t, `SELECT count(*) FROM recon_runs WHERE business_date = $1 AND status IN ('queued', 'running')`, date) == 0
	})
	b.Step("the fetched day", browser.Shot(t, filepath.Join(shots, "console-treasury-1-day.png")), browser.Accessible(t, "treasury day"))
	missingID := e.exceptionID(t, "vnpay", "missing_here")
	feeID := e.exceptionID(t, "vnpay", "amount_mismatch")
	dupID := e.exceptionID(t, "momo", "duplicate")
	creditID := e.exceptionID(t, "bank", "unknown")
	if n := e.count(t, `SELECT count(*) FROM recon_exceptions WHERE business_date = $1 AND status = 'open'`, date); n != 4 {
		t.Fatalf("%d open exceptions, want 4", n)
	}
	if d := e.count(t, `SELECT count(*) FROM recon_exceptions WHERE id = $1 AND detail LIKE '%status query failed%'`, missingID); d != 1 {
		t.Errorf("the missing VNPAY payment's exception does not say the status query failed")
	}
	for _, id := range []int64{missingID, feeID, dupID, creditID} {
		if r := text("exception row", fmt.Sprintf("#exception-%d", id)); r == "" {
			t.Errorf("exception %d is not on the day's page", id)
		}
	}
	exceptionURL := func(id int64) string { return fmt.Sprintf("%s/console/reconciliation/exceptions/%d", e.URL, id) }

	// The line VNPAY settled whose IPN was lost: matched by hand to its attempt.
	b.Step("hand-match the missing VNPAY line", chromedp.Navigate(exceptionURL(missingID)), chromedp.WaitVisible(chromedp.CSS("#act-form")),
		chromedp.SetValue(chromedp.CSS("#act-kind"), "match"),
		chromedp.SendKeys(chromedp.CSS("#act-note"), "IPN lost; VNPAY's portal shows it paid"),
		chromedp.Click(chromedp.CSS("#act")), chromedp.WaitVisible(chromedp.CSS("#notice")), chromedp.WaitVisible(chromedp.CSS("#exception-resolution")))
	if s := e.status(t, droppedV.ID); s != "paid" {
		t.Errorf("the hand-matched order is %s, want paid", s)
	}
	if r := text("resolution", "#exception-resolution"); !strings.Contains(r, "matched_manually") || !strings.Contains(r, "lan@kbnn.gov.vn") {
		t.Errorf("the hand-matched exception says %q", r)
	}

	// VNPAY's fee 1,000 VND over the contract: written off.
	b.Step("write off the fee difference", chromedp.Navigate(exceptionURL(feeID)), chromedp.WaitVisible(chromedp.CSS("#act-form")),
		chromedp.SetValue(chromedp.CSS("#act-kind"), "write_off"),
		chromedp.SendKeys(chromedp.CSS("#act-note"), "VNPAY's fee 1,000 over the contract; not worth a claim"),
		chromedp.Click(chromedp.CSS("#act")), chromedp.WaitVisible(chromedp.CSS("#notice")), chromedp.WaitVisible(chromedp.CSS("#exception-resolution")))
	if r := text("resolution", "#exception-resolution"); !strings.Contains(r, "written_off") {
		t.Errorf("the written-off exception says %q", r)
	}
	// The 1,000 VND leave VNPAY's fees (where the settlement books what the
	// file charges) for the write-off account, in one entry the resolution links.
	var writeOff string
	if err := e.Pool.QueryRow(ctx, `SELECT string_agg(p.account_code || ' ' || p.direction || ' ' || trim_scale(p.amount), ', ' ORDER BY p.leg)
		FROM recon_resolutions r JOIN ledger_postings p ON p.entry_id = ANY (r.ledger_entry_ids)
		WHERE r.exception_id = $1 AND r.status = 'posted' AND cardinality(r.ledger_entry_ids) = 1`, feeID).Scan(&writeOff); err != nil ||
		writeOff != "expense:recon-write-offs debit 1000, gateway:vnpay:fees credit 1000" {
		t.Errorf("the fee write-off posted %q (%v)", writeOff, err)
	}

	// MoMo's second line of 320,000 VND: more than may be written off.
	b.Step("an over-limit write-off", chromedp.Navigate(exceptionURL(dupID)), chromedp.WaitVisible(chromedp.CSS("#act-form")),
		chromedp.SetValue(chromedp.CSS("#act-kind"), "match"), chromedp.SetValue(chromedp.CSS("#act-difference"), "write_off"),
		chromedp.SendKeys(chromedp.CSS("#act-note"), "MoMo settled it twice"),
		chromedp.Click(chromedp.CSS("#act")), chromedp.WaitVisible(chromedp.CSS("#act-difference-error")),
		browser.Shot(t, filepath.Join(shots, "console-treasury-2-refused.png")), browser.Accessible(t, "write-off refused"))
	if msg := text("field error", "#act-difference-error"); !strings.Contains(msg, "more than may be written off") {
		t.Errorf("the over-limit write-off's field error is %q", msg)
	}
	if n := e.count(t, `SELECT count(*) FROM recon_exceptions WHERE id = $1 AND status = 'open'`, dupID); n != 1 {
		t.Fatal("the refused write-off changed the exception")
	}
	if n := e.count(t, `SELECT count(*) FROM recon_resolutions WHERE exception_id = $1`, dupID); n != 0 {
		t.Fatalf("the refused write-off left %d resolutions", n)
	}

	// Carried forward from the day's page, with a note.
	b.Step("carry the duplicate forward", chromedp.Navigate(dayURL),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#carry-note-%d", dupID))),
		chromedp.SendKeys(chromedp.CSS(fmt.Sprintf("#carry-note-%d", dupID)), "Claim sent to MoMo, ticket 4471"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#carry-%d button[type="submit"]`, dupID))), chromedp.WaitVisible(chromedp.CSS("#notice")))
	if c := browser.Value(b, "carried", chromedp.AttributeValue(chromedp.CSS(fmt.Sprintf("#exception-%d", dupID)), "data-carried")); c.Value != "true" {
		t.Errorf("the duplicate's row is carried %q", c.Value)
	}
	if r := text("row", fmt.Sprintf("#exception-%d", dupID)); !strings.Contains(r, "Claim sent to MoMo, ticket 4471") {
		t.Errorf("the carried row says %q", r)
	}

	// The unknown credit to its order: 600,000 VND waits for a second person.
	b.Step("move the credit to its order", chromedp.Navigate(exceptionURL(creditID)), chromedp.WaitVisible(chromedp.CSS("#act-form")),
		chromedp.SetValue(chromedp.CSS("#act-kind"), "to_order"), chromedp.SendKeys(chromedp.CSS("#act-targets"), qr.Reference),
		chromedp.SendKeys(chromedp.CSS("#act-note"), "The payer forgot the reference; confirmed by phone"),
		chromedp.Click(chromedp.CSS("#act")), chromedp.WaitVisible(chromedp.CSS("#pending")), chromedp.WaitVisible(chromedp.CSS("#own-request")))
	var resID int64
	if err := e.Pool.QueryRow(ctx, `SELECT id FROM recon_resolutions WHERE exception_id = $1 AND status = 'pending'`, creditID).Scan(&resID); err != nil {
		t.Fatalf("the pending resolution: %v", err)
	}
	if s := e.status(t, qr.ID); s != "open" {
		t.Fatalf("the order is %s before the approval", s)
	}
	hc := sessionClient(t, b, e.URL)
	if st, _ := postForm(t, b, hc, e.URL, fmt.Sprintf("/console/reconciliation/resolutions/%d/approve", resID),
		url.Values{"exception": {fmt.Sprint(creditID)}}); st != http.StatusForbidden {
		t.Errorf("Lan approving her own request: %d, want 403", st)
	}
	if n := e.count(t, `SELECT count(*) FROM recon_resolutions WHERE id = $1 AND status = 'pending'`, resID); n != 1 {
		t.Fatal("Lan's self-approval changed the resolution")
	}
	b.Step("Minh approves", signOut, asMinh, chromedp.Navigate(exceptionURL(creditID)), chromedp.WaitVisible(chromedp.CSS("#approve")),
		chromedp.SendKeys(chromedp.CSS("#approve-note"), "Checked the call record"),
		chromedp.Click(chromedp.CSS("#approve")), chromedp.WaitVisible(chromedp.CSS("#exception-resolution")))
	if s := e.status(t, qr.ID); s != "paid" {
		t.Errorf("the order the credit moved to is %s, want paid", s)
	}
	b.Step("VietQR's sides agree", chromedp.Navigate(dayURL), chromedp.WaitVisible(chromedp.CSS("#agree-vietqr-VND")))
	if a := browser.Value(b, "VietQR agrees", chromedp.AttributeValue(chromedp.CSS("#agree-vietqr-VND"), "data-agree")); a.Value != "true" {
		t.Errorf("VietQR's sides agree %q after the credit was moved to its order: %s", a.Value, text("row", "#agree-vietqr-VND"))
	}
	var payments, moves int64
	if err := e.Pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE kind = 'payment' AND reference LIKE 'order:' || $1::text || '/attempt:%'),
			count(*) FILTER (WHERE idempotency_key = 'recon:resolve:' || $2::bigint || ':move' AND kind = 'suspense')
		FROM ledger_entries`, qr.ID, creditID).Scan(&payments, &moves); err != nil {
		t.Fatal(err)
	}
	if payments != 1 || moves != 1 {
		t.Errorf("the moved credit: %d payment entries, %d suspense-out entries; want 1 and 1", payments, moves)
	}
	var suspenseOut string
	if err := e.Pool.QueryRow(ctx, `SELECT p.amount::text FROM ledger_postings p JOIN ledger_entries l ON l.id = p.entry_id
		WHERE l.idempotency_key = 'recon:resolve:' || $1::bigint || ':move' AND p.account_code = 'suspense' AND p.direction = 'debit'`,
		creditID).Scan(&suspenseOut); err != nil || suspenseOut != "600000" {
		t.Errorf("the suspense-out posting: %q %v, want a debit of 600000", suspenseOut, err)
	}

	// The next morning Lan closes the day.
	e.clock.Set(treasuryDay.AddDate(0, 0, 1))
	b.Step("Lan closes the day", signOut, asLan, chromedp.Navigate(dayURL), chromedp.WaitVisible(chromedp.CSS("#close-form")),
		chromedp.SendKeys(chromedp.CSS("#close-note"), "All sources reconciled; MoMo duplicate carried"),
		chromedp.Click(chromedp.CSS(`#close-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#closed-by")),
		browser.Shot(t, filepath.Join(shots, "console-treasury-3-closed.png")), browser.Accessible(t, "closed day"))
	if st := browser.Value(b, "state", chromedp.AttributeValue(chromedp.CSS("#day-state"), "data-state")); st.Value != "closed" {
		t.Fatalf("the day is %q after closing", st.Value)
	}
	// By Lan, at the app's time (the next morning), not the database server's.
	if by := text("closed by", "#closed-by"); !strings.Contains(by, "lan@kbnn.gov.vn at 2026-11-24 10:0") {
		t.Errorf("closed by %q", by)
	}

	// The console has no manual-entry form: the back-dated adjustment goes
	// through the API, and the closed day refuses it.
	back := `{"reason":"a fee booked on the wrong day","effective_at":"2026-11-23T15:00:00+07:00","postings":[
		{"account":"treasury:0011:bank","direction":"debit","amount":1000,"currency":"VND"},
		{"account":"suspense","direction":"credit","amount":1000,"currency":"VND"}]}`
	if r := e.Do(t, "POST", "/v1/ledger/entries", e.Treasury, back, "Idempotency-Key", "back-dated-1"); r.Status != http.StatusConflict {
		t.Errorf("a back-dated entry into the closed day: %d %s, want 409", r.Status, r.Body)
	}

	// The day's report.
	hc = sessionClient(t, b, e.URL)
	if page := string(download(t, hc, e.URL, "/console/reconciliation/"+date)); strings.Contains(page, `id="fetch-`) ||
		strings.Contains(page, `id="upload-form"`) {
		t.Error("the closed day's page offers fetch now or upload")
	}
	if st, _ := postForm(t, b, hc, e.URL, "/console/reconciliation/"+date+"/fetch", url.Values{"source": {"vnpay"}}); st != http.StatusConflict {
		t.Errorf("fetch now on the closed day: %d, want 409", st)
	}
	pdfHref := browser.Value(b, "PDF link", chromedp.AttributeValue(chromedp.CSS("#report-pdf"), "href")).Value
	xlsxHref := browser.Value(b, "XLSX link", chromedp.AttributeValue(chromedp.CSS("#report-xlsx"), "href")).Value
	pdf := download(t, hc, e.URL, pdfHref+"?lang=en")
	checkReportPDF(t, pdf)
	checkReportXLSX(t, download(t, hc, e.URL, xlsxHref+"?lang=en"))

	rep, err := ledger.Verify(ctx, e.Pool)
	if err != nil || !rep.OK() {
		t.Fatalf("ledger verify: %v %+v", err, rep.Findings)
	}

	// Reopening: Lan asks, cannot approve her own, Minh approves.
	b.Step("Lan asks to reopen", chromedp.Navigate(dayURL), chromedp.WaitVisible(chromedp.CSS("#reopen-form")),
		chromedp.SendKeys(chromedp.CSS("#reopen-reason"), "MoMo's answer changes the duplicate"),
		chromedp.Click(chromedp.CSS(`#reopen-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#reopen-pending")),
		chromedp.WaitVisible(chromedp.CSS("#reopen-own")),
		chromedp.Click(chromedp.CSS(`#reopen-approve button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#decide-error")))
	if msg := text("self-approval", "#decide-error"); msg == "" {
		t.Error("Lan's self-approval is refused without a word")
	}
	if st := browser.Value(b, "state", chromedp.AttributeValue(chromedp.CSS("#day-state"), "data-state")); st.Value != "closed" {
		t.Fatalf("the day is %q after Lan approved her own reopening", st.Value)
	}
	b.Step("Minh approves the reopening and closes again", signOut, asMinh, chromedp.Navigate(dayURL),
		chromedp.WaitVisible(chromedp.CSS("#reopen-approve")), chromedp.SendKeys(chromedp.CSS("#decide-note"), "agreed"),
		chromedp.Click(chromedp.CSS(`#reopen-approve button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#close-form")),
		chromedp.SendKeys(chromedp.CSS("#close-note"), "closed again after MoMo's answer"),
		chromedp.Click(chromedp.CSS(`#close-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#closed-by")))
	if by := text("closed by", "#closed-by"); !strings.Contains(by, "minh@kbnn.gov.vn") {
		t.Errorf("closed again by %q", by)
	}
	b.Step("the calendar", chromedp.Navigate(e.URL+"/console/reconciliation?month=2026-11"),
		chromedp.WaitVisible(chromedp.CSS("#day-"+date)),
		browser.Shot(t, filepath.Join(shots, "console-treasury-4-calendar.png")), browser.Accessible(t, "calendar"))
	if st := browser.Value(b, "cell", chromedp.AttributeValue(chromedp.CSS("#day-"+date), "data-state")); st.Value != "closed" {
		t.Errorf("the calendar shows %s %q", date, st.Value)
	}
	rep, err = ledger.Verify(ctx, e.Pool)
	if err != nil || !rep.OK() {
		t.Fatalf("ledger verify after reopening: %v %+v", err, rep.Findings)
	}

	// The audit log has every action under its person.
	got := map[string]int64{}
	rows, err := e.Pool.Query(ctx, `SELECT actor || ' ' || action, count(*) FROM audit_log WHERE actor IN ($1, $2) GROUP BY 1`,
		"user:"+lan.ID.String(), "user:"+minh.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		got[strings.Replace(strings.Replace(k, "user:"+lan.ID.String(), "lan", 1), "user:"+minh.ID.String(), "minh", 1)] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for k, n := range map[string]int64{
		"lan reconciliation.day.fetch": 3, "lan reconciliation.resolution.post": 2, "lan reconciliation.resolution.request": 1,
		"lan reconciliation.exception.carry_forward": 1, "lan ledger.day.close": 1, "lan ledger.day.reopen_request": 1,
		"minh reconciliation.resolution.approve": 1, "minh ledger.day.close": 1, "lan staff.login": 2, "minh staff.login": 2, "minh ledger.day.reopen": 1,
	} {
		if got[k] != n {
			t.Errorf("audit log: %d × %q, want %d (all: %v)", got[k], k, n, got)
		}
	}
}

// reportRows are the day's totals as the report's tables show them, cell
// after cell: per gateway (ours, theirs with the 1,000 VND fee over the
// contract, no bank credit yet: the payouts are the next day's) and per
// agency.
var reportRows = []string{
	"vnpay VND 3 660,000 3 660,000 13,210 646,790",
	"momo VND 2 630,000 3 950,000 14,250 935,750",
	"vietqr VND 1 600,000 — — — — 600,000 yes",
	"AG-A VND 1,890,000 0 0 1,890,000 6",
	"Exceptions: 5 (resolved 4, automatically 0, cleared 0, carried forward 1, open 0)",
	"Reconciliation report, business day 2026-11-23",
}

// checkReportPDF reads the day report's text (pdftest, and pdftotext when
// installed) for the day's totals.
func checkReportPDF(t *testing.T, pdf []byte) {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatalf("the report is not a PDF: %.20q", pdf)
	}
	txt, err := pdftest.Text(pdf)
	if err != nil {
		t.Fatalf("report PDF: %v", err)
	}
	texts := map[string]string{"pdftest": txt}
	if tool, err := exec.LookPath("pdftotext"); err == nil {
		cmd := exec.Command(tool, "-layout", "-", "-")
		cmd.Stdin = bytes.NewReader(pdf)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("pdftotext: %v", err)
		}
		texts["pdftotext"] = string(out)
	}
	for tool, txt := range texts {
		flat := strings.Join(strings.Fields(txt), " ")
		for _, want := range reportRows {
			if !strings.Contains(flat, want) {
				t.Errorf("%s does not read %q in the report PDF:\n%s", tool, want, txt)
			}
		}
	}
}

// checkReportXLSX reads the day report's sheets for the totals per gateway
// and per agency, amounts as numbers.
func checkReportXLSX(t *testing.T, data []byte) {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("report XLSX: %v", err)
	}
	defer f.Close()
	sheet := func(name string) []string {
		t.Helper()
		rows, err := f.GetRows(name)
		if err != nil {
			t.Fatalf("sheet %q: %v (sheets %v)", name, err, f.GetSheetList())
		}
		var out []string
		for _, r := range rows {
			out = append(out, strings.Join(r, "|"))
		}
		return out
	}
	for name, want := range map[string][]string{
		"Per gateway": {"Gateway|Currency|Our count|Our amount|Their lines|Their gross|Fees|Net|Bank credit|Agree",
			"vnpay|VND|3|660000|3|660000|13210|646790||FALSE", "momo|VND|2|630000|3|950000|14250|935750||FALSE"},
		"Per agency": {"Agency|Currency|Collected|Refunded|Adjustments|Net|Postings", "AG-A|VND|1890000|0|0|1890000|6"},
	} {
		got := sheet(name)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("XLSX sheet %q has no row %q: %q", name, w, got)
			}
		}
	}
	// VietQR: the order the credit was moved to, on both sides.
	if got := sheet("Per gateway"); len(got) != 4 || got[3] != "vietqr|VND|1|600000|||||600000|TRUE" {
		t.Errorf("XLSX per gateway: %q", got)
	}
}
