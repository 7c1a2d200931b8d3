package audit_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

func TestRecord(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := audit.WithActor(context.Background(), audit.Actor{ID: "key:abc", Role: "admin", IP: "192.0.2.1", Route: "POST /v1/keys"})

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Record(ctx, tx, audit.Event{Action: "key.create", ResourceType: "api_key", ResourceID: "k1",
		After: map[string]string{"role": "portal"}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// A change rolled back takes its audit row with it.
	tx, _ = pool.Begin(ctx)
	if err := audit.Record(ctx, tx, audit.Event{Action: "key.revoke", ResourceType: "api_key", ResourceID: "k1"}); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(ctx)

	var n int
	var actor, ip, after string
	if err := pool.QueryRow(ctx, `SELECT count(*), min(actor), min(source_ip), min(after::text) FROM audit_log`).Scan(&n, &actor, &ip, &after); err != nil {
		t.Fatal(err)
	}
	if n != 1 || actor != "key:abc" || ip != "192.0.2.1" || after != `{"role": "portal"}` {
		t.Fatalf("audit_log = %d rows, actor %q ip %q after %s", n, actor, ip, after)
	}
}

func TestRecordNeedsActor(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	err := audit.Record(context.Background(), pool, audit.Event{Action: "key.create", ResourceType: "api_key", ResourceID: "k1"})
	if !errors.Is(err, audit.ErrNoActor) {
		t.Fatalf("Record without actor = %v, want ErrNoActor", err)
	}
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := audit.WithActor(context.Background(), audit.Actor{ID: "cli:root", Role: "cli"})
	if err := audit.Record(ctx, pool, audit.Event{Action: "key.create", ResourceType: "api_key", ResourceID: "k1"}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_log SET actor = 'someone else'`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
	} {
		t.Run(strings.Fields(stmt)[0], func(t *testing.T) {
			_, err := pool.Exec(ctx, stmt)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Fatalf("%s: err = %v, want refused as append-only", stmt, err)
			}
		})
	}
}
