package app_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// TestConsoleOrderActionsAreWired: the app gives the console the domains its
// order page acts through — an agency user cancels an order (the order's
// history and the audit log name the person) and downloads a paid order's
// PDF receipt drawn by the citizen pages.
func TestConsoleOrderActionsAreWired(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	type orderJSON struct {
		ID string `json:"id"`
	}
	newOrder := func(idem string) string {
		r := e.Do(t, "POST", "/v1/orders", e.Portal, `{"lines":[{"service":"A-FEE","agency":"AG-A","amount":200000}],
			"payer":{"name":"Nguyễn Văn An","email":"an@example.vn"},"description":"Lệ phí"}`, "Idempotency-Key", idem)
		if r.Status != http.StatusCreated {
			t.Fatalf("create order: %d %s", r.Status, r.Body)
		}
		var o orderJSON
		r.JSON(t, &o)
		return o.ID
	}
	open, paid := newOrder("console-open"), newOrder("console-paid")
	ctx := context.Background()
	if _, err := e.Pool.Exec(ctx, `UPDATE orders SET status = 'paid', amount_paid = total, paid_at = now() WHERE id = $1`, paid); err != nil {
		t.Fatal(err)
	}

	store := console.NewStore(e.Pool, e.App.DataKeys, nil, console.Policy{})
	u, secret, err := store.DemoUser(audit.System(ctx, "test"),
		console.NewUser{Email: "clerk@example.vn", Role: console.RoleAgency, AgencyCode: "AG-A"}, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	get, post := consoleClient(t, e)
	token := func(page string) string {
		t.Helper()
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no form token in:\n%s", page)
		}
		return m[1]
	}
	_, page := get("/console/login?lang=en")
	post("/console/login", url.Values{"csrf": {token(page)}, "email": {"clerk@example.vn"}, "password": {"correct horse battery"}})
	_, page = get("/console/login/code")
	code, _ := console.TOTPCode(secret, time.Now())
	if res := post("/console/login/code", url.Values{"csrf": {token(page)}, "code": {code}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}

	_, page = get("/console/payments/" + open)
	if !strings.Contains(page, `id="cancel-form"`) {
		t.Fatalf("no cancel form:\n%s", page)
	}
	if res := post("/console/payments/"+open+"/cancel", url.Values{"csrf": {token(page)}, "reason": {"citizen withdrew"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d", res.StatusCode)
	}
	var status, eventActor, auditActor string
	if err := e.Pool.QueryRow(ctx, `SELECT o.status, (SELECT actor FROM order_events WHERE order_id = o.id AND type = 'order.cancelled'),
		(SELECT actor FROM audit_log WHERE action = 'order.cancel' AND resource_id = o.id::text)
		FROM orders o WHERE o.id = $1`, open).Scan(&status, &eventActor, &auditActor); err != nil {
		t.Fatal(err)
	}
	if status != "cancelled" || eventActor != "agency:staff:clerk@example.vn" || auditActor != "user:"+u.ID.String() {
		t.Errorf("after the cancel: %s, event by %q, audited as %q", status, eventActor, auditActor)
	}

	res, pdf := get("/console/payments/" + paid + "/receipt.pdf")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf, "%PDF") {
		t.Errorf("receipt: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
