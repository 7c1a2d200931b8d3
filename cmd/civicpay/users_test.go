package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// TestUsersCreatePrintsALinkAndAudits: `civicpay users create` prints a
// set-password link under the public URL, stores only the token's hash, and
// writes the creation to the audit log with the person at the terminal; a
// second user with the same email in another letter case is refused.
func TestUsersCreatePrintsALinkAndAudits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	if _, err := pool.Exec(ctx, `INSERT INTO agencies (code, name, treasury_account) VALUES ('STP-HCM', 'Justice', 'KBNN-1')`); err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{PublicURL: "https://pay.example.vn/"}
	var out bytes.Buffer
	if err := users(ctx, cfg, pool, []string{"create", "--email", "An.Nguyen@example.vn", "--role", "agency", "--agency", "stp-hcm", "--can-refund"}, &out); err != nil {
		t.Fatal(err)
	}
	link := strings.SplitN(out.String(), "\n", 2)[0]
	token, ok := strings.CutPrefix(link, "https://pay.example.vn/console/setup/")
	if !ok || len(token) < 40 {
		t.Fatalf("first line %q is not a set-password link under the public URL", link)
	}
	var stored int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM staff_password_tokens WHERE token_hash::text LIKE '%' || $1 || '%'`, token).Scan(&stored); err != nil || stored != 0 {
		t.Errorf("the raw token is stored (%d rows, %v)", stored, err)
	}
	var role, agency, actor, action string
	var canRefund bool
	if err := pool.QueryRow(ctx, `SELECT u.role, u.agency_code, u.can_refund, a.actor, a.action FROM staff_users u
		JOIN audit_log a ON a.resource_id = u.id::text WHERE u.email = 'An.Nguyen@example.vn'`).Scan(&role, &agency, &canRefund, &actor, &action); err != nil {
		t.Fatal(err)
	}
	if role != "agency" || agency != "STP-HCM" || !canRefund || actor != cliActor() || action != "staff.user.create" {
		t.Errorf("user %s/%s/%v audited %s by %s", role, agency, canRefund, action, actor)
	}
	err := users(ctx, cfg, pool, []string{"create", "--email", "an.nguyen@EXAMPLE.vn", "--role", "admin"}, &out)
	if !errors.Is(err, console.ErrEmailTaken) {
		t.Errorf("same email in another case: %v, want ErrEmailTaken", err)
	}
	for _, bad := range [][]string{
		{"create", "--email", "x@example.vn", "--role", "agency"},
		{"create", "--email", "y@example.vn", "--role", "admin", "--agency", "STP-HCM"},
		{"create", "--email", "not-an-email", "--role", "admin"},
		{"create", "--email", "z@example.vn", "--role", "portal"},
		{"create", "--email", "w@example.vn", "--role", "agency", "--agency", "NOPE"},
	} {
		if err := users(ctx, cfg, pool, bad, &out); err == nil {
			t.Errorf("users %v: no error", bad)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'staff.user.create'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d creations audited (%v), want 1: refused creations leave no row", n, err)
	}
}

// TestDemoPrintsStaffLogins: in development mode `civicpay demo` prints an
// email, password and TOTP secret per staff role, which sign in (the
// password verifies, the secret opens from its sealed column and its code is
// the one printed by users totp-code); run again, it resets them. In
// production it makes no staff user.
func TestDemoPrintsStaffLogins(t *testing.T) {
	t.Parallel()
	ctx := cliContext(context.Background(), "demo")
	pool := pgtest.New(t)
	var out bytes.Buffer
	if err := demo(ctx, config.Config{Env: config.EnvProduction}, pool, &out, quietLog()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM staff_users`).Scan(&n); err != nil || n != 0 || strings.Contains(out.String(), "STAFF_") {
		t.Fatalf("production demo made %d staff users (%v):\n%s", n, err, out.String())
	}
	dev := config.Config{Env: config.EnvDevelopment}
	for run := range 2 {
		out.Reset()
		if err := demo(ctx, dev, pool, &out, quietLog()); err != nil {
			t.Fatal(err)
		}
		vars := map[string]string{}
		for _, line := range strings.Split(out.String(), "\n") {
			if rest, ok := strings.CutPrefix(line, "export "); ok {
				for _, kv := range strings.Fields(rest) {
					k, v, _ := strings.Cut(kv, "=")
					vars[k] = v
				}
			}
		}
		for _, role := range []string{"ADMIN", "TREASURY", "AGENCY"} {
			email, pw, secret := vars["STAFF_"+role+"_EMAIL"], vars["STAFF_"+role+"_PASSWORD"], vars["STAFF_"+role+"_TOTP"]
			var hash string
			var confirmed bool
			if err := pool.QueryRow(ctx, `SELECT password_hash, totp_confirmed_at IS NOT NULL FROM staff_users WHERE email = $1`, email).Scan(&hash, &confirmed); err != nil {
				t.Fatalf("run %d, %s %q: %v\n%s", run+1, role, email, err, out.String())
			}
			if ok, err := console.VerifyPassword(pw, hash); !ok || err != nil || len(pw) < console.MinPasswordLen || !confirmed {
				t.Errorf("run %d, %s: printed password verifies %v (%v), TOTP confirmed %v", run+1, role, ok, err, confirmed)
			}
			var code bytes.Buffer
			if err := run0(t, []string{"users", "totp-code", secret}, &code); err != nil || len(strings.TrimSpace(code.String())) != 6 {
				t.Errorf("users totp-code %s: %q, %v", secret, code.String(), err)
			}
		}
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM staff_users`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d staff users after two runs, want 3", n)
	}
}

func run0(t *testing.T, args []string, out *bytes.Buffer) error {
	t.Helper()
	return run(context.Background(), args, out)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
