package main

import (
	"bytes"
	"context"
	"errors"
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
