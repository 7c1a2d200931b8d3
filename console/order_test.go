package console

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/catalogue"
	"github.com/civicpay/civicpay/payments/pages"
	"github.com/civicpay/civicpay/payments/reference"
	"github.com/civicpay/civicpay/webhooks"
)

// withDeps gives e's console the domains its order page acts through, built
// as internal/app builds them from the development configuration: orders,
// paying (its refund jobs go through an insert-only River client; no worker
// runs them here, so a refund stays requested with its amount reserved),
// webhooks, and the citizen pages for the PDF receipt.
func (e *env) withDeps() *webhooks.Publisher {
	e.t.Helper()
	cfg := config.Defaults("postgres://unused")
	cfg.Clock = e.clock
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	jobs, err := river.NewClient(riverpgxv5.New(e.pool), &river.Config{Logger: log}) // insert-only
	if err != nil {
		e.t.Fatal(err)
	}
	router, err := gateways.NewRouter(gateways.RouterConfig{Breaker: cfg.BreakerSettings()})
	if err != nil {
		e.t.Fatal(err)
	}
	catalog := catalogue.NewStore(e.pool)
	orders := payments.NewOrders(e.pool, catalog, cfg.OrdersConfig(), nil, log)
	paying := payments.NewPaying(orders, router, cfg.PayingConfig())
	paying.SetJobs(jobs)
	e.t.Cleanup(func() { paying.Close(); orders.Close(); router.Close() })
	wcfg := cfg.WebhooksConfig()
	wcfg.Logger = log
	citizen, err := pages.New(pages.Deps{Orders: orders, Attempts: noAttempts{}, Breakers: router, Catalogue: catalog},
		pages.Config{PublicURL: cfg.PublicURL, ReceiptSecret: []byte(strings.Repeat("s", 32)), Log: log, Clock: e.clock})
	if err != nil {
		e.t.Fatal(err)
	}
	e.h.SetDeps(Deps{Orders: orders, Paying: paying, Webhooks: webhooks.NewService(e.pool, jobs, wcfg), Receipts: citizen})
	return webhooks.NewPublisher(jobs, wcfg)
}

// noAttempts: the order page's tests start no payment.
type noAttempts struct{}

func (noAttempts) Start(context.Context, payments.Order, pages.StartRequest) (pages.Started, error) {
	return pages.Started{}, gateways.ErrNoGateway
}

func (noAttempts) Latest(context.Context, payments.Order) (pages.Attempt, bool, error) {
	return pages.Attempt{}, false, nil
}

// staff makes a staff user who may refund (can_refund) or not.
func (e *env) staff(email string, role Role, agency string, canRefund bool) (User, string) {
	e.t.Helper()
	u, secret, err := e.h.store.DemoUser(audit.System(context.Background(), "test"),
		NewUser{Email: email, Role: role, AgencyCode: agency, CanRefund: canRefund}, "correct horse battery")
	if err != nil {
		e.t.Fatal(err)
	}
	e.emails[secret] = email
	return u, secret
}

// paidOrder is an order of lines (service, agency, amount) paid by card
// through vnpay an hour before t0: the attempt, the order's events and the
// payment's ledger entry, as the recorder leaves them.
func (e *env) paidOrder(lines ...[3]string) seeded {
	e.t.Helper()
	ctx := context.Background()
	id, attempt := uuid.New(), uuid.New()
	ref, err := reference.New()
	if err != nil {
		e.t.Fatal(err)
	}
	paidAt := t0.Add(-time.Hour)
	total := decimal.Zero
	var shares []ledger.Share
	for _, l := range lines {
		a := decimal.RequireFromString(l[2])
		total = total.Add(a)
		shares = append(shares, ledger.Share{AgencyCode: l[1], ServiceCode: l[0], Amount: a})
	}
	err = pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total,
			amount_paid, payer_name, description, expires_at, created_at, updated_at, paid_at, idempotency_key, request_hash)
			VALUES ($1, $2, $3, $4, 'paid', 'VND', $5, $5, 'Nguyễn Văn An', 'Lệ phí', $6, $7, $8, $8, $9, '\x00')`,
			id, ref, lines[0][1], uuid.New(), total, paidAt.Add(24*time.Hour), paidAt.Add(-time.Minute), paidAt, id.String()); err != nil {
			return err
		}
		for i, l := range lines {
			if _, err := tx.Exec(ctx, `INSERT INTO order_lines (order_id, line_no, service_code, agency_code, kind, amount)
				VALUES ($1, $2, $3, $4, 'fee', $5)`, id, i+1, l[0], l[1], l[2]); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, gateway_txn_id,
			currency, amount, status, outcome, created_by, created_at, updated_at, expires_at, paid_at)
			VALUES ($1, $2, 'vnpay', 'card', $3, $4, 'VND', $5, 'succeeded', 'payment', 'citizen', $6, $6, $7, $6)`,
			attempt, id, "GW-"+attempt.String()[:8], "TXN-"+attempt.String()[:8], total, paidAt, paidAt.Add(time.Hour)); err != nil {
			return err
		}
		for _, ev := range []string{"order.created", "order.paid"} {
			if err := payments.InsertEvent(ctx, tx, id, ev, "system:test", map[string]any{}); err != nil {
				return err
			}
		}
		_, err := ledger.PostPayment(ctx, tx, ledger.Payment{Key: "payment:" + attempt.String(), OrderID: id, AttemptID: attempt,
			Gateway: "vnpay", Channel: "card", Currency: "VND", Shares: shares, EffectiveAt: paidAt, Now: paidAt})
		return err
	})
	if err != nil {
		e.t.Fatalf("paid order: %v", err)
	}
	return seeded{id: id, ref: ref}
}

// twoAgencies is a paid order of 200 000 VND for STP-HCM (line 1) and 100 000 for CSGT-HN (line 2).
func twoAgencies(e *env) seeded {
	return e.paidOrder([3]string{"LLTP", "STP-HCM", "200000"}, [3]string{"PHAT", "CSGT-HN", "100000"})
}

var (
	expectedRE  = regexp.MustCompile(`name="expected" value="([^"]+)"`)
	lineFieldRE = regexp.MustCompile(`name="(line_\d+)"`)
)

// refundForm gets the order's page and returns its refund form's fields
// (CSRF token and expected refundable), failing if the page has no form.
func (b *browser) refundForm(order seeded) url.Values {
	b.t.Helper()
	p := b.get("/console/payments/" + order.id.String())
	csrf, expected := csrfRE.FindStringSubmatch(p.body), expectedRE.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || csrf == nil || expected == nil || !strings.Contains(p.body, `id="refund-form"`) {
		b.t.Fatalf("no refund form on the order's page (%d):\n%s", p.status, p.body)
	}
	return url.Values{"csrf": {csrf[1]}, "expected": {expected[1]}}
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// reserved is what the order's refunds hold: the order's pending amount,
// each line's, and the number of refunds.
func (e *env) reserved(order seeded) (pending string, lines []string, refunds int) {
	e.t.Helper()
	ctx := context.Background()
	var p decimal.Decimal
	if err := e.pool.QueryRow(ctx, `SELECT amount_refund_pending, (SELECT count(*) FROM payment_refunds WHERE order_id = $1)
		FROM orders WHERE id = $1`, order.id).Scan(&p, &refunds); err != nil {
		e.t.Fatal(err)
	}
	rows, err := e.pool.Query(ctx, `SELECT amount_refund_pending FROM order_lines WHERE order_id = $1 ORDER BY line_no`, order.id)
	if err != nil {
		e.t.Fatal(err)
	}
	ls, err := pgx.CollectRows(rows, pgx.RowTo[decimal.Decimal])
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range ls {
		lines = append(lines, l.String())
	}
	return p.String(), lines, refunds
}

// audited returns the actors of the audit rows of action, in order.
func (e *env) audited(action string) []string {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT actor FROM audit_log WHERE action = $1 ORDER BY id`, action)
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func TestOrderPageLedgerAndWebhookDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pub := e.withDeps()
	o := twoAgencies(e)
	ctx := audit.System(context.Background(), "test")

	// Endpoints of a treasury key, of each agency's key and one STP-HCM's
	// staff made (the agency's, no key's); the order's events as the app
	// publishes them (the full view, and each agency's).
	keys := auth.NewStore(e.pool)
	endpoint := map[string]uuid.UUID{}
	for _, k := range []struct{ name, role, agency string }{{"treasury", "treasury", ""}, {"stp", "agency", "STP-HCM"},
		{"csgt", "agency", "CSGT-HN"}, {"stp-staff", "", "STP-HCM"}} {
		var owner *uuid.UUID
		if k.role != "" {
			key, _, err := keys.Create(ctx, auth.Role(k.role), k.agency, k.name)
			if err != nil {
				t.Fatal(err)
			}
			owner = &key.ID
		}
		endpoint[k.name] = uuid.New()
		if _, err := e.pool.Exec(ctx, `INSERT INTO webhook_endpoints (id, owner_key_id, agency_code, url, event_types, secret)
			VALUES ($1, $2, nullif($3, ''), $4, '{order.paid}', 'whsec_test')`, endpoint[k.name], owner, k.agency,
			"https://hooks.example.vn/"+k.name+"?token=s3cret"); err != nil {
			t.Fatal(err)
		}
	}
	data := json.RawMessage(`{"id":"` + o.id.String() + `"}`)
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		_, err := pub.PublishMany(ctx, tx, []webhooks.Event{
			{Type: webhooks.EventOrderPaid, Subject: o.id.String(), Data: data},
			{Type: webhooks.EventOrderPaid, AgencyCode: "STP-HCM", AgencyOnly: true, Subject: o.id.String(), Data: data},
			{Type: webhooks.EventOrderPaid, AgencyCode: "CSGT-HN", AgencyOnly: true, Subject: o.id.String(), Data: data},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The STP endpoint answered once.
	if _, err := e.pool.Exec(ctx, `WITH d AS (UPDATE webhook_deliveries SET state = 'succeeded', attempts = 1, last_attempt_at = $2
			WHERE endpoint_id = $1 RETURNING id, endpoint_id)
		INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, status_code, latency_ms, outcome)
		SELECT id, endpoint_id, $2, 204, 12, 'succeeded' FROM d`, endpoint["stp"], t0); err != nil {
		t.Fatal(err)
	}

	_, treasury := e.user("treasury@example.vn", RoleTreasury, "")
	_, stp := e.staff("stp@example.vn", RoleAgency, "STP-HCM", true)
	for _, tc := range []struct {
		secret      string
		ledger      bool
		endpoints   []string
		refundLines []string
	}{
		{treasury, true, []string{"treasury", "stp", "stp-staff", "csgt"}, []string{"line_1", "line_2"}},
		{stp, false, []string{"stp", "stp-staff"}, []string{"line_1"}},
	} {
		b := e.browser()
		b.signIn(e, tc.secret)
		who := e.emails[tc.secret]
		p := b.get("/console/payments/" + o.id.String())
		if p.status != http.StatusOK {
			t.Fatalf("%s: status %d", who, p.status)
		}
		if got := strings.Contains(p.body, `id="ledger"`); got != tc.ledger {
			t.Errorf("%s sees the ledger entries: %v, want %v", who, got, tc.ledger)
		}
		if tc.ledger {
			for _, want := range []string{"payment via vnpay", "gateway:vnpay:clearing", "agency:STP-HCM:collected", "agency:CSGT-HN:collected",
				"300,000\u00a0VND", "(LLTP, card)"} {
				if !strings.Contains(p.body, want) {
					t.Errorf("%s: the ledger entries lack %q", who, want)
				}
			}
		}
		var got []string
		for name := range endpoint {
			if strings.Contains(p.body, "https://hooks.example.vn/"+name+"<") {
				got = append(got, name)
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tc.endpoints))
		if !slices.Equal(got, want) {
			t.Errorf("%s sees the deliveries to %v, want %v", who, got, want)
		}
		if strings.Contains(p.body, "s3cret") {
			t.Errorf("%s: an endpoint's query (its token) is shown", who)
		}
		if !strings.Contains(p.body, "HTTP 204") {
			t.Errorf("%s: the STP endpoint's answer is not shown", who)
		}
		var fields []string
		for _, m := range lineFieldRE.FindAllStringSubmatch(p.body, -1) {
			fields = append(fields, m[1])
		}
		if !slices.Equal(fields, tc.refundLines) {
			t.Errorf("%s's refund form names lines %v, want %v", who, fields, tc.refundLines)
		}
		if !strings.Contains(p.body, `href="/console/payments/`+o.id.String()+`/receipt.pdf"`) {
			t.Errorf("%s: no link to the PDF receipt", who)
		}
	}
}

func TestOrderCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.withDeps()
	orders := threeOrders(e) // B is open, led by CSGT-HN with a line of STP-HCM
	lead, csgt := e.user("csgt@example.vn", RoleAgency, "CSGT-HN")
	_, stp := e.user("stp@example.vn", RoleAgency, "STP-HCM")
	_, treasury := e.user("treasury@example.vn", RoleTreasury, "")
	page := "/console/payments/" + orders["B"].id.String()
	action := page + "/cancel"
	status := func() string {
		var s string
		if err := e.pool.QueryRow(context.Background(), `SELECT status FROM orders WHERE id = $1`, orders["B"].id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	// Refused: another agency on the order (the domain: only the leading
	// one cancels), treasury (the API's cancel is not treasury's), and an
	// agency not on it, which does not see the order at all.
	bs := e.browser()
	bs.signIn(e, stp)
	if p := bs.get(page); strings.Contains(p.body, `id="cancel-form"`) {
		t.Error("a cancel form is shown to an agency that does not lead the order")
	}
	if p := bs.submit(page, action, url.Values{"reason": {"duplicate"}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "whose line comes first") {
		t.Errorf("a non-leading agency cancels: %d", p.status)
	}
	bt := e.browser()
	bt.signIn(e, treasury)
	if p := bt.submit(page, action, url.Values{"reason": {"duplicate"}}); p.status != http.StatusForbidden {
		t.Errorf("treasury cancels: %d", p.status)
	}
	bc := e.browser()
	bc.signIn(e, csgt)
	if p := bc.submit(page, "/console/payments/"+orders["A"].id.String()+"/cancel", url.Values{"reason": {"x"}}); p.status != http.StatusNotFound {
		t.Errorf("cancel of another agency's order: %d, want 404", p.status)
	}
	// No reason: the field says so.
	if p := bc.submit(page, action, url.Values{"reason": {"  "}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, `id="cancel-reason-error"`) {
		t.Errorf("cancel without a reason: %d", p.status)
	}
	if s := status(); s != "open" {
		t.Fatalf("the refusals left the order %s", s)
	}

	if p := bc.get(page); !strings.Contains(p.body, `id="cancel-form"`) {
		t.Fatal("no cancel form for the leading agency")
	}
	p := bc.submit(page, action, url.Values{"reason": {"citizen withdrew"}})
	if p.status != http.StatusSeeOther || p.location != page+"?done=cancel" {
		t.Fatalf("cancel: %d → %q\n%s", p.status, p.location, p.body)
	}
	if p := bc.get(p.location); !strings.Contains(p.body, `id="notice"`) || !strings.Contains(p.body, ">Cancelled<") ||
		strings.Contains(p.body, `id="cancel-form"`) {
		t.Errorf("after the cancel the page does not say so:\n%s", p.body)
	}
	if s := status(); s != "cancelled" {
		t.Fatalf("order %s after the cancel", s)
	}
	// Cancelled already: a 409 on the page, not a 500.
	if p := bc.submit(page, action, url.Values{"reason": {"again"}}); p.status != http.StatusConflict || !strings.Contains(p.body, `id="error"`) {
		t.Errorf("second cancel: %d", p.status)
	}
	if got := e.audited("order.cancel"); !slices.Equal(got, []string{"user:" + lead.ID.String()}) {
		t.Errorf("cancel audited as %v, want the staff user once", got)
	}
}

func TestOrderRefundOneLineOfTwoAgencies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.withDeps()
	o := twoAgencies(e)
	u, stp := e.staff("stp@example.vn", RoleAgency, "STP-HCM", true)
	b := e.browser()
	b.signIn(e, stp)
	page := "/console/payments/" + o.id.String()
	action := page + "/refund"

	form := b.refundForm(o)
	if form.Get("expected") != "200000" {
		t.Fatalf("the form expects %s refundable, want STP-HCM's 200000", form.Get("expected"))
	}
	// Refused before anything is reserved: no reason, no line, a line that
	// is not a number, more than the line holds, another agency's line.
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		shows  string
	}{
		{"no reason", with(form, "mode", "lines", "line_1", "50000"), http.StatusUnprocessableEntity, `id="refund-reason-error"`},
		{"no amount", with(form, "mode", "lines", "reason", "overcharged"), http.StatusUnprocessableEntity, `id="mode-error"`},
		{"no choice", with(form, "reason", "overcharged"), http.StatusUnprocessableEntity, `id="mode-error"`},
		{"not a number", with(form, "mode", "lines", "line_1", "lots", "reason", "overcharged"), http.StatusUnprocessableEntity, `id="line_1-error"`},
		{"above the line", with(form, "mode", "lines", "line_1", "200001", "reason", "overcharged"), http.StatusUnprocessableEntity, `id="line_1-error"`},
		{"another agency's line", with(form, "mode", "lines", "line_2", "1000", "reason", "overcharged"), http.StatusForbidden, "only its own lines"},
	} {
		p := b.do(http.MethodPost, action, tc.form)
		if p.status != tc.status || !strings.Contains(p.body, tc.shows) {
			t.Errorf("%s: %d, want %d showing %s", tc.name, p.status, tc.status, tc.shows)
		}
		if tc.form.Get("reason") != "" && p.status == http.StatusUnprocessableEntity && !strings.Contains(p.body, ">"+tc.form.Get("reason")+"</textarea>") {
			t.Errorf("%s: the reason typed is lost", tc.name)
		}
	}
	if pending, _, n := e.reserved(o); pending != "0" || n != 0 {
		t.Fatalf("refusals reserved %s in %d refunds", pending, n)
	}

	p := b.do(http.MethodPost, action, with(form, "mode", "lines", "line_1", "50 000", "reason", "overcharged"))
	if p.status != http.StatusSeeOther || p.location != page+"?done=refund" {
		t.Fatalf("refund: %d → %q\n%s", p.status, p.location, p.body)
	}
	if p := b.get(p.location); !strings.Contains(p.body, `id="notice"`) || !strings.Contains(p.body, "overcharged") ||
		!strings.Contains(p.body, `name="expected" value="150000"`) {
		t.Errorf("after the refund the page does not show it:\n%s", p.body)
	}
	pending, lines, n := e.reserved(o)
	if pending != "50000" || !slices.Equal(lines, []string{"50000", "0"}) || n != 1 {
		t.Errorf("reserved %s (lines %v) in %d refunds, want 50000 of line 1 in one", pending, lines, n)
	}
	var requestedBy string
	var jobs int
	if err := e.pool.QueryRow(context.Background(), `SELECT requested_by, (SELECT count(*) FROM river_job WHERE kind = 'payments.refund')
		FROM payment_refunds WHERE order_id = $1`, o.id).Scan(&requestedBy, &jobs); err != nil {
		t.Fatal(err)
	}
	if requestedBy != "agency:staff:stp@example.vn" || jobs != 1 {
		t.Errorf("refund requested by %q with %d jobs", requestedBy, jobs)
	}
	if got := e.audited("refund.request"); !slices.Equal(got, []string{"user:" + u.ID.String()}) {
		t.Errorf("refund audited as %v, want the staff user once", got)
	}
}

func TestOrderRefundRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.withDeps()
	o := twoAgencies(e)
	stpOnly := e.paidOrder([3]string{"LLTP", "STP-HCM", "200000"})
	_, viewer := e.staff("viewer@example.vn", RoleAgency, "STP-HCM", false)
	_, admin := e.user("admin@example.vn", RoleAdmin, "")
	_, csgt := e.staff("csgt@example.vn", RoleAgency, "CSGT-HN", true)
	form := url.Values{"expected": {"200000"}, "mode": {"full"}, "reason": {"overcharged"}}

	for _, tc := range []struct {
		secret string
		order  seeded
		status int
	}{
		{viewer, o, http.StatusForbidden},    // view-only
		{admin, o, http.StatusForbidden},     // admin moves no money
		{csgt, stpOnly, http.StatusNotFound}, // another agency's order, as the list hides it
	} {
		b := e.browser()
		b.signIn(e, tc.secret)
		page := "/console/payments/" + tc.order.id.String()
		if p := b.get(page); strings.Contains(p.body, `id="refund-form"`) {
			t.Errorf("%s is shown a refund form", e.emails[tc.secret])
		}
		if p := b.submit("/console", page+"/refund", with(form)); p.status != tc.status {
			t.Errorf("%s refunds: %d, want %d", e.emails[tc.secret], p.status, tc.status)
		}
	}
	for _, order := range []seeded{o, stpOnly} {
		if pending, _, n := e.reserved(order); pending != "0" || n != 0 {
			t.Errorf("refused refunds reserved %s in %d refunds", pending, n)
		}
	}
	if got := e.audited("refund.request"); len(got) != 0 {
		t.Errorf("refused refunds audited: %v", got)
	}
}

// TestOrderRefundFormSentTwice: the same form posted twice (a double click,
// a reload that re-posts) refunds once; the second is told why it did nothing.
func TestOrderRefundFormSentTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.withDeps()
	o := twoAgencies(e)
	_, treasury := e.user("treasury@example.vn", RoleTreasury, "")
	b := e.browser()
	b.signIn(e, treasury)
	form := with(b.refundForm(o), "mode", "full", "reason", "service not delivered")
	if form.Get("expected") != "300000" {
		t.Fatalf("treasury's form expects %s, want the order's 300000", form.Get("expected"))
	}
	action := "/console/payments/" + o.id.String() + "/refund"
	if p := b.do(http.MethodPost, action, form); p.status != http.StatusSeeOther {
		t.Fatalf("first post: %d\n%s", p.status, p.body)
	}
	p := b.do(http.MethodPost, action, form)
	if p.status != http.StatusConflict || !strings.Contains(p.body, "refunded nothing more") {
		t.Errorf("second post: %d\n%s", p.status, p.body)
	}
	if strings.Contains(p.body, `id="refund-form"`) {
		t.Error("a refund form is offered for an order with nothing left to refund")
	}
	if pending, lines, n := e.reserved(o); pending != "300000" || !slices.Equal(lines, []string{"200000", "100000"}) || n != 1 {
		t.Errorf("reserved %s (lines %v) in %d refunds, want all of it once", pending, lines, n)
	}
}

// TestOrderRefundsRacing: three staff submit their refund forms at once —
// two of STP-HCM for its line, treasury for the whole order. Each form
// expects what it showed; whichever comes first reserves, the others find
// the amount changed. Nothing beyond what was paid is ever reserved.
func TestOrderRefundsRacing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.withDeps()
	o := twoAgencies(e)
	_, a1 := e.staff("stp1@example.vn", RoleAgency, "STP-HCM", true)
	_, a2 := e.staff("stp2@example.vn", RoleAgency, "STP-HCM", true)
	_, tr := e.user("treasury@example.vn", RoleTreasury, "")
	action := "/console/payments/" + o.id.String() + "/refund"
	type racer struct {
		b    *browser
		form url.Values
	}
	var racers []racer
	for _, secret := range []string{a1, a2, tr} {
		b := e.browser()
		b.signIn(e, secret)
		racers = append(racers, racer{b, with(b.refundForm(o), "mode", "full", "reason", "refund at once")})
	}
	start := make(chan struct{})
	statuses := make([]int, len(racers))
	var wg sync.WaitGroup
	for i, r := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i] = r.b.do(http.MethodPost, action, r.form).status
		}()
	}
	close(start)
	wg.Wait()
	won, wins, conflicts := slices.Index(statuses, http.StatusSeeOther), 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusSeeOther:
			wins++
		case http.StatusConflict:
			conflicts++
		}
	}
	if wins != 1 || conflicts != 2 {
		t.Fatalf("statuses %v: want one refund and two 409s", statuses)
	}
	pending, lines, n := e.reserved(o)
	want := map[bool][]string{true: {"300000", "200000", "100000"}, false: {"200000", "200000", "0"}}[won == 2]
	if got := append([]string{pending}, lines...); !slices.Equal(got, want) || n != 1 {
		t.Errorf("reserved %v in %d refunds, want %v in one (the winner: racer %d)", got, n, want, won)
	}
}

// TestOrderFormsNeedTheirToken: a cancel or refund posted without the form's
// CSRF token is a 403 and changes nothing.
func TestOrderFormsNeedTheirToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.withDeps()
	orders := threeOrders(e)
	paid := twoAgencies(e)
	_, csgt := e.staff("csgt@example.vn", RoleAgency, "CSGT-HN", true)
	b := e.browser()
	b.signIn(e, csgt)
	for _, tc := range []struct {
		action string
		form   url.Values
	}{
		{"/console/payments/" + orders["B"].id.String() + "/cancel", url.Values{"reason": {"no token"}}},
		{"/console/payments/" + paid.id.String() + "/refund", url.Values{"expected": {"100000"}, "mode": {"full"}, "reason": {"no token"}}},
		{"/console/payments/" + paid.id.String() + "/refund", url.Values{"csrf": {"forged"}, "expected": {"100000"}, "mode": {"full"}, "reason": {"x"}}},
	} {
		if p := b.do(http.MethodPost, tc.action, tc.form); p.status != http.StatusForbidden {
			t.Errorf("%s without its token: %d, want 403", tc.action, p.status)
		}
	}
	var status string
	if err := e.pool.QueryRow(context.Background(), `SELECT status FROM orders WHERE id = $1`, orders["B"].id).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if pending, _, n := e.reserved(paid); status != "open" || pending != "0" || n != 0 {
		t.Errorf("token-less posts changed things: order B %s, reserved %s in %d refunds", status, pending, n)
	}
}

func TestOrderReceiptPDF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.withDeps()
	orders := threeOrders(e) // B: open
	paid := e.paidOrder([3]string{"LLTP", "STP-HCM", "200000"})
	u, stp := e.user("stp@example.vn", RoleAgency, "STP-HCM")
	_, csgt := e.user("csgt@example.vn", RoleAgency, "CSGT-HN")
	pdf := "/console/payments/" + paid.id.String() + "/receipt.pdf"

	b := e.browser()
	b.signIn(e, stp)
	req := httptest.NewRequest(http.MethodGet, pdf, nil)
	req.Header.Set("X-Test-IP", b.ip)
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := b.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(body), "%PDF") {
		t.Fatalf("receipt: %d %q, starts %q", res.StatusCode, res.Header.Get("Content-Type"), body[:min(len(body), 8)])
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, paid.ref) {
		t.Errorf("Content-Disposition %q", cd)
	}
	if got := e.audited("payments.receipt"); !slices.Equal(got, []string{"user:" + u.ID.String()}) {
		t.Errorf("receipt download audited as %v", got)
	}
	// An order never paid has no receipt, and no link to one.
	if p := b.get("/console/payments/" + orders["B"].id.String() + "/receipt.pdf"); p.status != http.StatusNotFound {
		t.Errorf("receipt of an open order: %d", p.status)
	}
	if p := b.get("/console/payments/" + orders["B"].id.String()); strings.Contains(p.body, `id="receipt-pdf"`) {
		t.Error("an open order's page links a receipt")
	}
	// Another agency sees neither the order nor its receipt.
	bc := e.browser()
	bc.signIn(e, csgt)
	if p := bc.get(pdf); p.status != http.StatusNotFound || strings.HasPrefix(p.body, "%PDF") {
		t.Errorf("another agency's receipt: %d", p.status)
	}
}

// TestOrderPageMessages: the status and delivery-state keys the pages
// build exist, for every status an order can have.
func TestOrderPageMessages(t *testing.T) {
	t.Parallel()
	for _, s := range statusNames {
		if _, ok := payments.ParseStatus(s); !ok {
			t.Errorf("%s is no order status", s)
		}
		if _, ok := messages["status."+s]; !ok {
			t.Errorf("no message status.%s", s)
		}
	}
	for _, st := range []payments.Status{payments.StatusOpen, payments.StatusPaid, payments.StatusPartiallyRefunded,
		payments.StatusRefunded, payments.StatusCancelled, payments.StatusExpired} {
		if !slices.Contains(statusNames, string(st)) {
			t.Errorf("status %s is not offered in the list's filter", st)
		}
	}
	for _, s := range []string{"pending", "succeeded", "failed"} {
		if _, ok := messages["ord.hook."+s]; !ok {
			t.Errorf("no message ord.hook.%s", s)
		}
	}
}
