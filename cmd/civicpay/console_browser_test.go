package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
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
	browser := consoleChromium(t)
	shots := os.Getenv("CIVICPAY_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
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

	bctx := consoleBrowser(t, browser, 120*time.Second)
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	read := func(name string, a chromedp.Action[string]) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		v, err := chromedp.Run(sctx, a)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	code := func(secret string) string {
		c, err := totp.GenerateCodeCustom(secret, clk.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	step("open the set-password link", consoleNoScript(),
		chromedp.Navigate(link+"?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("#setup-form")),
		consoleShot(t, filepath.Join(shots, "console-1-setup.png")),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery staple"),
		chromedp.SendKeys(chromedp.CSS("#confirm"), "correct horse battery staple"),
		chromedp.Click(chromedp.CSS(`#setup-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#enrol-form")),
		consoleShot(t, filepath.Join(shots, "console-2-enrol.png")),
	)
	secret := strings.TrimSpace(read("the secret", chromedp.Text(chromedp.CSS("#totp-secret"))))
	if uri := read("the URI", chromedp.Text(chromedp.CSS("#totp-uri"))); !strings.Contains(uri, "secret="+secret) {
		t.Errorf("otpauth URI %q does not carry the secret %q", uri, secret)
	}
	step("enrol TOTP",
		chromedp.SendKeys(chromedp.CSS("#code"), code(secret)),
		chromedp.Click(chromedp.CSS(`#enrol-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#recovery-codes")),
		consoleShot(t, filepath.Join(shots, "console-3-recovery.png")),
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
		consoleShot(t, filepath.Join(shots, "console-4-dashboard.png")),
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
		consoleShot(t, filepath.Join(shots, "console-5-csrf-refused.png")),
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
		chromedp.WaitVisible(chromedp.CSS("#orders")),
		consoleShot(t, filepath.Join(shots, "console-6-payments.png")),
	)
	if rows := read("the list", chromedp.Text(chromedp.CSS("#orders tbody"))); !strings.Contains(rows, refs[1]) ||
		strings.Contains(rows, refs[0]) || !strings.Contains(rows, "Trần Thị Bình") {
		t.Errorf("searching %q lists %q, want only %s", typed, rows, refs[1])
	}
}

// consoleChromium finds Debian's chromium, installing it when missing (as
// the citizen pages' browser test does); it skips only where it cannot.
func consoleChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const why = "browser test skipped: Debian's chromium package is not installed"
	if os.Geteuid() != 0 {
		t.Skip(why + " and installing it needs root (run: apt-get install -y chromium)")
	}
	ictx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"install", "-y", "chromium"}, {"update"}, {"install", "-y", "chromium"}} {
		cmd := exec.CommandContext(ictx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if err := cmd.Run(); err == nil && args[0] == "install" {
			break
		}
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Skipf("%s and could not be installed: %v", why, err)
	}
	return p
}

// consoleBrowser starts headless Chromium with the citizen pages' test flags
// and a fresh profile, removed when the test ends.
func consoleBrowser(t *testing.T, path string, timeout time.Duration) context.Context {
	t.Helper()
	profile, err := os.MkdirTemp("", "civicpay-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(profile, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.UserDataDir(filepath.Join(profile, "profile")), chromedp.Env("TMPDIR=" + tmp),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1024, 900),
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
		deadline := time.Now().Add(5 * time.Second)
		for os.RemoveAll(profile) != nil && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond) // Chromium's helpers may still write there
		}
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	return bctx
}

// consoleNoScript switches JavaScript off in the tab.
func consoleNoScript() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	})
}

// consoleShot saves the whole page as a PNG.
func consoleShot(t *testing.T, path string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tgt)
		if err != nil {
			return fmt.Errorf("screenshot: %w", err)
		}
		t.Logf("screenshot: %s", path)
		return os.WriteFile(path, png, 0o644)
	})
}
