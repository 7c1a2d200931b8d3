package migrations_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/migrations"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestGateNamesPendingMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := db.Open(ctx, pgtest.NewEmpty(t), db.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	err = migrations.RequireCurrent(ctx, pool)
	if !errors.Is(err, migrations.ErrPending) || !strings.Contains(err.Error(), "00001_foundation.sql") || !strings.Contains(err.Error(), "river 001") {
		t.Fatalf("RequireCurrent on an empty database = %v; want ErrPending naming river's and ours", err)
	}
	if err := migrations.Up(ctx, pool, quiet); err != nil {
		t.Fatal(err)
	}
	if err := migrations.RequireCurrent(ctx, pool); err != nil {
		t.Fatalf("after Up: %v", err)
	}
	// Drop our last version row: the gate must name exactly that file again.
	if _, err := pool.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`); err != nil {
		t.Fatal(err)
	}
	if err := migrations.RequireCurrent(ctx, pool); !errors.Is(err, migrations.ErrPending) {
		t.Fatalf("with a version row missing: %v", err)
	}
}

func TestConcurrentMigrateRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewEmpty(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := db.Open(ctx, url, db.Options{MaxConns: 4})
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			errs[i] = migrations.Up(ctx, pool, quiet)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("migrate run %d: %v", i, err)
		}
	}
	pool, err := db.Open(ctx, url, db.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var dupes int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT version_id FROM goose_db_version GROUP BY version_id HAVING count(*) > 1) d`).Scan(&dupes); err != nil {
		t.Fatal(err)
	}
	if dupes != 0 {
		t.Fatalf("%d migrations recorded more than once", dupes)
	}
	if err := migrations.RequireCurrent(ctx, pool); err != nil {
		t.Fatal(err)
	}
}
