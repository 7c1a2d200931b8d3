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

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/payments/catalogue"
)

var (
	setupLinkRE  = regexp.MustCompile(`id="setup-link" class="uri" value="http://127\.0\.0\.1(/console/setup/[A-Za-z0-9_-]+)"`)
	totpSecretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
)

// setupLink is the set-up link's path a page shows (failing the test if none).
func setupLink(t *testing.T, p page) string {
	t.Helper()
	m := setupLinkRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no set-up link in the page (%d):\n%s", p.status, p.body)
	}
	return m[1]
}

// takeLink uses the set-up link in a browser of its own: it sets the
// tests' password, enrols TOTP (confirmed with the current code) and
// returns the new secret, the browser signed in.
func (e *env) takeLink(link, email string) (*browser, string) {
	e.t.Helper()
	b := e.browser()
	p := b.submit(link, link, url.Values{"password": {"correct horse battery"}, "confirm": {"correct horse battery"}})
	if p.status != http.StatusSeeOther || p.location != "/console/enrol" {
		e.t.Fatalf("set password through %s: %d → %q\n%s", link, p.status, p.location, p.body)
	}
	m := totpSecretRE.FindStringSubmatch(b.get("/console/enrol").body)
	if m == nil {
		e.t.Fatal("the enrolment page shows no secret")
	}
	code, err := TOTPCode(m[1], e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	if p := b.submit("/console/enrol", "/console/enrol", url.Values{"code": {code}}); p.status != http.StatusOK ||
		!strings.Contains(p.body, `id="recovery-codes"`) {
		e.t.Fatalf("confirm enrolment: %d\n%s", p.status, p.body)
	}
	e.emails[m[1]] = email
	return b, m[1]
}

// csrf is the form token of b's session (from its dashboard).
func (b *browser) csrf() string {
	b.t.Helper()
	m := csrfRE.FindStringSubmatch(b.get("/console").body)
	if m == nil {
		b.t.Fatal("no CSRF token on the dashboard")
	}
	return m[1]
}

// auditBy counts the audit rows of action by actor.
// auditBy counts the audit rows of action by actor, on resource when one
// is named.
func (e *env) auditBy(action, actor string, resource ...string) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log
		WHERE action = $1 AND actor = $2 AND ($3 = '' OR resource_id = $3)`,
		action, actor, strings.Join(resource, "")).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) withCatalog() *catalogue.Store {
	e.t.Helper()
	cat := catalogue.NewStore(e.pool)
	e.h.SetDeps(Deps{Catalog: cat})
	return cat
}

// TestAdminInvite: an admin invites an agency user, with field errors
// (422) for a bad email, a missing agency and a taken email; the one-time
// link shown once sets a password and enrols TOTP, after which the user is
// signed in as what the admin chose; the list shows it enrolled, and the
// creation is in the audit log with the admin as actor.
func TestAdminInvite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.withCatalog()
	admin, secret := e.user("admin@example.vn", RoleAdmin, "")
	b := e.browser()
	b.signIn(e, secret)

	if p := b.get("/console"); !strings.Contains(p.body, `href="/console/admin" id="nav-admin"`) {
		t.Errorf("no admin link in the navigation")
	}
	idx := b.get("/console/admin")
	for _, link := range []string{`href="/console/admin/users"`, `href="/console/settings"`, `href="/console/admin/catalogue"`,
		`href="/console/admin/gateways"`, `href="/console/audit"`, `href="/console/jobs/"`} {
		if idx.status != http.StatusOK || !strings.Contains(idx.body, link) {
			t.Errorf("admin index (%d) has no %s", idx.status, link)
		}
	}
	if p := b.get("/console/admin/users"); p.status != http.StatusOK || !strings.Contains(p.body, `<option value="STP-HCM">STP-HCM · Justice</option>`) {
		t.Errorf("users page: %d, no agency choice", p.status)
	}

	for _, c := range []struct {
		name       string
		form       url.Values
		field, msg string
	}{
		{"bad email", url.Values{"email": {"not-an-email"}, "role": {"treasury"}}, "email", "Enter a valid email address."},
		{"agency user without agency", url.Values{"email": {"a@example.vn"}, "role": {"agency"}}, "agency", "Agency staff belong to an agency"},
		{"treasury with an agency", url.Values{"email": {"a@example.vn"}, "role": {"treasury"}, "agency": {"STP-HCM"}}, "agency", "Only agency staff"},
		{"unknown agency", url.Values{"email": {"a@example.vn"}, "role": {"agency"}, "agency": {"NOPE-1"}}, "agency", "There is no such agency."},
		{"no role", url.Values{"email": {"a@example.vn"}, "role": {"boss"}}, "role", "Choose a role."},
		{"taken email", url.Values{"email": {"ADMIN@example.vn"}, "role": {"treasury"}}, "email", "A staff user with this email exists."},
	} {
		p := b.submit("/console/admin/users", "/console/admin/users", c.form)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="`+c.field+`-error">`+c.msg) {
			t.Errorf("%s: %d, want 422 with the %s field's error %q\n%s", c.name, p.status, c.field, c.msg, p.body)
		}
	}
	if n := e.countAudit("staff.user.create"); n != 0 {
		t.Fatalf("refused invitations made %d users", n)
	}

	p := b.submit("/console/admin/users", "/console/admin/users",
		url.Values{"email": {"clerk@example.vn"}, "role": {"agency"}, "agency": {"stp-hcm"}, "can_refund": {"1"}})
	if p.status != http.StatusCreated {
		t.Fatalf("invite: %d\n%s", p.status, p.body)
	}
	link := setupLink(t, p)
	if e.auditBy("staff.user.create", "user:"+admin.ID.String()) != 1 {
		t.Error("the invitation is not audited with the admin as actor")
	}
	var stored int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM staff_password_tokens WHERE token_hash = $1`,
		tokenHash(strings.TrimPrefix(link, "/console/setup/"))).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("the link's hash: %d rows, %v", stored, err)
	}

	clerk, _ := e.takeLink(link, "clerk@example.vn")
	if p := clerk.get("/console"); p.status != http.StatusOK || !strings.Contains(p.body, "clerk@example.vn (agency STP-HCM)") {
		t.Errorf("the new user's dashboard: %d\n%s", p.status, p.body)
	}
	if p := clerk.get("/console/admin/users"); p.status != http.StatusForbidden {
		t.Errorf("the new agency user on the admin pages: %d, want 403", p.status)
	}
	if p := e.browser().get(link); p.status != http.StatusNotFound {
		t.Errorf("the link a second time: %d, want 404", p.status)
	}

	list := b.get("/console/admin/users")
	row := regexp.MustCompile(`(?s)<tr data-id="[^"]+"><th scope="row"><a [^>]+>clerk@example.vn</a></th>.*?</tr>`).FindString(list.body)
	for _, want := range []string{"agency STP-HCM", "<td>Yes</td>", "<td>Active</td>", "<td>Enrolled</td>", "2026-11-24 10:00"} {
		if !strings.Contains(row, want) {
			t.Errorf("the list's row of the new user has no %q: %s", want, row)
		}
	}
}

// TestAdminRoutesRefused: every route of the admin section, GET and POST,
// answers agency and treasury staff 403 and changes nothing; nobody signed
// in is sent to sign in. The routes are the app's own, so a new one is
// covered without touching this test.
func TestAdminRoutesRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	cat := e.withCatalog()
	target, _ := e.user("target@example.vn", RoleAgency, "STP-HCM")
	_, trSecret := e.user("treasury@example.vn", RoleTreasury, "")
	_, agSecret := e.user("agency@example.vn", RoleAgency, "STP-HCM")
	ctx := audit.System(context.Background(), "test")
	fee := decimal.NewFromInt(50000)
	if _, err := cat.UpsertService(ctx, catalogue.Service{Code: "LLTP-01", AgencyCode: "STP-HCM", Name: "Record", Kind: catalogue.KindFee,
		FixedAmount: &fee, Active: true}); err != nil {
		t.Fatal(err)
	}

	type route struct{ method, path string }
	var routes []route
	seen := map[route]bool{}
	for _, r := range e.app.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/console/admin") || (r.Method != http.MethodGet && r.Method != http.MethodPost) {
			continue
		}
		p := strings.NewReplacer(":id", target.ID.String(), ":code", "STP-HCM").Replace(r.Path)
		if strings.Contains(r.Path, "/services/") {
			p = strings.Replace(p, "STP-HCM", "LLTP-01", 1)
		}
		if rt := (route{r.Method, p}); !seen[rt] {
			seen[rt] = true
			routes = append(routes, rt)
		}
	}
	if len(routes) < 18 {
		t.Fatalf("only %d admin routes found: %v", len(routes), routes)
	}
	changes := func() int {
		var n int
		if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log
			WHERE action LIKE 'staff.user.%' OR action LIKE 'catalogue.%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := changes()
	form := url.Values{"email": {"x@example.vn"}, "role": {"admin"}, "code": {"NEW-1"}, "name": {"X"}, "treasury_account": {"T"},
		"agency_code": {"STP-HCM"}, "kind": {"fee"}, "currency": {"VND"}, "fixed_amount": {"1"}}

	anon := e.browser()
	for _, who := range []struct{ name, secret string }{{"treasury", trSecret}, {"agency", agSecret}} {
		b := e.browser()
		b.signIn(e, who.secret)
		token := b.csrf()
		for _, r := range routes {
			var p page
			if r.method == http.MethodPost {
				f := url.Values{"csrf": {token}}
				for k, v := range form {
					f[k] = v
				}
				p = b.do(http.MethodPost, r.path, f)
			} else {
				p = b.get(r.path)
			}
			if p.status != http.StatusForbidden || !strings.Contains(p.body, "Your role may not see this section.") {
				t.Errorf("%s %s %s: %d, want 403", who.name, r.method, r.path, p.status)
			}
			if r.method == http.MethodGet {
				if p := anon.get(r.path); p.status != http.StatusSeeOther || p.location != "/console/login" {
					t.Errorf("anonymous %s: %d → %q", r.path, p.status, p.location)
				}
			}
		}
		if p := b.get("/console"); strings.Contains(p.body, `id="nav-admin"`) {
			t.Errorf("%s sees the admin link", who.name)
		}
	}
	if after := changes(); after != before {
		t.Errorf("refused requests changed something: %d audit rows of changes, want %d", after, before)
	}
	var disabled bool
	var role string
	if err := e.pool.QueryRow(context.Background(), `SELECT disabled, role FROM staff_users WHERE id = $1`, target.ID).Scan(&disabled, &role); err != nil ||
		disabled || role != "agency" {
		t.Errorf("the target user: disabled %v role %s (%v)", disabled, role, err)
	}
}

// TestAdminDisable: disabling a user ends its sessions (its next request is
// sent to sign in) and its unused links, and it cannot sign in; enabling it
// lets it sign in again. Both audited with the admin as actor; a change of
// role applies at the user's next request.
func TestAdminDisable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	admin, adminSecret := e.user("admin@example.vn", RoleAdmin, "")
	clerk, clerkSecret := e.user("clerk@example.vn", RoleAgency, "STP-HCM")
	b := e.browser()
	b.signIn(e, adminSecret)
	cb := e.browser()
	cb.signIn(e, clerkSecret)
	page := "/console/admin/users/" + clerk.ID.String()

	// A link made earlier stops working when the user is disabled.
	link := setupLink(t, b.submit(page, page+"/link", url.Values{}))

	p := b.submit(page, page+"/disable", url.Values{})
	if p.status != http.StatusSeeOther || p.location != page+"?done=disabled" {
		t.Fatalf("disable: %d → %q\n%s", p.status, p.location, p.body)
	}
	if p := b.get(p.location); !strings.Contains(p.body, `id="user-state">Disabled<`) || !strings.Contains(p.body, `id="enable-form"`) {
		t.Errorf("the user's page after disabling:\n%s", p.body)
	}
	if p := cb.get("/console/payments"); p.status != http.StatusSeeOther || p.location != "/console/login?ended=1" {
		t.Errorf("the disabled user's next request: %d → %q, want the sign-in page", p.status, p.location)
	}
	var live int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM staff_sessions WHERE user_id = $1 AND revoked_at IS NULL`,
		clerk.ID).Scan(&live); err != nil || live != 0 {
		t.Errorf("the disabled user has %d sessions not revoked (%v)", live, err)
	}
	if p := e.browser().get(link); p.status != http.StatusNotFound {
		t.Errorf("an earlier link of the disabled user: %d, want 404", p.status)
	}
	e.clock.Advance(30 * time.Second)
	if p := cb.submit("/console/login", "/console/login", url.Values{"email": {"clerk@example.vn"}, "password": {"correct horse battery"}}); p.status != http.StatusUnauthorized {
		t.Errorf("the disabled user signs in: %d, want 401", p.status)
	}
	if p := b.submit(page, page+"/link", url.Values{}); p.status != http.StatusConflict || !strings.Contains(p.body, "enable it before making a link") {
		t.Errorf("a link for a disabled user: %d, want 409", p.status)
	}

	if p := b.submit(page, page+"/enable", url.Values{}); p.status != http.StatusSeeOther || p.location != page+"?done=enabled" {
		t.Fatalf("enable: %d → %q", p.status, p.location)
	}
	cb.signIn(e, clerkSecret)

	// A change of role and refund permission: seen at the next request.
	p = b.submit(page, page, url.Values{"role": {"treasury"}, "agency": {""}, "can_refund": {"1"}})
	if p.status != http.StatusSeeOther || p.location != page+"?done=updated" {
		t.Fatalf("update: %d → %q\n%s", p.status, p.location, p.body)
	}
	if p := cb.get("/console"); !strings.Contains(p.body, "clerk@example.vn (treasury)") {
		t.Errorf("the changed user's next page does not show the new role")
	}
	if p := b.submit(page, page, url.Values{"role": {"agency"}, "agency": {""}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, `id="agency-error">Agency staff belong to an agency`) {
		t.Errorf("agency role without agency: %d", p.status)
	}

	actor := "user:" + admin.ID.String()
	for _, a := range []string{"staff.user.disable", "staff.user.enable", "staff.user.update", "staff.user.link"} {
		if n := e.auditBy(a, actor); n != 1 {
			t.Errorf("%s by the admin: %d audit rows, want 1", a, n)
		}
	}
	var after string
	if err := e.pool.QueryRow(context.Background(), `SELECT after::text FROM audit_log WHERE action = 'staff.user.update'`).Scan(&after); err != nil ||
		!strings.Contains(after, `"role": "treasury"`) || !strings.Contains(after, `"can_refund": true`) {
		t.Errorf("update's audit row: %s (%v)", after, err)
	}
	if p := b.get("/console/admin/users/" + "not-a-uuid"); p.status != http.StatusNotFound {
		t.Errorf("a malformed id: %d", p.status)
	}
}

// TestAdminResetTOTP: resetting a user's second factor ends its sessions,
// deletes its secret and recovery codes and expires its earlier links; the
// password alone then says set-up is not finished; the new link sets a
// password and enrols a new secret, and the user signs in with it.
func TestAdminResetTOTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	admin, adminSecret := e.user("admin@example.vn", RoleAdmin, "")
	clerk, oldSecret := e.user("clerk@example.vn", RoleAgency, "STP-HCM")
	b := e.browser()
	b.signIn(e, adminSecret)
	cb := e.browser()
	cb.signIn(e, oldSecret)
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO staff_recovery_codes (user_id, code_hash) VALUES ($1, 'x')`, clerk.ID); err != nil {
		t.Fatal(err)
	}
	page := "/console/admin/users/" + clerk.ID.String()
	earlier := setupLink(t, b.submit(page, page+"/link", url.Values{}))

	p := b.submit(page, page+"/reset-2fa", url.Values{})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Two-step verification of clerk@example.vn is reset") {
		t.Fatalf("reset: %d\n%s", p.status, p.body)
	}
	link := setupLink(t, p)
	if p := cb.get("/console"); p.status != http.StatusSeeOther || p.location != "/console/login?ended=1" {
		t.Errorf("the reset user's next request: %d → %q", p.status, p.location)
	}
	var hasSecret, confirmed bool
	var codes int
	if err := e.pool.QueryRow(context.Background(), `SELECT totp_secret IS NOT NULL, totp_confirmed_at IS NOT NULL,
		(SELECT count(*) FROM staff_recovery_codes WHERE user_id = $1) FROM staff_users WHERE id = $1`, clerk.ID).
		Scan(&hasSecret, &confirmed, &codes); err != nil || hasSecret || confirmed || codes != 0 {
		t.Errorf("after reset: secret %v confirmed %v recovery codes %d (%v)", hasSecret, confirmed, codes, err)
	}
	if p := e.browser().get(earlier); p.status != http.StatusNotFound {
		t.Errorf("the link made before the reset: %d, want 404", p.status)
	}
	e.clock.Advance(30 * time.Second)
	if p := cb.submit("/console/login", "/console/login", url.Values{"email": {"clerk@example.vn"}, "password": {"correct horse battery"}}); p.status != http.StatusUnauthorized ||
		!strings.Contains(p.body, "set-up is not finished") {
		t.Errorf("sign-in with the password only: %d, want 401 set-up not finished", p.status)
	}
	if p := b.get("/console/admin/users"); !strings.Contains(p.body, "Not enrolled") {
		t.Error("the list does not show the user's 2FA gone")
	}

	_, newSecret := e.takeLink(link, "clerk@example.vn")
	if newSecret == oldSecret {
		t.Fatal("the new enrolment has the old secret")
	}
	e.clock.Advance(30 * time.Second)
	again := e.browser()
	again.signIn(e, newSecret)
	if p := again.get("/console"); p.status != http.StatusOK {
		t.Errorf("signed in with the new secret: %d", p.status)
	}
	if n := e.auditBy("staff.user.totp_reset", "user:"+admin.ID.String()); n != 1 {
		t.Errorf("reset audit rows by the admin: %d", n)
	}
	if n := e.countAudit("staff.totp.enrol"); n != 1 {
		t.Errorf("enrolment audit rows: %d", n)
	}
}

// TestAdminLastAdmin: the last admin who can sign in cannot disable itself
// or drop the admin role (409, nothing changed, nothing audited); an
// invited admin who has not finished set-up does not count; with a second
// enrolled admin it can.
func TestAdminLastAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	admin, secret := e.user("admin@example.vn", RoleAdmin, "")
	b := e.browser()
	b.signIn(e, secret)
	self := "/console/admin/users/" + admin.ID.String()
	if p := b.get(self); !strings.Contains(p.body, `id="self"`) {
		t.Error("the admin's own page does not say so")
	}
	ctx := audit.System(context.Background(), "test")
	if _, _, err := e.h.store.CreateUser(ctx, NewUser{Email: "invited@example.vn", Role: RoleAdmin}, time.Hour); err != nil {
		t.Fatal(err)
	}
	refused := func(what string, p page) {
		t.Helper()
		if p.status != http.StatusConflict || !strings.Contains(p.body, "The last admin who can sign in cannot be disabled") {
			t.Errorf("%s: %d, want 409 with the reason\n%s", what, p.status, p.body)
		}
	}
	refused("demote self", b.submit(self, self, url.Values{"role": {"treasury"}}))
	refused("disable self", b.submit(self, self+"/disable", url.Values{}))
	if _, err := e.h.store.SetDisabled(audit.System(context.Background(), "test"), admin.ID, true); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("store: disable the last admin: %v", err)
	}
	var role string
	var disabled bool
	if err := e.pool.QueryRow(context.Background(), `SELECT role, disabled FROM staff_users WHERE id = $1`, admin.ID).Scan(&role, &disabled); err != nil ||
		role != "admin" || disabled {
		t.Errorf("the last admin: role %s disabled %v (%v)", role, disabled, err)
	}
	if n := e.countAudit("staff.user.update") + e.countAudit("staff.user.disable"); n != 0 {
		t.Errorf("refused changes audited: %d", n)
	}

	other, _ := e.user("other@example.vn", RoleAdmin, "")
	if p := b.submit(self, self, url.Values{"role": {"treasury"}}); p.status != http.StatusSeeOther {
		t.Fatalf("demote self with another admin: %d\n%s", p.status, p.body)
	}
	if p := b.get("/console/admin"); p.status != http.StatusForbidden {
		t.Errorf("the demoted admin on the admin pages: %d, want 403", p.status)
	}
	// Now other is the last one.
	if _, err := e.h.store.UpdateUser(ctx, other.ID, UserChange{Role: RoleTreasury}); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("demote the new last admin: %v", err)
	}
}

// TestAdminCatalogue: the catalogue's pages list agencies and services and
// edit them through the catalogue; a bad fee is a 422 with the error next
// to its field and changes nothing; good edits are saved and audited with
// the admin as actor; a missing domain is a 503.
func TestAdminCatalogue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	cat := e.withCatalog()
	admin, secret := e.user("admin@example.vn", RoleAdmin, "")
	actor := "user:" + admin.ID.String()
	fee := decimal.NewFromInt(200000)
	if _, err := cat.UpsertService(audit.System(context.Background(), "test"), catalogue.Service{Code: "LLTP-01", AgencyCode: "STP-HCM",
		Name: "Criminal record", Kind: catalogue.KindFee, FixedAmount: &fee, Active: true, Sensitive: true}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn(e, secret)
	list := b.get("/console/admin/catalogue")
	if list.status != http.StatusOK || !strings.Contains(list.body, `<tr data-code="CSGT-HN"><th scope="row">CSGT-HN</th><td>Traffic police</td><td>KBNN-2</td>`) ||
		!strings.Contains(list.body, `id="fee-LLTP-01">200000 VND<`) {
		t.Fatalf("catalogue: %d\n%s", list.status, list.body)
	}

	svc := "/console/admin/catalogue/services/LLTP-01"
	good := url.Values{"agency_code": {"STP-HCM"}, "name": {"Criminal record"}, "kind": {"fee"}, "currency": {"VND"},
		"fixed_amount": {"250000"}, "active": {"1"}, "sensitive": {"1"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vals := range good {
			f[key] = vals
		}
		f.Set(k, v)
		return f
	}
	for _, c := range []struct {
		name  string
		form  url.Values
		field string
		msg   string
	}{
		{"fractional VND", with("fixed_amount", "1000.5"), "fixed_amount", "Give a positive fixed amount"},
		{"negative", with("fixed_amount", "-5"), "fixed_amount", "Give a positive fixed amount"},
		{"not a number", with("fixed_amount", "abc"), "fixed_amount", "That is not a number."},
		{"fixed and a range", with("min_amount", "1000"), "fixed_amount", "Give a positive fixed amount"},
		{"min above max", func() url.Values {
			f := with("fixed_amount", "")
			f.Set("min_amount", "5000")
			f.Set("max_amount", "1000")
			return f
		}(), "max_amount", "A positive amount with no more decimals than the currency has, not below the minimum."},
		{"no name", with("name", " "), "name", "Required, at most 200 characters."},
		{"unknown agency", with("agency_code", "NOPE-1"), "agency_code", "There is no such agency."},
	} {
		p := b.submit(svc, svc, c.form)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="`+c.field+`-error">`+c.msg) ||
			!strings.Contains(p.body, `id="`+c.field+`" name="`+c.field+`"`) {
			t.Errorf("%s: %d, want 422 with the %s field's error\n%s", c.name, p.status, c.field, p.body)
		}
	}
	all, err := cat.Services(context.Background(), "")
	if err != nil || len(all) != 1 || !all[0].FixedAmount.Equal(fee) || all[0].Name != "Criminal record" || all[0].AgencyCode != "STP-HCM" {
		t.Fatalf("refused edits changed the service: %+v (%v)", all, err)
	}
	if n := e.countAudit("catalogue.service.update"); n != 0 {
		t.Fatalf("refused edits audited: %d", n)
	}

	if p := b.submit(svc, svc, good); p.status != http.StatusSeeOther || p.location != "/console/admin/catalogue?saved=service" {
		t.Fatalf("good edit: %d → %q\n%s", p.status, p.location, p.body)
	}
	all, _ = cat.Services(context.Background(), "")
	if !all[0].FixedAmount.Equal(decimal.NewFromInt(250000)) || !all[0].Sensitive || !all[0].Active {
		t.Errorf("the edit is not saved: %+v", all[0])
	}
	if n := e.auditBy("catalogue.service.update", actor); n != 1 {
		t.Errorf("the edit's audit rows by the admin: %d", n)
	}

	// A new service with a range; its code taken is refused.
	ns := "/console/admin/catalogue/new-service"
	nf := url.Values{"code": {"csgt-01"}, "agency_code": {"CSGT-HN"}, "name": {"Traffic fine"}, "kind": {"fine"}, "currency": {"VND"},
		"min_amount": {"100000"}, "max_amount": {"2000000"}, "active": {"1"}}
	if p := b.submit(ns, ns, nf); p.status != http.StatusSeeOther {
		t.Fatalf("new service: %d\n%s", p.status, p.body)
	}
	if p := b.submit(ns, ns, nf); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="code-error">This code exists`) {
		t.Errorf("new service with a taken code: %d", p.status)
	}
	if n := e.auditBy("catalogue.service.create", actor); n != 1 {
		t.Errorf("creation audit rows: %d", n)
	}

	// Agencies: a bad field, an edit, a new one.
	ag := "/console/admin/catalogue/agencies/STP-HCM"
	if p := b.submit(ag, ag, url.Values{"name": {""}, "treasury_account": {"KBNN-9"}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, `id="name-error">Required`) {
		t.Errorf("agency without a name: %d", p.status)
	}
	if p := b.submit(ag, ag, url.Values{"name": {"Justice HCMC"}, "treasury_account": {"KBNN-9"}}); p.status != http.StatusSeeOther {
		t.Errorf("agency edit: %d", p.status)
	}
	a, err := cat.Agency(context.Background(), "STP-HCM")
	if err != nil || a.Name != "Justice HCMC" || a.TreasuryAccount != "KBNN-9" {
		t.Errorf("agency after edit: %+v (%v)", a, err)
	}
	na := "/console/admin/catalogue/new-agency"
	if p := b.submit(na, na, url.Values{"code": {"stp-hcm"}, "name": {"Again"}, "treasury_account": {"X"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("new agency with a taken code: %d", p.status)
	}
	if p := b.submit(na, na, url.Values{"code": {"BAD CODE"}, "name": {"X"}, "treasury_account": {"X"}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, `id="code-error">A code is`) {
		t.Errorf("new agency with a bad code: %d", p.status)
	}
	if p := b.submit(na, na, url.Values{"code": {"tct-01"}, "name": {"Tax"}, "treasury_account": {"KBNN-3"}}); p.status != http.StatusSeeOther {
		t.Errorf("new agency: %d", p.status)
	}
	if e.auditBy("catalogue.agency.update", actor) != 1 || e.auditBy("catalogue.agency.create", actor) != 1 {
		t.Error("agency changes not audited with the admin as actor")
	}
	for _, path := range []string{"/console/admin/catalogue/agencies/NOPE", "/console/admin/catalogue/services/NOPE"} {
		if p := b.get(path); p.status != http.StatusNotFound {
			t.Errorf("%s: %d", path, p.status)
		}
	}

	// Without the catalogue, or the gateways, their pages are a 503.
	if p := b.get("/console/admin/gateways"); p.status != http.StatusServiceUnavailable {
		t.Errorf("gateways without a router: %d", p.status)
	}
	e.h.SetDeps(Deps{})
	if p := b.get("/console/admin/catalogue"); p.status != http.StatusServiceUnavailable {
		t.Errorf("catalogue without its store: %d", p.status)
	}
}

// failing is a gateway whose calls fail technically.
type failing struct{}

func (failing) Name() string                             { return "momo" }
func (failing) Methods() []gateways.Method               { return []gateways.Method{gateways.MethodEwallet} }
func (failing) Reply(gateways.Ack) (int, string, []byte) { return http.StatusOK, "", nil }
func (failing) ParseCallback(gateways.CallbackRequest) (gateways.Result, error) {
	return gateways.Result{}, gateways.ErrUnsupported
}
func (failing) Create(context.Context, gateways.CreateRequest) (gateways.CreateResult, error) {
	return gateways.CreateResult{}, &gateways.TechnicalError{Op: "momo: create", Err: errors.New("down")}
}
func (failing) Query(context.Context, gateways.QueryRequest) (gateways.Result, error) {
	return gateways.Result{}, gateways.ErrUnsupported
}
func (failing) Refund(context.Context, gateways.RefundRequest) (gateways.RefundResult, error) {
	return gateways.RefundResult{}, gateways.ErrUnsupported
}

// TestAdminGateways: the page shows each gateway's breakers as the router
// reports them: closed with no calls, then open after failures, with the
// counts.
func TestAdminGateways(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r, err := gateways.NewRouter(gateways.RouterConfig{Breaker: gateways.BreakerSettings{ConsecutiveFailures: 2, Window: time.Minute,
		OpenTimeout: time.Hour, HalfOpenRequests: 1, ProbeInterval: time.Hour, ProbeTimeout: time.Second}}, failing{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	e.h.SetDeps(Deps{Gateways: r})
	_, secret := e.user("admin@example.vn", RoleAdmin, "")
	b := e.browser()
	b.signIn(e, secret)
	p := b.get("/console/admin/gateways")
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="create-momo"><strong>Closed (working)</strong>`) ||
		!strings.Contains(p.body, "<td>ewallet</td>") || !strings.Contains(p.body, "0 calls: 0 succeeded, 0 technical failures") {
		t.Fatalf("gateways: %d\n%s", p.status, p.body)
	}
	g, err := r.Get("momo")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := g.Create(context.Background(), gateways.CreateRequest{}); !gateways.IsTechnical(err) {
			t.Fatalf("create: %v", err)
		}
	}
	p = b.get("/console/admin/gateways")
	if !strings.Contains(p.body, `id="create-momo"><strong>Open (calls refused)</strong>`) ||
		!strings.Contains(p.body, `id="query-momo"><strong>Closed (working)</strong>`) {
		t.Errorf("after two failures:\n%s", p.body)
	}
}
