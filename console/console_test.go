package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
	"github.com/civicpay/civicpay/ledger"
)

// TestSetUpAndSignIn: a user made with a set-password link sets a password,
// enrols TOTP (the secret is sealed at rest), receives ten recovery codes,
// signs out and in again with password and code, then with a recovery code
// (used up: the same one fails after), and every step is in the audit log.
func TestSetUpAndSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := audit.System(context.Background(), "test")
	u, token, err := e.h.store.CreateUser(ctx, NewUser{Email: "Admin@Example.vn", Role: RoleAdmin}, 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	if p := b.get("/console"); p.status != http.StatusSeeOther || p.location != "/console/login" {
		t.Fatalf("signed out, /console: %d → %q", p.status, p.location)
	}
	setup := "/console/setup/" + token
	if p := b.submit(setup, setup, url.Values{"password": {"short"}, "confirm": {"short"}}); p.status != http.StatusBadRequest ||
		!strings.Contains(p.body, "at least 12 characters") {
		t.Errorf("short password: %d", p.status)
	}
	if p := b.submit(setup, setup, url.Values{"password": {"a long enough one"}, "confirm": {"a long enough two"}}); p.status != http.StatusBadRequest {
		t.Errorf("mismatched passwords: %d", p.status)
	}
	p := b.submit(setup, setup, url.Values{"password": {"correct horse battery"}, "confirm": {"correct horse battery"}})
	if p.status != http.StatusSeeOther || p.location != "/console/enrol" {
		t.Fatalf("set password: %d → %q\n%s", p.status, p.location, p.body)
	}
	if p := b.get(setup); p.status != http.StatusNotFound {
		t.Errorf("the link again: %d, want 404 (used once)", p.status)
	}
	enrol := b.get("/console/enrol")
	m := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(enrol.body)
	if m == nil || !strings.Contains(enrol.body, "otpauth://totp/civicpay:Admin@Example.vn?") {
		t.Fatalf("enrol page shows no secret or URI:\n%s", enrol.body)
	}
	secret := m[1]
	if qr := b.get("/console/enrol/qr.png"); qr.status != http.StatusOK || !strings.HasPrefix(qr.body, "\x89PNG") {
		t.Errorf("QR: %d", qr.status)
	}
	var sealed []byte
	if err := e.pool.QueryRow(context.Background(), `SELECT totp_secret FROM staff_users WHERE id = $1`, u.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), secret) || len(sealed) < 40 {
		t.Error("the TOTP secret is stored in clear")
	}
	if p := b.get("/console"); p.status != http.StatusSeeOther {
		t.Errorf("before the TOTP is confirmed, /console: %d, want a redirect", p.status)
	}
	if p := b.submit("/console/enrol", "/console/enrol", url.Values{"code": {"000000"}}); p.status != http.StatusUnauthorized {
		t.Errorf("wrong enrolment code: %d", p.status)
	}
	code, _ := TOTPCode(secret, e.clock.Now())
	p = b.submit("/console/enrol", "/console/enrol", url.Values{"code": {code}})
	codes := regexp.MustCompile(`<li class="code">([A-Z2-7-]+)</li>`).FindAllStringSubmatch(p.body, -1)
	if p.status != http.StatusOK || len(codes) != 10 {
		t.Fatalf("confirm: %d, %d recovery codes\n%s", p.status, len(codes), p.body)
	}
	if d := b.get("/console"); d.status != http.StatusOK || !strings.Contains(d.body, `id="nav-admin"`) {
		t.Fatalf("dashboard after enrolment: %d", d.status)
	}
	b.submit("/console", "/console/logout", url.Values{})
	if p := b.get("/console"); p.status != http.StatusSeeOther {
		t.Fatalf("after sign-out, /console: %d", p.status)
	}

	// The same code again (within its step) is refused: never accepted twice.
	p = b.submit("/console/login", "/console/login", url.Values{"email": {"admin@example.VN"}, "password": {"correct horse battery"}})
	if p.location != "/console/login/code" {
		t.Fatalf("password: %d %q", p.status, p.location)
	}
	if p := b.submit("/console/login/code", "/console/login/code", url.Values{"code": {code}}); p.status != http.StatusUnauthorized {
		t.Errorf("a replayed TOTP code: %d, want 401", p.status)
	}
	if p := b.get("/console"); p.status != http.StatusSeeOther {
		t.Fatalf("between password and code, /console: %d", p.status)
	}
	e.clock.Advance(30 * time.Second)
	b.signInCode(e, secret)
	b.submit("/console", "/console/logout", url.Values{})

	// A recovery code works once.
	rc := strings.ToLower(codes[3][1])
	for i, want := range []int{http.StatusSeeOther, http.StatusUnauthorized} {
		b.submit("/console/login", "/console/login", url.Values{"email": {"admin@example.vn"}, "password": {"correct horse battery"}})
		if p := b.submit("/console/login/code", "/console/login/code", url.Values{"code": {rc}}); p.status != want {
			t.Errorf("recovery code, use %d: %d, want %d", i+1, p.status, want)
		}
		if i == 0 {
			b.submit("/console", "/console/logout", url.Values{})
		}
	}
	want := []string{"staff.user.create", "staff.password.set", "staff.totp.enrol_failure", "staff.totp.enrol", "staff.logout",
		"staff.login.password", "staff.login.totp_failure", "staff.login", "staff.logout",
		"staff.login.password", "staff.login", "staff.logout", "staff.login.password", "staff.login.totp_failure"}
	if got := e.auditActions(); !slices.Equal(got, want) {
		t.Errorf("audit log:\n got %q\nwant %q", got, want)
	}
	// No secret, code or password in the audit log.
	var leaked int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE after::text ~ $1 OR after::text LIKE '%horse%'`,
		secret+"|"+code+"|"+codes[3][1]).Scan(&leaked); err != nil || leaked != 0 {
		t.Errorf("%d audit rows hold a secret (%v)", leaked, err)
	}
}

// signInCode completes a sign-in whose password step is done or not.
func (b *browser) signInCode(e *env, secret string) {
	b.t.Helper()
	code, _ := TOTPCode(secret, e.clock.Now())
	p := b.submit("/console/login/code", "/console/login/code", url.Values{"code": {code}})
	if p.status != http.StatusSeeOther || p.location != "/console" {
		b.t.Fatalf("code: %d → %q\n%s", p.status, p.location, p.body)
	}
}

// TestSessionTimeouts: a session unused for longer than the idle timeout,
// or older than the absolute one however used, sends the next request to
// the sign-in page; the clock is a Fake moved forward, nothing waits.
func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, secret := e.user("treasury@example.vn", RoleTreasury, "")

	b := e.browser()
	b.signIn(e, secret)
	e.clock.Advance(29 * time.Minute)
	if p := b.get("/console"); p.status != http.StatusOK {
		t.Fatalf("29 minutes idle: %d, want 200", p.status)
	}
	e.clock.Advance(30*time.Minute + time.Second)
	p := b.get("/console")
	if p.status != http.StatusSeeOther || p.location != "/console/login?ended=1" {
		t.Fatalf("30 minutes idle: %d → %q, want the sign-in page", p.status, p.location)
	}
	if l := b.get(p.location); !strings.Contains(l.body, "Your session has ended") {
		t.Error("the sign-in page does not say the session ended")
	}

	e.clock.Advance(time.Second)
	b.signIn(e, secret)
	for i := 0; i < 24; i++ { // used every 29 minutes: 11 h 36 min
		e.clock.Advance(29 * time.Minute)
		if p := b.get("/console"); p.status != http.StatusOK {
			t.Fatalf("after %d × 29 min in use: %d", i+1, p.status)
		}
	}
	e.clock.Advance(25 * time.Minute) // 12 h 01 min after sign-in
	if p := b.get("/console"); p.status != http.StatusSeeOther {
		t.Fatalf("past the absolute timeout: %d, want a redirect", p.status)
	}
}

// TestCSRFRefusal: a POST without the form token, with a wrong one, or with
// the token of another session is a 403 and changes nothing.
func TestCSRFRefusal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, secret := e.user("admin@example.vn", RoleAdmin, "")
	b := e.browser()
	b.get("/console/login") // the pre-session cookie
	creds := url.Values{"email": {"admin@example.vn"}, "password": {"correct horse battery"}}
	if p := b.do(http.MethodPost, "/console/login", creds); p.status != http.StatusForbidden {
		t.Errorf("login without a token: %d, want 403", p.status)
	}
	creds.Set("csrf", "forged")
	if p := b.do(http.MethodPost, "/console/login", creds); p.status != http.StatusForbidden {
		t.Errorf("login with a wrong token: %d, want 403", p.status)
	}
	b.signIn(e, secret)
	e.clock.Advance(31 * time.Second) // a TOTP code is accepted once
	other := e.browser()
	other.signIn(e, secret)
	token := csrfRE.FindStringSubmatch(other.get("/console").body)[1]
	if p := b.do(http.MethodPost, "/console/logout", url.Values{"csrf": {token}}); p.status != http.StatusForbidden {
		t.Errorf("logout with another session's token: %d, want 403", p.status)
	}
	if p := b.do(http.MethodPost, "/console/logout", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("logout without a token: %d, want 403", p.status)
	}
	if p := b.get("/console"); p.status != http.StatusOK {
		t.Errorf("the refused logouts ended the session: %d", p.status)
	}
	if got := e.auditActions(); slices.Contains(got, "staff.logout") || slices.Contains(got, "staff.login.failure") {
		t.Errorf("refused forms reached the store: %q", got)
	}
}

// TestSignInThrottling: wrong passwords lock the account after
// LockoutAfter failures in a row, counted in the database, so failures seen
// by two instances add up; the right password is refused while locked and
// accepted after the lock. The per-IP limit answers 429 past its count.
func TestSignInThrottling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, secret := e.user("agent@example.vn", RoleAgency, "STP-HCM")
	second := e.newApp(e.handler(nil)) // another instance, same database
	a, b := e.browser(), e.browser()
	b.app = second
	wrong := url.Values{"email": {"agent@example.vn"}, "password": {"not the password"}}
	for i := range 5 {
		br := a
		if i%2 == 1 {
			br = b
		}
		if p := br.submit("/console/login", "/console/login", wrong); p.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, p.status)
		}
	}
	p := a.submit("/console/login", "/console/login", url.Values{"email": {"agent@example.vn"}, "password": {"correct horse battery"}})
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Too many failed sign-ins") {
		t.Fatalf("right password while locked: %d\n%s", p.status, p.body)
	}
	e.clock.Advance(15*time.Minute + time.Second)
	a.signIn(e, secret)

	var failed int
	if err := e.pool.QueryRow(context.Background(), `SELECT failed_logins FROM staff_users WHERE email = 'agent@example.vn'`).Scan(&failed); err != nil || failed != 0 {
		t.Errorf("failed_logins after a sign-in: %d (%v)", failed, err)
	}
	var failures, locked int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE after->>'reason' LIKE '%locked%')
		FROM audit_log WHERE action = 'staff.login.failure'`).Scan(&failures, &locked); err != nil || failures != 6 || locked != 2 {
		t.Errorf("audited %d failures, %d saying locked (%v); want 6 and 2", failures, locked, err)
	}

	// Per client IP, in the process: past the limit, a 429 page.
	lim := newEnv(t, func(c *Config) { c.LoginPerIP = 3 })
	c := lim.browser()
	for i := range 3 {
		if p := c.submit("/console/login", "/console/login", url.Values{"email": {"x" + string(rune('a'+i)) + "@example.vn"}, "password": {"whatever it is"}}); p.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, p.status)
		}
	}
	if p := c.submit("/console/login", "/console/login", url.Values{"email": {"y@example.vn"}, "password": {"whatever it is"}}); p.status != http.StatusTooManyRequests ||
		!strings.Contains(p.body, "Too many attempts") {
		t.Errorf("past the per-IP limit: %d", p.status)
	}
	c.ip = "192.0.2.99"
	if p := c.submit("/console/login", "/console/login", url.Values{"email": {"y@example.vn"}, "password": {"whatever it is"}}); p.status != http.StatusUnauthorized {
		t.Errorf("another IP: %d, want 401", p.status)
	}
}

// TestSessionsPage: a user lists their own sessions and ends another one,
// which is signed out at once; another user's session cannot be ended.
func TestSessionsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, secret := e.user("admin@example.vn", RoleAdmin, "")
	_, otherSecret := e.user("other@example.vn", RoleTreasury, "")
	phone, laptop, stranger := e.browser(), e.browser(), e.browser()
	phone.signIn(e, secret)
	e.clock.Advance(31 * time.Second)
	laptop.signIn(e, secret)
	e.clock.Advance(31 * time.Second)
	stranger.signIn(e, otherSecret)
	p := laptop.get("/console/sessions")
	ids := regexp.MustCompile(`/console/sessions/([0-9a-f-]{36})/revoke`).FindAllStringSubmatch(p.body, -1)
	if p.status != http.StatusOK || len(ids) != 1 || strings.Count(p.body, "This session") != 1 {
		t.Fatalf("sessions page: %d, %d revocable\n%s", p.status, len(ids), p.body)
	}
	strangerToken := csrfRE.FindStringSubmatch(stranger.get("/console").body)[1]
	if p := stranger.do(http.MethodPost, "/console/sessions/"+ids[0][1]+"/revoke", url.Values{"csrf": {strangerToken}}); p.status != http.StatusNotFound {
		t.Errorf("another user's session: %d, want 404", p.status)
	}
	if p := laptop.submit("/console/sessions", "/console/sessions/"+ids[0][1]+"/revoke", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.status)
	}
	if p := phone.get("/console"); p.status != http.StatusSeeOther {
		t.Errorf("the revoked session still works: %d", p.status)
	}
	if p := laptop.get("/console"); p.status != http.StatusOK {
		t.Errorf("the current session was ended: %d", p.status)
	}
	if got := e.auditActions(); !slices.Contains(got, "staff.session.revoke") {
		t.Errorf("no staff.session.revoke in %q", got)
	}
}

// TestNavigationByRole: each role sees its entries, and a section it may
// not see is a 403.
func TestNavigationByRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, tc := range []struct {
		role   Role
		agency string
		see    []string
		denied string
	}{
		{RoleAgency, "STP-HCM", []string{"dashboard", "payments", "revenue", "settings"}, "reconciliation"},
		{RoleTreasury, "", []string{"dashboard", "payments", "revenue", "reconciliation", "audit"}, "admin"},
		{RoleAdmin, "", []string{"dashboard", "payments", "revenue", "reconciliation", "settings", "admin", "audit", "jobs"}, ""},
	} {
		_, secret := e.user(string(tc.role)+"@example.vn", tc.role, tc.agency)
		b := e.browser()
		b.signIn(e, secret)
		body := b.get("/console").body
		got := regexp.MustCompile(`id="nav-([a-z]+)"`).FindAllStringSubmatch(body, -1)
		var names []string
		for _, g := range got {
			if g[1] != "sessions" {
				names = append(names, g[1])
			}
		}
		if !slices.Equal(names, tc.see) {
			t.Errorf("%s sees %q, want %q", tc.role, names, tc.see)
		}
		if tc.denied != "" {
			if p := b.get("/console/" + tc.denied); p.status != http.StatusForbidden {
				t.Errorf("%s on %s: %d, want 403", tc.role, tc.denied, p.status)
			}
		}
		e.clock.Advance(31 * time.Second)
	}
}

// TestDashboardAgencyScoping: the dashboard's figures are ledger.Revenue's,
// as GET /v1/revenue gives them; an agency user sees only its agency's, by
// business day in GMT+7 (a payment at 23:30 GMT+7 yesterday is yesterday's
// although it is today in UTC... and the other way round).
func TestDashboardAgencyScoping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	pay := func(key, agency, service string, amount int64, at time.Time) {
		t.Helper()
		_, err := ledger.PostPayment(ctx, e.pool, ledger.Payment{Key: key, OrderID: uuid.New(), AttemptID: uuid.New(),
			Gateway: "vnpay", Channel: "card", Currency: "VND", EffectiveAt: at, Now: at,
			Shares: []ledger.Share{{AgencyCode: agency, ServiceCode: service, Amount: decimal.NewFromInt(amount)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	today := time.Date(2026, 11, 24, 0, 0, 0, 0, time.FixedZone("ICT", 7*3600))
	pay("p1", "STP-HCM", "STP-LLTP", 200_000, today.Add(9*time.Hour))
	pay("p2", "CSGT-HN", "CSGT-TOCDO", 800_000, today.Add(9*time.Hour))
	pay("p3", "STP-HCM", "STP-LLTP", 50_000, today.Add(-30*time.Minute)) // 23:30 yesterday
	pay("p4", "STP-HCM", "STP-LLTP", 7_000, today.AddDate(0, 0, -10))

	_, agencySecret := e.user("agent@example.vn", RoleAgency, "STP-HCM")
	_, treasurySecret := e.user("treasury@example.vn", RoleTreasury, "")
	rows := func(b *browser) map[string]string {
		body := b.get("/console").body
		out := map[string]string{}
		for _, m := range regexp.MustCompile(`(?s)<tr id="rev-([0-9a-z]+)">.*?</tr>`).FindAllStringSubmatch(body, -1) {
			amts := regexp.MustCompile(`<span class="amt" data-currency="VND">([^<]+)</span>`).FindAllStringSubmatch(m[0], -1)
			var parts []string
			for _, a := range amts {
				parts = append(parts, strings.ReplaceAll(a[1], "\u00a0", " "))
			}
			out[m[1]] = strings.Join(parts, " | ")
		}
		return out
	}
	ag := e.browser()
	ag.signIn(e, agencySecret)
	want := map[string]string{"today": "200,000 VND | 0 VND | 200,000 VND", "yesterday": "50,000 VND | 0 VND | 50,000 VND",
		"7": "250,000 VND | 0 VND | 250,000 VND", "30": "257,000 VND | 0 VND | 257,000 VND"}
	if got := rows(ag); !mapsEqual(got, want) {
		t.Errorf("agency dashboard: %v, want %v", got, want)
	}
	e.clock.Advance(31 * time.Second)
	tr := e.browser()
	tr.signIn(e, treasurySecret)
	want["today"], want["7"], want["30"] = "1,000,000 VND | 0 VND | 1,000,000 VND", "1,050,000 VND | 0 VND | 1,050,000 VND", "1,057,000 VND | 0 VND | 1,057,000 VND"
	if got := rows(tr); !mapsEqual(got, want) {
		t.Errorf("treasury dashboard: %v, want %v", got, want)
	}
	// The same function as the API's: its totals for the agency's 30 days.
	var totals ledger.RevenueTotals
	if err := ledger.Revenue(ctx, e.pool, ledger.RevenueQuery{From: today.AddDate(0, 0, -29), To: today.AddDate(0, 0, 1), Agency: "STP-HCM"},
		func(r ledger.RevenueRow) error { totals.Add(r); return nil }); err != nil {
		t.Fatal(err)
	}
	if r := totals.Rows(); len(r) != 1 || !r[0].Net.Equal(decimal.NewFromInt(257_000)) {
		t.Errorf("ledger.Revenue for the agency: %+v", r)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestVietnameseByDefault: with no language asked for, the console speaks
// Vietnamese; ?lang=en switches and is remembered.
func TestVietnameseByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := httptest.NewRequest(http.MethodGet, "/console/login", nil)
	res, err := e.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `<html lang="vi">`) || !strings.Contains(string(body), "Đăng nhập bảng điều khiển") ||
		!strings.Contains(string(body), `<label for="email">`) || !strings.Contains(string(body), `<label for="password">`) {
		t.Errorf("default sign-in page is not Vietnamese with labelled fields:\n%s", body)
	}
	b := e.browser()
	if p := b.get("/console/login?lang=en"); !strings.Contains(p.body, "Sign in to the console") {
		t.Error("?lang=en is not English")
	}
	if b.cookies[langCookie] != "en" {
		t.Error("the choice is not remembered")
	}
}

// TestResumeCommitsAsynchronouslyForItselfOnly: the session's extension is
// committed with synchronous_commit off (store.go), set for its own
// transaction: the connection's next statement commits synchronously again,
// and the extension is there.
func TestResumeCommitsAsynchronouslyForItselfOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	_, secret := e.user("treasury@example.vn", RoleTreasury, "")
	b := e.browser()
	b.signIn(e, secret)
	cfg := e.pool.Config()
	cfg.MaxConns = 1 // Resume's connection is the one asked below
	one, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	h := New(one, secretbox.Demo(), Config{PublicURL: "http://127.0.0.1", Clock: e.clock,
		Policy: Policy{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, Argon2: fastArgon}})
	e.clock.Advance(10 * time.Minute)
	sess, _, err := h.store.Resume(ctx, b.cookies[sessionCookie])
	if err != nil {
		t.Fatal(err)
	}
	var setting string
	var idle time.Time
	if err := one.QueryRow(ctx, `SELECT current_setting('synchronous_commit'), idle_expires_at FROM staff_sessions WHERE id = $1`,
		sess.ID).Scan(&setting, &idle); err != nil {
		t.Fatal(err)
	}
	if setting != "on" {
		t.Errorf("synchronous_commit after Resume = %q; want on (Resume's setting must end with its transaction)", setting)
	}
	if want := e.clock.Now().Add(30 * time.Minute); !idle.Equal(want) || !sess.IdleExpiresAt.Equal(want) {
		t.Errorf("idle expiry = %s (stored %s); want %s", sess.IdleExpiresAt, idle, want)
	}
}
