package pgtest_test

import (
	"context"
	"testing"

	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

func TestNewGivesIsolatedMigratedDatabases(t *testing.T) {
	t.Parallel()
	a, b := pgtest.New(t), pgtest.New(t)
	ctx := context.Background()
	if _, err := a.Exec(ctx, `INSERT INTO agencies (code, name, treasury_account) VALUES ('ISO-A', 'A', '1')`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.QueryRow(ctx, `SELECT count(*) FROM agencies`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database b sees %d agencies written to a", n)
	}
	if err := a.QueryRow(ctx, `SELECT count(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatalf("river tables missing from template: %v", err)
	}
}
