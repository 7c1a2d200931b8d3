package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// fastArgon keeps the tests quick; the parameters' own cost is not what they test.
var fastArgon = Argon2Params{Memory: 1024, Time: 1, Threads: 1}

// t0 is a fixed instant: 10:00 GMT+7 on a Tuesday.
var t0 = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	pool  *pgxpool.Pool
	clock *clock.Fake
	h     *Handler
	app   *fiber.App
	// emails of the users made by user, by TOTP secret
	emails map[string]string
}

func newEnv(t *testing.T, tweak func(*Config)) *env {
	t.Helper()
	pool := pgtest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO agencies (code, name, treasury_account) VALUES
		('STP-HCM', 'Justice', 'KBNN-1'), ('CSGT-HN', 'Traffic police', 'KBNN-2')`); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, pool: pool, clock: clock.NewFake(t0), emails: map[string]string{}}
	e.h = e.handler(tweak)
	e.app = e.newApp(e.h)
	return e
}

// handler is another instance of the console on the same database (as a
// second `serve` process would be).
func (e *env) handler(tweak func(*Config)) *Handler {
	cfg := Config{PublicURL: "http://127.0.0.1", Clock: e.clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Policy: Policy{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, LockoutAfter: 5, Lockout: 15 * time.Minute, Argon2: fastArgon}}
	if tweak != nil {
		tweak(&cfg)
	}
	return New(e.pool, secretbox.Demo(), cfg)
}

func (e *env) newApp(h *Handler) *fiber.App {
	app := fiber.New(fiber.Config{ProxyHeader: "X-Test-IP"})
	h.Routes(app)
	return app
}

// user makes a staff user with a password and a confirmed TOTP secret, as
// the demo does, and returns its secret.
func (e *env) user(email string, role Role, agency string) (User, string) {
	e.t.Helper()
	ctx := audit.System(context.Background(), "test")
	u, secret, err := e.h.store.DemoUser(ctx, NewUser{Email: email, Role: role, AgencyCode: agency}, "correct horse battery")
	if err != nil {
		e.t.Fatal(err)
	}
	e.emails[secret] = email
	return u, secret
}

// browser is a cookie-keeping client of one app, driven without network.
type browser struct {
	t       *testing.T
	app     *fiber.App
	cookies map[string]string
	ip      string
}

func (e *env) browser() *browser {
	return &browser{t: e.t, app: e.app, cookies: map[string]string{}, ip: "192.0.2.10"}
}

type page struct {
	status   int
	location string
	body     string
}

func (b *browser) do(method, path string, form url.Values) page {
	b.t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	req.Header.Set("Accept-Language", "en")
	req.Header.Set("X-Test-IP", b.ip)
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := b.app.Test(req, -1)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body)}
}

func (b *browser) get(path string) page { return b.do(http.MethodGet, path, nil) }

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// submit gets the page at path, and posts form to action with the page's CSRF token.
func (b *browser) submit(path, action string, form url.Values) page {
	b.t.Helper()
	p := b.get(path)
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("GET %s (%d): no CSRF token in the page:\n%s", path, p.status, p.body)
	}
	form.Set("csrf", m[1])
	return b.do(http.MethodPost, action, form)
}

// signIn signs in with the password and the current TOTP code.
func (b *browser) signIn(e *env, secret string) {
	b.t.Helper()
	email := e.emails[secret]
	p := b.submit("/console/login", "/console/login", url.Values{"email": {email}, "password": {"correct horse battery"}})
	if p.status != http.StatusSeeOther || p.location != "/console/login/code" {
		b.t.Fatalf("password: %d → %q\n%s", p.status, p.location, p.body)
	}
	code, err := TOTPCode(secret, e.clock.Now())
	if err != nil {
		b.t.Fatal(err)
	}
	p = b.submit("/console/login/code", "/console/login/code", url.Values{"code": {code}})
	if p.status != http.StatusSeeOther || p.location != "/console" {
		b.t.Fatalf("code: %d → %q\n%s", p.status, p.location, p.body)
	}
}

// auditActions lists the audit log's actions on staff users and sessions, in order.
func (e *env) auditActions() []string {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT action FROM audit_log WHERE action LIKE 'staff.%' ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}
