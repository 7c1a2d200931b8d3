package db_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

func TestInBatches(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE todo (id int PRIMARY KEY, done bool NOT NULL DEFAULT false);
		INSERT INTO todo (id) SELECT generate_series(1, 7)`); err != nil {
		t.Fatal(err)
	}
	// step marks up to 3 rows done; its fourth call fails once the table is
	// half done, so the batches before it stay committed.
	step := func(failAt int) func(pgx.Tx) (int, error) {
		calls := 0
		return func(tx pgx.Tx) (int, error) {
			calls++
			tag, err := tx.Exec(ctx, `UPDATE todo SET done = true WHERE id IN
				(SELECT id FROM todo WHERE NOT done ORDER BY id LIMIT 3)`)
			if err != nil {
				return 0, err
			}
			if calls == failAt {
				return 0, errors.New("boom")
			}
			return int(tag.RowsAffected()), nil
		}
	}

	var seen []int
	done, err := db.InBatches(ctx, pool, step(2), func(d int) { seen = append(seen, d) })
	if err == nil || done != 3 || !slices.Equal(seen, []int{3}) {
		t.Fatalf("failing run: done %d, progress %v, err %v; want 3, [3], an error", done, seen, err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM todo WHERE NOT done`).Scan(&left); err != nil || left != 4 {
		t.Fatalf("after the failed batch %d rows left (%v), want 4: the failed batch must roll back", left, err)
	}

	seen = nil
	done, err = db.InBatches(ctx, pool, step(0), func(d int) { seen = append(seen, d) })
	if err != nil || done != 4 || !slices.Equal(seen, []int{3, 4}) {
		t.Fatalf("resumed run: done %d, progress %v, err %v; want 4, [3 4], nil", done, seen, err)
	}
}
