package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
	"github.com/civicpay/civicpay/internal/testkit/browser"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/payments/reference"
)

// TestBrowserConsoleSetUpAndSignIn drives headless Chromium, JavaScript off,
// through a new admin's first day: the user made by `civicpay users create`
// (the CLI's own code), the printed link opened, a password set, TOTP
// enrolled (the code computed here from the secret the page shows), the
// recovery codes, sign-out, sign-in with password and TOTP, the dashboard;
// then a form posted from another page without the CSRF token is refused,
// and the session survives it. The console runs on a running Fake clock,
// moved on 30 s before the sign-in so that its code is a new one (a code is
// accepted once), without waiting. Screenshots go to $CIVICPAY_SCREENSHOTS
// (default: the test's temporary directory).
func TestBrowserConsoleSetUpAndSignIn(t *testing.T) {
	t.Parallel()
	b := browser.New(t, 120*time.Second)
	shots := browser.ShotsDir(t)
	ctx := context.Background()
	pool := pgtest.New(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	clk := clock.NewRunning(time.Now())
	h := console.New(pool, secretbox.Demo(), console.Config{PublicURL: base, Clock: clk,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), LoginPerIP: 20, LoginPerAccount: 10})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	h.Routes(app)
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })

	// Another site's page (another port: same site for cookies, another
	// origin) with a form that posts to the console's sign-out, no token.
	evilLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	evil := fiber.New(fiber.Config{DisableStartupMessage: true})
	evil.Get("/", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.SendString(`<!doctype html><html lang="en"><title>Prize</title><form method="post" action="` + base +
			`/console/logout"><button id="evil" type="submit">Claim your prize</button></form></html>`)
	})
	go func() { _ = evil.Listener(evilLn) }()
	t.Cleanup(func() { _ = evil.ShutdownWithTimeout(5 * time.Second) })

	// The admin, made by the CLI's code, with the link it prints.
	var out bytes.Buffer
	cfg := config.Config{PublicURL: base}
	if err := users(ctx, cfg, pool, []string{"create", "--email", "admin@example.vn", "--role", "admin"}, &out); err != nil {
		t.Fatal(err)
	}
	link := strings.SplitN(out.String(), "\n", 2)[0]
	if !strings.HasPrefix(link, base+"/console/setup/") {
		t.Fatalf("users create printed %q", out.String())
	}

	step, read := b.Step, b.Read
	code := func(secret string) string {
		c, err := totp.GenerateCodeCustom(secret, clk.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	step("open the set-password link", browser.NoScript(),
		chromedp.Navigate(link+"?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("#setup-form")),
		browser.Shot(t, filepath.Join(shots, "console-1-setup.png")),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery staple"),
		chromedp.SendKeys(chromedp.CSS("#confirm"), "correct horse battery staple"),
		chromedp.Click(chromedp.CSS(`#setup-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#enrol-form")),
		browser.Shot(t, filepath.Join(shots, "console-2-enrol.png")),
	)
	secret := strings.TrimSpace(read("the secret", chromedp.Text(chromedp.CSS("#totp-secret"))))
	if uri := read("the URI", chromedp.Text(chromedp.CSS("#totp-uri"))); !strings.Contains(uri, "secret="+secret) {
		t.Errorf("otpauth URI %q does not carry the secret %q", uri, secret)
	}
	step("enrol TOTP",
		chromedp.SendKeys(chromedp.CSS("#code"), code(secret)),
		chromedp.Click(chromedp.CSS(`#enrol-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#recovery-codes")),
		browser.Shot(t, filepath.Join(shots, "console-3-recovery.png")),
	)
	if codes := read("recovery codes", chromedp.Text(chromedp.CSS("#recovery-codes"))); len(strings.Fields(codes)) != 10 {
		t.Errorf("recovery codes: %q, want 10", codes)
	}
	step("to the console, then sign out",
		chromedp.Click(chromedp.CSS("#to-console")),
		chromedp.WaitVisible(chromedp.CSS("#revenue")),
		chromedp.Click(chromedp.CSS(`#logout-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
	)

	clk.Advance(30 * time.Second) // the next code, without waiting for it
	step("sign in with password and TOTP",
		chromedp.SendKeys(chromedp.CSS("#email"), "Admin@Example.vn"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery staple\r"),
		chromedp.WaitVisible(chromedp.CSS("#code-form")),
		chromedp.SendKeys(chromedp.CSS("#code"), code(secret)+"\r"),
		chromedp.WaitVisible(chromedp.CSS("#revenue")),
		browser.Shot(t, filepath.Join(shots, "console-4-dashboard.png")),
	)
	if who := read("who", chromedp.Text(chromedp.CSS("#who"))); !strings.Contains(who, "admin@example.vn") || !strings.Contains(who, "admin") {
		t.Errorf("header says %q", who)
	}
	if nav := read("navigation", chromedp.Text(chromedp.CSS(".main-nav"))); !strings.Contains(nav, "Admin") || !strings.Contains(nav, "Reconciliation") {
		t.Errorf("admin navigation: %q", nav)
	}

	step("a form on another page posts to the console without the token",
		chromedp.Navigate("http://"+evilLn.Addr().String()+"/"),
		chromedp.Click(chromedp.CSS("#evil")),
		chromedp.WaitVisible(chromedp.CSS("#error-body")),
		browser.Shot(t, filepath.Join(shots, "console-5-csrf-refused.png")),
	)
	if title := read("refusal", chromedp.Text(chromedp.CSS("h1"))); title != "Not allowed" {
		t.Errorf("the token-less post shows %q, want Not allowed", title)
	}
	step("still signed in", chromedp.Navigate(base+"/console"), chromedp.WaitVisible(chromedp.CSS("#revenue")))

	// Two orders; the one sought is found by its reference typed as a
	// person reads it from a receipt: in groups, in lower case.
	if _, err := pool.Exec(ctx, `INSERT INTO agencies (code, name, treasury_account) VALUES ('STP-HCM', 'Justice', 'KBNN-1')`); err != nil {
		t.Fatal(err)
	}
	var refs []string
	for i, payer := range []string{"Nguyễn Văn An", "Trần Thị Bình"} {
		ref, err := reference.New()
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
		id := uuid.New()
		created := clk.Now().Add(-time.Duration(i) * time.Hour)
		if _, err := pool.Exec(ctx, `INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total,
			payer_name, description, expires_at, created_at, updated_at, idempotency_key, request_hash)
			VALUES ($1, $2, 'STP-HCM', $3, 'open', 'VND', 200000, $4, 'test', $5, $5, $5, $6, '\x00')`,
			id, ref, uuid.New(), payer, created, id.String()); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO order_lines (order_id, line_no, service_code, agency_code, kind, amount)
			VALUES ($1, 1, 'LLTP', 'STP-HCM', 'fee', 200000)`, id); err != nil {
			t.Fatal(err)
		}
	}
	typed := strings.ToLower(reference.Format(refs[1]))
	step("find an order by a reference typed with spaces",
		chromedp.Click(chromedp.CSS(`.main-nav a[href="/console/payments"]`)),
		chromedp.WaitVisible(chromedp.CSS("#payments-filter")),
		chromedp.SendKeys(chromedp.CSS("#reference"), typed+"\r"),
		// The answer's form carries the query in its value attribute; the
		// page typed on has it only as the input's live value.
		chromedp.WaitVisible(chromedp.CSS(`#reference[value="`+typed+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#orders")),
		browser.Shot(t, filepath.Join(shots, "console-6-payments.png")),
	)
	if rows := read("the list", chromedp.Text(chromedp.CSS("#orders tbody"))); !strings.Contains(rows, refs[1]) ||
		strings.Contains(rows, refs[0]) || !strings.Contains(rows, "Trần Thị Bình") {
		t.Errorf("searching %q lists %q, want only %s", typed, rows, refs[1])
	}
}
