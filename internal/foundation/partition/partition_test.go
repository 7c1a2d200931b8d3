package partition_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/partition"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

func open(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return pgtest.New(t)
}

// A table of the test's own, registered like the migrations register theirs.
func testTable(t *testing.T, pool *pgxpool.Pool, name, keyType string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `CREATE TABLE `+name+` (id bigint GENERATED ALWAYS AS IDENTITY, at `+keyType+` NOT NULL,
			PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
		CREATE TABLE `+name+`_default PARTITION OF `+name+` DEFAULT;
		INSERT INTO partitioned_tables (parent, key_column) VALUES ('`+name+`', 'at')`); err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, pool *pgxpool.Pool, table string) []string {
	t.Helper()
	parts, err := partition.Months(context.Background(), pool, table)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range parts {
		out = append(out, p.Name)
	}
	return out
}

func created(made []partition.Made, table string) (n int) {
	for _, m := range made {
		if m.Table == table && m.State == "created" {
			n++
		}
	}
	return n
}

// Far enough ahead that no migration made these months.
var future = time.Date(2051, 7, 15, 12, 0, 0, 0, bizday.Zone)

func TestEnsureCreatesTheMonthsAheadOnceForEveryTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := open(t)
	testTable(t, pool, "t_events", "timestamptz")
	testTable(t, pool, "t_days", "date")
	tables, err := partition.Tables(ctx, pool)
	if err != nil || len(tables) < 3 {
		t.Fatalf("tables = %v, %v; want the migrations' and the test's", tables, err)
	}

	made, err := partition.Ensure(ctx, pool, future, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		if n := created(made, table); n != 3 {
			t.Errorf("%s: %d partitions created for July–September 2051, want 3 (made %v)", table, n, made)
		}
	}
	want := []string{"t_events_p205107", "t_events_p205108", "t_events_p205109"}
	if got := names(t, pool, "t_events"); len(got) != 3 || got[0] != want[0] || got[2] != want[2] {
		t.Fatalf("t_events partitions %v, want %v", got, want)
	}

	// Again: nothing to do.
	again, err := partition.Ensure(ctx, pool, future, 2)
	if err != nil || len(again) != 0 {
		t.Fatalf("second run made %v, %v; want nothing", again, err)
	}

	// Four at once, a month further: each partition made once, no error.
	var wg sync.WaitGroup
	results := make([][]partition.Made, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = partition.Ensure(ctx, pool, future.AddDate(0, 1, 0), 3)
		}()
	}
	wg.Wait()
	total := map[string]int{}
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("concurrent run %d: %v", i, errs[i])
		}
		for _, m := range results[i] {
			total[m.Partition]++
		}
	}
	for _, p := range []string{"t_events_p205110", "t_events_p205111", "t_days_p205110", "t_days_p205111"} {
		if total[p] != 1 {
			t.Errorf("%s reported created %d times by four concurrent runs, want once (%v)", p, total[p], total)
		}
	}
}

func TestRowsLandInTheirMonthAndDefaultCatchesTheRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := open(t)
	testTable(t, pool, "t_events", "timestamptz")
	testTable(t, pool, "t_days", "date")
	if _, err := partition.Ensure(ctx, pool, future, 1); err != nil {
		t.Fatal(err)
	}
	// Month bounds are midnight in Vietnam: 2051-07-31 17:00 UTC is August there.
	for _, tt := range []struct {
		table, at, want string
	}{
		{"t_events", "2051-07-01 00:00:00+07", "t_events_p205107"},
		{"t_events", "2051-07-31 16:59:59.999999+00", "t_events_p205107"},
		{"t_events", "2051-07-31 17:00:00+00", "t_events_p205108"},
		{"t_events", "2051-09-01 00:00:00+07", "t_events_default"},
		{"t_days", "2051-07-31", "t_days_p205107"},
		{"t_days", "2051-08-01", "t_days_p205108"},
		{"t_days", "2061-01-01", "t_days_default"},
	} {
		var got string
		if err := pool.QueryRow(ctx, `INSERT INTO `+tt.table+` (at) VALUES ($1) RETURNING tableoid::regclass::text`, tt.at).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s row at %s went to %s, want %s", tt.table, tt.at, got, tt.want)
		}
	}

	in, err := partition.InDefault(ctx, pool, 100)
	if err != nil {
		t.Fatal(err)
	}
	if in["t_events"] != 1 || in["t_days"] != 1 || len(in) != 2 {
		t.Fatalf("rows in DEFAULT = %v, want one each in t_events and t_days only", in)
	}

	// September's row sits in DEFAULT: its partition cannot be made, and the
	// job says so; October's can.
	made, err := partition.Ensure(ctx, pool, future.AddDate(0, 2, 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]string{}
	for _, m := range made {
		state[m.Partition] = m.State
	}
	if state["t_events_p205109"] != "blocked" || state["t_events_p205110"] != "created" || state["t_days_p205109"] != "created" {
		t.Fatalf("made %v: want September blocked for t_events only", made)
	}
}

func TestDropTakesOnlyAMonthPartitionOfTheTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := open(t)
	testTable(t, pool, "t_events", "timestamptz")
	testTable(t, pool, "t_other", "timestamptz")
	if _, err := partition.Ensure(ctx, pool, future, 1); err != nil {
		t.Fatal(err)
	}
	parts, err := partition.Months(ctx, pool, "t_events")
	if err != nil || len(parts) != 2 {
		t.Fatalf("months = %v, %v", parts, err)
	}
	if !parts[0].From.Equal(time.Date(2051, 7, 1, 0, 0, 0, 0, bizday.Zone)) || !parts[0].To.Equal(parts[1].From) {
		t.Fatalf("bounds %v", parts)
	}
	other, err := partition.Months(ctx, pool, "t_other")
	if err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return partition.Drop(ctx, tx, "t_events", other[0]) })
	if err == nil {
		t.Fatal("dropped another table's partition")
	}
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return partition.Drop(ctx, tx, "t_events", parts[0]) }); err != nil {
		t.Fatal(err)
	}
	if got := names(t, pool, "t_events"); len(got) != 1 || got[0] != "t_events_p205108" {
		t.Fatalf("after drop: %v", got)
	}
}
