package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/migrations"
)

// Every file's Down undoes its Up: all the way down and up again leaves the
// same schema, and the functions the files define exist again.
func TestEveryMigrationGoesDownAndUpAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := db.Open(ctx, pgtest.NewEmpty(t), db.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool, quiet); err != nil {
		t.Fatal(err)
	}
	schema := func() string {
		var s string
		err := pool.QueryRow(ctx, `SELECT string_agg(x, E'\n' ORDER BY x) FROM (
			SELECT 'table ' || table_name || '.' || column_name || ' ' || data_type AS x
			  FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE 'river%' AND table_name <> 'goose_db_version'
			UNION ALL SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename NOT LIKE 'river%'
			UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname NOT LIKE 'river%') s`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := schema()
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS(), goose.WithAllowOutofOrder(true))
	if err != nil {
		t.Fatal(err)
	}
	down, err := p.DownTo(ctx, 0)
	if err != nil {
		t.Fatalf("down: %v", err)
	}
	if len(down) != len(p.ListSources()) {
		t.Fatalf("went down %d migrations; want all %d", len(down), len(p.ListSources()))
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if after := schema(); after != before {
		t.Fatalf("schema after down and up differs:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
