package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// The roles a test calls with: admin+treasury is an admin key also given
// treasury (POST /v1/keys {"also":["treasury"]}).
const (
	portal        = "portal"
	agency        = "agency"
	treasury      = "treasury"
	admin         = "admin"
	adminTreasury = "admin+treasury"
)

var (
	everyone = []string{portal, agency, treasury, admin, adminTreasury}
	// readers read the back office; only treasury (or admin+treasury) moves money.
	readers   = []string{treasury, admin, adminTreasury}
	movers    = []string{treasury, adminTreasury}
	adminOnly = []string{admin, adminTreasury}
)

// routeRoles is who may call each /v1 route — separation of duties written
// down: admin manages keys and the catalogue and reads everything, but moves
// no money (refunds, manual entries and reversals and their approval,
// statements, reconciliation runs and resolutions, closing days) unless its
// key is also given treasury. TestEveryRouteAllowsOnlyItsRoles proves that
// every other role gets 403, and fails for a mounted route not listed here.
var routeRoles = map[string][]string{
	"GET /v1/keys":                     adminOnly,
	"POST /v1/keys":                    adminOnly,
	"POST /v1/keys/:id/revoke":         adminOnly,
	"GET /v1/agencies":                 everyone,
	"GET /v1/agencies/:code":           everyone,
	"PUT /v1/agencies/:code":           adminOnly,
	"GET /v1/services":                 everyone,
	"PUT /v1/services/:code":           adminOnly,
	"POST /v1/orders":                  {portal},
	"GET /v1/orders":                   everyone, // each sees its own (portal: created, agency: its agency's)
	"GET /v1/orders/by-reference/:ref": everyone,
	"GET /v1/orders/:id":               everyone,
	"GET /v1/orders/:id/events":        everyone,
	"POST /v1/orders/:id/cancel":       {portal, agency},
	"POST /v1/orders/:id/attempts":     {portal},
	"GET /v1/orders/:id/attempts":      everyone,
	"POST /v1/orders/:id/refunds":      {agency, treasury, adminTreasury},
	"GET /v1/orders/:id/refunds":       everyone,
	"GET /v1/gateways":                 everyone,

	// Webhooks: every key manages its own endpoints and reads its own events.
	"POST /v1/webhook-endpoints":                   everyone,
	"GET /v1/webhook-endpoints":                    everyone,
	"GET /v1/webhook-endpoints/:id":                everyone,
	"PATCH /v1/webhook-endpoints/:id":              everyone,
	"DELETE /v1/webhook-endpoints/:id":             everyone,
	"POST /v1/webhook-endpoints/:id/rotate-secret": everyone,
	"GET /v1/webhook-endpoints/:id/deliveries":     everyone,
	"POST /v1/webhook-deliveries/:id/retry":        everyone,
	"GET /v1/events":                               everyone,
	"GET /v1/events/:id":                           everyone,
	"POST /v1/events/:id/resend":                   everyone,

	"GET /v1/audit":                                readers,
	"GET /v1/ledger/accounts":                      readers,
	"GET /v1/ledger/accounts/:code/balance":        readers,
	"GET /v1/ledger/balances":                      readers,
	"GET /v1/ledger/entries":                       readers,
	"POST /v1/ledger/entries":                      movers,
	"GET /v1/ledger/entries/requests":              readers,
	"GET /v1/ledger/entries/requests/:id":          readers,
	"POST /v1/ledger/entries/requests/:id/approve": movers,
	"POST /v1/ledger/entries/requests/:id/reject":  movers,
	"GET /v1/ledger/entries/:id":                   readers,
	"POST /v1/ledger/entries/:id/reversal":         movers,
	"GET /v1/revenue":                              {agency, treasury, admin, adminTreasury},

	"POST /v1/statements":                                  movers,
	"GET /v1/statements":                                   readers,
	"GET /v1/statements/:id":                               readers,
	"GET /v1/statements/:id/raw":                           readers,
	"GET /v1/statements/:id/entries":                       readers,
	"POST /v1/statements/:id/commit":                       movers,
	"GET /v1/reconciliation/positions":                     readers,
	"GET /v1/reconciliation/runs":                          readers,
	"POST /v1/reconciliation/runs":                         movers,
	"GET /v1/reconciliation/runs/:id":                      readers,
	"GET /v1/reconciliation/runs/:id/exceptions":           readers,
	"GET /v1/reconciliation/runs/:id/export":               readers,
	"GET /v1/reconciliation/exceptions/:id":                readers,
	"POST /v1/reconciliation/exceptions/:id/resolve":       movers,
	"POST /v1/reconciliation/exceptions/:id/approve":       movers,
	"GET /v1/days/:date":                                   readers,
	"POST /v1/days/:date/close":                            movers,
	"GET /v1/days/:date/report":                            readers,
	"POST /v1/days/:date/reopen":                           movers,
	"POST /v1/days/:date/reopen/approve":                   movers,
	"POST /v1/days/:date/reopen/reject":                    movers,
	"POST /v1/reconciliation/exceptions/:id/carry-forward": movers,
}

// pathValues fill a route's parameters with values no row has: an allowed
// role gets a 404 or 422 (or 200), never 403.
var pathValues = strings.NewReplacer(":id", "0", ":code", "NOPE", ":ref", "RF00000000000000000", ":date", "2000-01-01")

func TestEveryRouteAllowsOnlyItsRoles(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	keys := map[string]string{portal: e.Portal, agency: e.AgencyA, treasury: e.Treasury, admin: e.Admin, adminTreasury: e.AdminTreasury}
	mounted := map[string]bool{}
	for _, r := range e.App.HTTP.GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == "USE" || !strings.HasPrefix(r.Path, "/v1/") {
			continue
		}
		mounted[r.Method+" "+r.Path] = true
	}
	var unlisted, gone []string
	for route := range mounted {
		if _, ok := routeRoles[route]; !ok {
			unlisted = append(unlisted, route)
		}
	}
	for route := range routeRoles {
		if !mounted[route] {
			gone = append(gone, route)
		}
	}
	sort.Strings(unlisted)
	sort.Strings(gone)
	if len(unlisted) > 0 || len(gone) > 0 {
		t.Fatalf("routeRoles is out of date: mounted but not listed %v; listed but not mounted %v", unlisted, gone)
	}
	for route, allowed := range routeRoles {
		method, path, _ := strings.Cut(route, " ")
		for _, role := range everyone {
			var body any
			if method != http.MethodGet && method != http.MethodDelete {
				body = "{}"
			}
			r := e.Do(t, method, pathValues.Replace(path), keys[role], body)
			switch may := slices.Contains(allowed, role); {
			case may && r.Status == http.StatusForbidden:
				t.Errorf("%s as %s: 403 %s, want allowed", route, role, r.Body)
			case !may && r.Status != http.StatusForbidden:
				t.Errorf("%s as %s: %d %s, want 403", route, role, r.Status, r.Body)
			}
		}
	}
}

// Admin moves no money: no refund, no manual entry, no statement upload.
// An admin key also given treasury may. (On main, admin passed every check.)
func TestAdminMovesNoMoneyUnlessAlsoTreasury(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	o := paidOrder(t, e)
	refund := `{"amount":"1000","expected_refundable":"200000","reason":"double charge"}`
	if r := e.Do(t, "POST", "/v1/orders/"+o+"/refunds", e.Admin, refund); r.Status != http.StatusForbidden {
		t.Fatalf("admin refund: %d %s", r.Status, r.Body)
	}
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	entry := fmt.Sprintf(`{"reason":"bank fee","effective_at":%q,"postings":[
		{"account":"treasury:TA-A:bank","direction":"debit","amount":5000,"currency":"VND"},
		{"account":"suspense","direction":"credit","amount":5000,"currency":"VND"}]}`, at)
	if r := e.Do(t, "POST", "/v1/ledger/entries", e.Admin, entry, "Idempotency-Key", "k1"); r.Status != http.StatusForbidden {
		t.Fatalf("admin manual entry: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/v1/statements", e.Admin, "anything"); r.Status != http.StatusForbidden {
		t.Fatalf("admin statement upload: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "GET", "/v1/ledger/entries", e.Admin, nil); r.Status != http.StatusOK {
		t.Fatalf("admin reading the ledger: %d %s", r.Status, r.Body)
	}

	if r := e.Do(t, "POST", "/v1/orders/"+o+"/refunds", e.AdminTreasury, refund); r.Status != http.StatusAccepted {
		t.Fatalf("admin+treasury refund: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/v1/ledger/entries", e.AdminTreasury, entry, "Idempotency-Key", "k1"); r.Status != http.StatusCreated {
		t.Fatalf("admin+treasury manual entry: %d %s", r.Status, r.Body)
	}

	// The extra role is given explicitly, to admin keys only.
	r := e.Do(t, "POST", "/v1/keys", e.Admin, `{"role":"admin","also":["treasury"],"name":"finance lead"}`)
	if r.Status != http.StatusCreated || !strings.Contains(string(r.Body), `"also":["treasury"]`) {
		t.Fatalf("create admin+treasury key: %d %s", r.Status, r.Body)
	}
	for _, body := range []string{`{"role":"portal","also":["treasury"]}`, `{"role":"admin","also":["agency"]}`} {
		if r := e.Do(t, "POST", "/v1/keys", e.Admin, body); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d %s", body, r.Status, r.Body)
		}
	}
}

// paidOrder creates an order of AG-A and pays it at the simulated VNPAY.
func paidOrder(t *testing.T, e *apptest.Env) string {
	t.Helper()
	r := e.Do(t, "POST", "/v1/orders", e.Portal, `{"lines":[{"service":"A-FEE","agency":"AG-A","amount":200000}],
		"payer":{"name":"Trần Thị Bình","email":"binh@example.vn"},"description":"Lệ phí"}`, "Idempotency-Key", "duties-1")
	if r.Status != http.StatusCreated {
		t.Fatalf("create order: %d %s", r.Status, r.Body)
	}
	var o struct {
		ID string `json:"id"`
	}
	r.JSON(t, &o)
	r = e.Do(t, "POST", "/v1/orders/"+o.ID+"/attempts", e.Portal, `{"method":"card","gateway":"vnpay"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("start attempt: %d %s", r.Status, r.Body)
	}
	var a struct {
		RedirectURL string `json:"redirect_url"`
	}
	r.JSON(t, &a)
	if _, err := e.Sim.Pay(gatewaysim.PayRequest{Gateway: "vnpay", PayURL: a.RedirectURL, Outcome: gatewaysim.PaySuccess}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got struct {
			Status string `json:"status"`
		}
		e.Do(t, "GET", "/v1/orders/"+o.ID, e.Treasury, nil).JSON(t, &got)
		if got.Status == "paid" {
			return o.ID
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s not paid: %s", o.ID, got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
