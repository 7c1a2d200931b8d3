package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/payments/catalogue"
	"github.com/civicpay/civicpay/webhooks"
)

// settingsEnv is the console with the domains the settings act through: a
// webhooks service on an insert-only River client (deliveries are queued,
// never sent), the key store and the catalogue.
type settingsEnv struct {
	*env
	keys *auth.Store
	pub  *webhooks.Publisher
}

func newSettingsEnv(t *testing.T) *settingsEnv {
	t.Helper()
	e := newEnv(t, nil)
	rc, err := river.NewClient(riverpgxv5.New(e.pool), &river.Config{Logger: e.h.log})
	if err != nil {
		t.Fatal(err)
	}
	cfg := webhooks.Config{AllowLoopback: true, MaxEndpointsPerKey: 10, Timeout: time.Second,
		RetrySchedule: []time.Duration{time.Minute}, SecretGrace: time.Hour, DisableAfter: time.Hour,
		SweepInterval: time.Hour, Logger: e.h.log}
	s := &settingsEnv{env: e, keys: auth.NewStore(e.pool), pub: webhooks.NewPublisher(rc, cfg)}
	e.h.SetDeps(Deps{Webhooks: webhooks.NewService(e.pool, rc, cfg), Keys: s.keys, Catalog: catalogue.NewStore(e.pool)})
	return s
}

var (
	endpointIDRE    = regexp.MustCompile(`/console/settings/webhooks/([0-9a-f-]{36})/rotate`)
	signingSecretRE = regexp.MustCompile(`id="secret">(whsec_[^<]+)<`)
	keySecretRE     = regexp.MustCompile(`id="key-secret">(cpk_[0-9a-f]{12}_[A-Za-z0-9_-]{32})<`)
)

func must1(t *testing.T, re *regexp.Regexp, body, what string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in the page:\n%s", what, body)
	}
	return m[1]
}

// An agency user adds an endpoint and sees its secret once; another agency's
// user can neither see nor change it (404); validation errors are shown by
// their fields; rotate, disable, the delivery log (paged), retry, resend and
// delete work for its agency, each audited with the person as the actor.
func TestSettingsWebhookEndpoints(t *testing.T) {
	t.Parallel()
	e := newSettingsEnv(t)
	ctx := context.Background()
	userA, secretA := e.user("a@stp.example.vn", RoleAgency, "STP-HCM")
	_, secretB := e.user("b@csgt.example.vn", RoleAgency, "CSGT-HN")
	admin, secretAdmin := e.user("admin@example.vn", RoleAdmin, "")
	a, b, ad := e.browser(), e.browser(), e.browser()
	a.signIn(e.env, secretA)
	e.clock.Advance(31 * time.Second) // a TOTP code is accepted once
	b.signIn(e.env, secretB)
	e.clock.Advance(31 * time.Second)
	ad.signIn(e.env, secretAdmin)
	actorA := "user:" + userA.ID.String()

	p := a.get("/console/settings")
	if p.status != http.StatusOK || !strings.Contains(p.body, "Settings of agency STP-HCM") || strings.Contains(p.body, `id="agency-choice"`) {
		t.Fatalf("settings of an agency user: %d\n%s", p.status, p.body)
	}
	// Refused by field, nothing created.
	for _, c := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"no URL", url.Values{"events": {"order.paid"}}, "url-error"},
		{"not https", url.Values{"url": {"ftp://example.vn/hook"}, "events": {"order.paid"}}, "url-error"},
		{"no event type", url.Values{"url": {"http://127.0.0.1:9/hook"}}, "events-error"},
		{"unknown event type", url.Values{"url": {"http://127.0.0.1:9/hook"}, "events": {"order.lost"}}, "events-error"},
	} {
		p := a.submit("/console/settings", "/console/settings/webhooks", c.form)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="`+c.field+`"`) {
			t.Errorf("%s: %d, want 422 with %s", c.name, p.status, c.field)
		}
	}
	var made int
	if err := e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhook_endpoints) + (SELECT count(*) FROM audit_log WHERE action LIKE 'webhook%')`).Scan(&made); err != nil || made != 0 {
		t.Fatalf("refused creations left %d endpoints and audit rows (%v)", made, err)
	}

	p = a.submit("/console/settings", "/console/settings/webhooks", url.Values{"url": {"http://127.0.0.1:9/hook"},
		"events": {"order.paid", "order.refunded"}, "description": {"back office"}, "agency": {"CSGT-HN"}})
	if p.status != http.StatusCreated {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	id := must1(t, endpointIDRE, p.body, "endpoint id")
	secret := must1(t, signingSecretRE, p.body, "signing secret")
	for _, path := range []string{"/console/settings", "/console/settings/webhooks/" + id} {
		p := a.get(path)
		if p.status != http.StatusOK || !strings.Contains(p.body, "http://127.0.0.1:9/hook") || strings.Contains(p.body, secret) || strings.Contains(p.body, "whsec_") {
			t.Errorf("GET %s: %d; want the endpoint, never its secret", path, p.status)
		}
	}
	if !strings.Contains(a.get("/console/settings").body, "The agency (made in the console)") {
		t.Error("the endpoint is not shown as the agency's")
	}
	if n := e.auditBy("webhook_endpoint.create", actorA, id); n != 1 {
		t.Fatalf("%d create audit rows by %s", n, actorA)
	}
	// It is STP-HCM's (the form's agency is not an agency user's to choose).
	var agency string
	if err := e.pool.QueryRow(ctx, `SELECT agency_code FROM webhook_endpoints WHERE id = $1`, id).Scan(&agency); err != nil || agency != "STP-HCM" {
		t.Fatalf("endpoint's agency %q, %v", agency, err)
	}

	// Another agency's user: not in its list, and 404 for everything.
	if p := b.get("/console/settings"); strings.Contains(p.body, "127.0.0.1:9/hook") {
		t.Error("CSGT-HN's user sees STP-HCM's endpoint in its list")
	}
	if p := b.get("/console/settings/webhooks/" + id); p.status != http.StatusNotFound {
		t.Errorf("CSGT-HN's user opens it: %d", p.status)
	}
	for _, action := range []string{"rotate", "delete", "enabled", "resend"} {
		p := b.submit("/console/settings", "/console/settings/webhooks/"+id+"/"+action, url.Values{"confirm": {"yes"}, "enabled": {"false"}})
		if p.status != http.StatusNotFound {
			t.Errorf("CSGT-HN's user posts %s: %d, want 404", action, p.status)
		}
	}

	// An event of the agency, one failed attempt and 50 older ones.
	var event string
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		var err error
		event, err = e.pub.Publish(ctx, tx, webhooks.Event{Type: webhooks.EventOrderPaid, AgencyCode: "STP-HCM",
			Subject: uuid.NewString(), Data: []byte(`{"status":"paid"}`)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var delivery uuid.UUID
	if err := e.pool.QueryRow(ctx, `SELECT id FROM webhook_deliveries WHERE event_id = $1 AND endpoint_id = $2`, event, id).Scan(&delivery); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, status_code, latency_ms, response_body, outcome)
		SELECT $1, $2, now() - make_interval(mins => 100 - n), 500, 12, 'boom ' || n, 'retrying' FROM generate_series(0, 50) n`, delivery, id); err != nil {
		t.Fatal(err)
	}
	p = a.get("/console/settings/webhooks/" + id)
	older := regexp.MustCompile(`href="([^"]+)" id="log-older"`).FindStringSubmatch(p.body)
	if !strings.Contains(p.body, event) || !strings.Contains(p.body, "boom 50") || strings.Contains(p.body, "boom 0<") || older == nil {
		t.Fatalf("the delivery log's first page: newest 50 and a link to older ones\n%s", p.body)
	}
	if p := a.get(strings.ReplaceAll(older[1], "&amp;", "&")); !strings.Contains(p.body, "boom 0<") || strings.Contains(p.body, "boom 1<") {
		t.Errorf("the log's second page: %d\n%s", p.status, p.body)
	}
	if p := b.submit("/console/settings", "/console/settings/webhooks/"+id+"/deliveries/"+delivery.String()+"/retry", url.Values{}); p.status != http.StatusNotFound {
		t.Errorf("CSGT-HN's user retries: %d", p.status)
	}
	p = a.submit("/console/settings/webhooks/"+id, "/console/settings/webhooks/"+id+"/deliveries/"+delivery.String()+"/retry", url.Values{})
	if p.status != http.StatusSeeOther || !strings.HasSuffix(p.location, "done=retried") {
		t.Fatalf("retry: %d → %q", p.status, p.location)
	}
	p = a.submit("/console/settings/webhooks/"+id, "/console/settings/webhooks/"+id+"/resend", url.Values{"event": {event}})
	if p.status != http.StatusSeeOther || !strings.HasSuffix(p.location, "done=resent") {
		t.Fatalf("resend: %d → %q", p.status, p.location)
	}
	p = a.submit("/console/settings/webhooks/"+id, "/console/settings/webhooks/"+id+"/resend", url.Values{"event": {"msg_00000000000000000000000000"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="event-error"`) {
		t.Errorf("resend of an unknown event: %d", p.status)
	}

	p = a.submit("/console/settings/webhooks/"+id, "/console/settings/webhooks/"+id+"/rotate", url.Values{})
	rotated := must1(t, signingSecretRE, p.body, "rotated secret")
	if p.status != http.StatusOK || rotated == secret {
		t.Fatalf("rotate: %d, same secret %v", p.status, rotated == secret)
	}
	p = a.submit("/console/settings/webhooks/"+id, "/console/settings/webhooks/"+id+"/enabled", url.Values{"enabled": {"false"}})
	if p.status != http.StatusSeeOther || !strings.Contains(a.get(p.location).body, `id="endpoint-state">Disabled<`) {
		t.Fatalf("disable: %d → %q", p.status, p.location)
	}
	// Deleting needs the box ticked.
	if p := a.submit("/console/settings/webhooks/"+id, "/console/settings/webhooks/"+id+"/delete", url.Values{}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="confirm-error"`) {
		t.Fatalf("delete unconfirmed: %d", p.status)
	}

	// The admin manages any agency's: it sees this one and adds one for CSGT-HN.
	if p := ad.get("/console/settings/webhooks/" + id); p.status != http.StatusOK {
		t.Errorf("the admin opens STP-HCM's endpoint: %d", p.status)
	}
	if p := ad.get("/console/settings?agency=NOPE"); p.status != http.StatusNotFound {
		t.Errorf("the admin names an unknown agency: %d", p.status)
	}
	p = ad.submit("/console/settings?agency=CSGT-HN", "/console/settings/webhooks", url.Values{"agency": {"CSGT-HN"},
		"url": {"http://127.0.0.1:9/csgt"}, "events": {"order.paid"}})
	if p.status != http.StatusCreated {
		t.Fatalf("the admin adds CSGT-HN's endpoint: %d\n%s", p.status, p.body)
	}
	csgt := must1(t, endpointIDRE, p.body, "endpoint id")
	if p := b.get("/console/settings"); !strings.Contains(p.body, "127.0.0.1:9/csgt") {
		t.Error("CSGT-HN's user does not see the endpoint the admin made for it")
	}
	if p := a.get("/console/settings/webhooks/" + csgt); p.status != http.StatusNotFound {
		t.Errorf("STP-HCM's user opens CSGT-HN's endpoint: %d", p.status)
	}

	p = a.submit("/console/settings/webhooks/"+id, "/console/settings/webhooks/"+id+"/delete", url.Values{"confirm": {"yes"}})
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "done=deleted") {
		t.Fatalf("delete: %d → %q", p.status, p.location)
	}
	if p := a.get("/console/settings/webhooks/" + id); p.status != http.StatusNotFound {
		t.Errorf("the deleted endpoint: %d", p.status)
	}
	for action, resource := range map[string]string{"webhook_endpoint.rotate_secret": id, "webhook_endpoint.update": id,
		"webhook_endpoint.delete": id, "webhook_delivery.retry": delivery.String(), "webhook_event.resend": event} {
		if n := e.auditBy(action, actorA, resource); n != 1 {
			t.Errorf("%d %s audit rows by %s, want 1", n, action, actorA)
		}
	}
	if n := e.auditBy("webhook_endpoint.create", "user:"+admin.ID.String(), csgt); n != 1 {
		t.Errorf("%d audit rows of the admin's creation", n)
	}
	// No audit row, before or after, carries a secret.
	var leaks int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE before::text LIKE '%whsec_%' OR after::text LIKE '%whsec_%'`).Scan(&leaks); err != nil || leaks != 0 {
		t.Errorf("%d audit rows carry a signing secret (%v)", leaks, err)
	}
}

// Only an admin creates and revokes an agency's keys; an agency user sees
// its own agency's keys (prefixes only) and no other's, and is refused the
// changes (403). A revoked key no longer authenticates. A POST without its
// form token is refused.
func TestSettingsAPIKeys(t *testing.T) {
	t.Parallel()
	e := newSettingsEnv(t)
	ctx := context.Background()
	admin, secretAdmin := e.user("admin@example.vn", RoleAdmin, "")
	_, secretA := e.user("a@stp.example.vn", RoleAgency, "STP-HCM")
	_, secretB := e.user("b@csgt.example.vn", RoleAgency, "CSGT-HN")
	ad, a, b := e.browser(), e.browser(), e.browser()
	ad.signIn(e.env, secretAdmin)
	e.clock.Advance(31 * time.Second)
	a.signIn(e.env, secretA)
	e.clock.Advance(31 * time.Second)
	b.signIn(e.env, secretB)
	actorAdmin := "user:" + admin.ID.String()

	// Without the form token: refused, nothing made.
	for _, path := range []string{"/console/settings/keys", "/console/settings/webhooks"} {
		p := ad.do(http.MethodPost, path, url.Values{"agency": {"STP-HCM"}, "name": {"x"}, "url": {"http://127.0.0.1:9/x"}, "events": {"order.paid"}})
		if p.status != http.StatusForbidden {
			t.Errorf("POST %s without CSRF: %d", path, p.status)
		}
	}
	if list, err := e.keys.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("keys after refused POSTs: %d, %v", len(list), err)
	}

	// The agency user may not create (nor choose another agency).
	if p := a.submit("/console/settings", "/console/settings/keys", url.Values{"name": {"mine"}}); p.status != http.StatusForbidden {
		t.Errorf("an agency user creates a key: %d", p.status)
	}

	p := ad.submit("/console/settings?agency=STP-HCM", "/console/settings/keys", url.Values{"agency": {"STP-HCM"},
		"name": {"justice portal"}, "expires": {"720h"}})
	if p.status != http.StatusCreated {
		t.Fatalf("the admin creates a key: %d\n%s", p.status, p.body)
	}
	full := must1(t, keySecretRE, p.body, "the new key")
	prefix := full[4:16]
	pr, err := e.keys.Authenticate(ctx, full)
	if err != nil || pr.Role != auth.RoleAgency || pr.AgencyCode != "STP-HCM" {
		t.Fatalf("the new key: %+v, %v", pr, err)
	}
	if _, err := e.keys.Touch(ctx, pr.KeyID); err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?s)<tr data-id="` + pr.KeyID.String() + `">.*?</tr>`)
	p = ad.get("/console/settings?agency=STP-HCM")
	r := row.FindString(p.body)
	if r == "" || !strings.Contains(r, prefix) || !strings.Contains(r, "admin@example.vn") || strings.Contains(r, "Never") ||
		!strings.Contains(r, "Active") || strings.Contains(p.body, full) {
		t.Fatalf("the admin's list row (prefix, creator, last use, state; never the secret):\n%s", r)
	}

	// The agency's user: its keys, read-only; the other agency's: none of them.
	p = a.get("/console/settings")
	if !strings.Contains(p.body, prefix) || strings.Contains(p.body, full[17:]) || strings.Contains(p.body, "/revoke") ||
		!strings.Contains(p.body, `id="keys-readonly"`) {
		t.Errorf("STP-HCM's user: its key's prefix, read-only, no secret\n%s", p.body)
	}
	if p := b.get("/console/settings"); strings.Contains(p.body, prefix) {
		t.Error("CSGT-HN's user sees STP-HCM's key")
	}
	if p := a.submit("/console/settings", "/console/settings/keys/"+pr.KeyID.String()+"/revoke", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("an agency user revokes: %d", p.status)
	}
	if _, err := e.keys.Authenticate(ctx, full); err != nil {
		t.Fatalf("the key after the agency user's refused revocation: %v", err)
	}

	p = ad.submit("/console/settings?agency=STP-HCM", "/console/settings/keys/"+pr.KeyID.String()+"/revoke", url.Values{})
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "agency=STP-HCM") {
		t.Fatalf("revoke: %d → %q", p.status, p.location)
	}
	if _, err := e.keys.Authenticate(ctx, full); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("the revoked key authenticates: %v", err)
	}
	if r := row.FindString(ad.get(p.location).body); !strings.Contains(r, "Revoked at") || strings.Contains(r, "/revoke") {
		t.Errorf("the revoked key's row:\n%s", r)
	}
	for _, action := range []string{"key.create", "key.revoke"} {
		if n := e.auditBy(action, actorAdmin, pr.KeyID.String()); n != 1 {
			t.Errorf("%d %s audit rows by %s, want 1", n, action, actorAdmin)
		}
	}
	var createdBy string
	if err := e.pool.QueryRow(ctx, `SELECT created_by FROM api_keys WHERE id = $1`, pr.KeyID).Scan(&createdBy); err != nil || createdBy != actorAdmin {
		t.Errorf("created_by %q, %v", createdBy, err)
	}
}
