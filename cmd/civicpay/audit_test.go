package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// TestCLIChangesAreAudited: `civicpay keys create|revoke` and `civicpay
// reconcile` write audit rows naming the person at the terminal. On main the
// CLI wrote none. It sets DATABASE_URL, so it does not run in parallel.
func TestCLIChangesAreAudited(t *testing.T) {
	ctx := context.Background()
	pool, url := pgtest.NewWithURL(t)
	t.Setenv("DATABASE_URL", url)
	var out bytes.Buffer
	if err := keys(ctx, config.Config{}, pool, []string{"create", "--role", "treasury", "--name", "ops", "--expires", "720h"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "expires 20") {
		t.Errorf("create output %q does not say when the key expires", out.String())
	}
	secret := strings.TrimSpace(strings.SplitN(out.String(), "\n", 2)[0])
	if err := keys(ctx, config.Config{}, pool, []string{"revoke", secret[4:16]}, &out); err != nil {
		t.Fatal(err)
	}
	if err := reconcileCmd(ctx, pool, []string{"--date", "2026-11-23"}, &out); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT actor, actor_role, action, route, coalesce(after::text, '') FROM audit_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var actor, role, action, route, after string
		if err := rows.Scan(&actor, &role, &action, &route, &after); err != nil {
			t.Fatal(err)
		}
		if actor != cliActor() || role != "cli" || strings.Contains(after, secret[17:]) {
			t.Errorf("%s: actor %q role %q after %s, want %q, cli and no secret", action, actor, role, after, cliActor())
		}
		got = append(got, action+" by "+route)
	}
	want := []string{"key.create by civicpay keys create", "key.revoke by civicpay keys revoke",
		"reconciliation.run.request by civicpay reconcile"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("audit rows %q, want %q", got, want)
	}
}
