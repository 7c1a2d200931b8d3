package db_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	dto "github.com/prometheus/client_model/go"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/metrics"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// retries reads civicpay_db_retries_total{op, reason}. Each test uses its
// own op, so tests running in parallel do not count into each other.
func retries(t *testing.T, op, reason string) float64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.DBRetries.WithLabelValues(op, reason).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// lostConnection returns the error pgx gives for a statement on a
// connection whose backend was terminated (as a restart, a failover or
// pg_terminate_backend does).
func lostConnection(t *testing.T, pool *pgxpool.Pool) error {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pool.Config().ConnConfig.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var pid int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	// The second argument waits until the backend has gone.
	if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend($1, 10000)`, pid); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `SELECT 1`)
	if err == nil {
		t.Fatal("a statement on a terminated backend succeeded")
	}
	return err
}

// cutConnection returns the error pgx gives for a statement running on a
// connection cut under it (the network, not the server, went away).
func cutConnection(t *testing.T, pool *pgxpool.Pool) error {
	t.Helper()
	ctx := context.Background()
	dbURL := pool.Config().ConnConfig.ConnString()
	proxy := pgtest.NewProxy(t, dbURL)
	conn, err := pgx.Connect(ctx, proxy.URL(dbURL))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const sleep = `SELECT pg_sleep(60) -- cut under me`
	done := make(chan error, 1)
	go func() { _, err := conn.Exec(ctx, sleep); done <- err }()
	for running := 0; running == 0; { // cut it once the server runs it
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND state = 'active'`,
			sleep).Scan(&running); err != nil {
			t.Fatal(err)
		}
	}
	proxy.Cut()
	if err = <-done; err == nil {
		t.Fatal("a statement on a cut connection succeeded")
	}
	return err
}

// notSent is an error pgconn would mark safe to retry (nothing was sent),
// but for ErrConnClosed.
type notSent struct{}

func (notSent) Error() string     { return "failed to write: nothing written" }
func (notSent) SafeToRetry() bool { return true }

func TestClassify(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	lost := lostConnection(t, pool)
	cut := cutConnection(t, pool)
	_, refused := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5")
	_, noDB := pgx.Connect(ctx, db.WithDatabase(pool.Config().ConnConfig.ConnString(), "civicpay_no_such_database"))
	_, unique := pool.Exec(ctx, `CREATE TEMP TABLE u (x int UNIQUE); INSERT INTO u VALUES (1), (1)`)
	timeoutCtx, cancel := context.WithTimeout(ctx, 1) // already past when used
	defer cancel()
	_, deadline := pool.Exec(timeoutCtx, `SELECT 1`)
	canceledCtx, cancel2 := context.WithCancel(ctx)
	cancel2()
	_, canceled := pool.Exec(canceledCtx, `SELECT 1`)

	tests := []struct {
		name   string
		err    error
		class  db.Class
		reason string
	}{
		{"serialization failure", &pgconn.PgError{Code: "40001"}, db.RolledBack, db.ReasonSerialization},
		{"deadlock, wrapped", fmt.Errorf("post: %w", &pgconn.PgError{Code: "40P01"}), db.RolledBack, db.ReasonDeadlock},
		{"too many connections", &pgconn.PgError{Code: "53300"}, db.RolledBack, db.ReasonTooManyConns},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, db.RolledBack, db.ReasonConnect},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, db.Lost, db.ReasonShutdown},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, db.Lost, db.ReasonShutdown},
		{"connection failure", &pgconn.PgError{Code: "08006"}, db.Lost, db.ReasonConnLost},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, db.Busy, db.ReasonCanceled},
		{"backend terminated (real)", lost, db.Lost, db.ReasonShutdown},
		{"connection refused (real)", refused, db.RolledBack, db.ReasonConnect},
		{"acquire past its deadline (real)", deadline, db.Busy, db.ReasonTimeout},
		{"bare deadline", context.DeadlineExceeded, db.Busy, db.ReasonTimeout},
		{"caller gone (real)", canceled, db.Permanent, ""},
		{"no such database (real)", noDB, db.Permanent, ""},
		{"unique violation (real)", unique, db.Permanent, ""},
		// pgx reports "conn closed" (and SafeToRetry) for this one: the
		// statement was running all the same.
		{"connection cut under a statement (real)", cut, db.Lost, db.ReasonConnLost},
		{"nothing sent", fmt.Errorf("insert: %w", notSent{}), db.RolledBack, db.ReasonNotSent},
		{"EOF, as pgx returns it", fmt.Errorf("auth: look up key: %w", io.ErrUnexpectedEOF), db.Lost, db.ReasonConnLost},
		{"a name that does not resolve", &net.DNSError{Err: "no such host", Name: "db.invalid", IsNotFound: true}, db.Permanent, ""},
		{"domain error", errors.New("order not found"), db.Permanent, ""},
		{"nil", nil, db.Permanent, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			class, reason := db.Classify(tt.err)
			if class != tt.class || reason != tt.reason {
				t.Fatalf("Classify(%v) = %v %q, want %v %q", tt.err, class, reason, tt.class, tt.reason)
			}
			if _, _, ok := db.Unavailable(tt.err); ok != (tt.class != db.Permanent) {
				t.Fatalf("Unavailable(%v) = %v", tt.err, ok)
			}
		})
	}
}

// A function that fails with a serialization failure the first time runs
// again, and the retry is counted; one that keeps failing runs MaxTries
// times and returns its error; a permanent error is not retried.
func TestRetryRunsAgainWhenPostgreSQLSaysSo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	serialization := fmt.Errorf("insert: %w", &pgconn.PgError{Code: "40001"})
	tests := []struct {
		name    string
		fails   int // the first fails runs return err
		err     error
		runs    int
		retried float64
		wantErr bool
	}{
		{"once", 1, serialization, 2, 1, false},
		{"always", 99, serialization, db.MaxTries, db.MaxTries - 1, true},
		{"permanent", 99, &pgconn.PgError{Code: "23505"}, 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := "test_retry_" + tt.name
			runs := 0
			err := db.Retry(ctx, op, func(context.Context) error {
				runs++
				if runs <= tt.fails {
					return tt.err
				}
				return nil
			})
			if (err != nil) != tt.wantErr || runs != tt.runs {
				t.Fatalf("Retry = %v after %d runs, want error %v after %d", err, runs, tt.wantErr, tt.runs)
			}
			if got := retries(t, op, db.ReasonSerialization); got != tt.retried {
				t.Fatalf("civicpay_db_retries_total{op=%q,reason=serialization_failure} = %v, want %v", op, got, tt.retried)
			}
		})
	}
}

// Two transactions that lock two rows in opposite orders deadlock for real;
// PostgreSQL aborts one, Tx runs it again, and both commit.
func TestTxRetriesARealDeadlock(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE acct (id int PRIMARY KEY, n int NOT NULL); INSERT INTO acct VALUES (1, 0), (2, 0)`); err != nil {
		t.Fatal(err)
	}
	const op = "test_deadlock"
	var holding sync.WaitGroup // each holds its first lock
	holding.Add(2)
	var runs atomic.Int32
	transfer := func(first, second int) error {
		try := 0
		return db.Tx(ctx, pool, op, func(tx pgx.Tx) error {
			runs.Add(1)
			try++
			if _, err := tx.Exec(ctx, `SET LOCAL deadlock_timeout = '10ms'`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE acct SET n = n + 1 WHERE id = $1`, first); err != nil {
				return err
			}
			if try == 1 { // only the first run meets the other at the crossing
				holding.Done()
				holding.Wait()
			}
			_, err := tx.Exec(ctx, `UPDATE acct SET n = n + 1 WHERE id = $1`, second)
			return err
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- transfer(1, 2) }()
	go func() { errs <- transfer(2, 1) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("a transfer failed: %v", err)
		}
	}
	var sum int
	if err := pool.QueryRow(ctx, `SELECT sum(n) FROM acct`).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != 4 || runs.Load() != 3 {
		t.Fatalf("sum %d after %d runs, want 4 after 3 (one deadlock victim run again)", sum, runs.Load())
	}
	if got := retries(t, op, db.ReasonDeadlock); got != 1 {
		t.Fatalf("civicpay_db_retries_total{op=%q,reason=deadlock} = %v, want 1", op, got)
	}
}

// Two SERIALIZABLE transactions that each read what the other writes
// (write skew): PostgreSQL refuses one with 40001, IdempotentTx runs it again.
func TestIdempotentTxRetriesASerializationFailure(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE oncall (name text PRIMARY KEY, on_duty bool NOT NULL);
		INSERT INTO oncall VALUES ('a', true), ('b', true)`); err != nil {
		t.Fatal(err)
	}
	const op = "test_serialization"
	var read sync.WaitGroup
	read.Add(2)
	var runs atomic.Int32
	offDuty := func(name string) error {
		try := 0
		return db.IdempotentTx(ctx, pool, op, func(tx pgx.Tx) error {
			runs.Add(1)
			try++
			if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`); err != nil {
				return err
			}
			var onDuty int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM oncall WHERE on_duty`).Scan(&onDuty); err != nil {
				return err
			}
			if try == 1 {
				read.Done()
				read.Wait() // both have read before either writes
			}
			if onDuty < 2 {
				return nil // someone must stay on duty
			}
			_, err := tx.Exec(ctx, `UPDATE oncall SET on_duty = false WHERE name = $1`, name)
			return err
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- offDuty("a") }()
	go func() { errs <- offDuty("b") }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("a transaction failed: %v", err)
		}
	}
	var onDuty int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM oncall WHERE on_duty`).Scan(&onDuty); err != nil {
		t.Fatal(err)
	}
	if onDuty != 1 || runs.Load() != 3 {
		t.Fatalf("%d on duty after %d runs, want 1 after 3", onDuty, runs.Load())
	}
	if got := retries(t, op, db.ReasonSerialization); got != 1 {
		t.Fatalf("civicpay_db_retries_total{op=%q,reason=serialization_failure} = %v, want 1", op, got)
	}
}

// lossyCommit begins real transactions whose COMMIT lands in the database
// but whose answer is lost: it commits, then returns the error of a lost
// connection — the one case where nobody knows whether it was done.
type lossyCommit struct {
	pool *pgxpool.Pool
	lost error
	once atomic.Bool
}

func (b *lossyCommit) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := b.pool.Begin(ctx)
	return &lossyTx{Tx: tx, b: b}, err
}

type lossyTx struct {
	pgx.Tx
	b *lossyCommit
}

func (tx *lossyTx) Commit(ctx context.Context) error {
	if err := tx.Tx.Commit(ctx); err != nil {
		return err
	}
	if tx.b.once.CompareAndSwap(false, true) {
		return tx.b.lost
	}
	return nil
}

// A connection lost during COMMIT leaves the outcome unknown: a transaction
// that is not idempotent (a plain INSERT) is not run again — it was in fact
// done, and a second run would write it twice — and its error says the
// outcome is unknown; an idempotent one runs again and finds it done. A
// connection lost before COMMIT rolled the transaction back: even the plain
// INSERT runs again, and is written once.
func TestLostConnectionIsRetriedOnlyWhereItIsSafe(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	lost := lostConnection(t, pool)
	if _, err := pool.Exec(ctx, `CREATE TABLE paid (id serial PRIMARY KEY, key text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	count := func(key string) int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM paid WHERE key = $1`, key).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	insert := func(key string) func(pgx.Tx) error {
		return func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO paid (key) VALUES ($1)`, key)
			return err
		}
	}
	insertOnce := func(key string) func(pgx.Tx) error { // idempotent: keyed
		return func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO paid (key) SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM paid WHERE key = $1)`, key)
			return err
		}
	}
	counting := func(runs *int, fn func(pgx.Tx) error) func(pgx.Tx) error {
		return func(tx pgx.Tx) error { *runs++; return fn(tx) }
	}

	t.Run("lost during COMMIT, not idempotent", func(t *testing.T) {
		const op, key = "test_lost_commit_tx", "a"
		runs := 0
		err := db.Tx(ctx, &lossyCommit{pool: pool, lost: lost}, op, counting(&runs, insert(key)))
		if err == nil || !db.OutcomeUnknown(err) {
			t.Fatalf("Tx = %v, want the lost connection's error (outcome unknown)", err)
		}
		if runs != 1 || count(key) != 1 || retries(t, op, db.ReasonShutdown) != 0 {
			t.Fatalf("%d runs, %d rows, %v retries: want 1 run, 1 row, no retry", runs, count(key), retries(t, op, db.ReasonShutdown))
		}
	})
	t.Run("lost during COMMIT, idempotent", func(t *testing.T) {
		const op, key = "test_lost_commit_idem", "b"
		runs := 0
		err := db.IdempotentTx(ctx, &lossyCommit{pool: pool, lost: lost}, op, counting(&runs, insertOnce(key)))
		if err != nil || runs != 2 || count(key) != 1 || retries(t, op, db.ReasonShutdown) != 1 {
			t.Fatalf("IdempotentTx = %v after %d runs, %d rows, %v retries: want nil after 2 runs, 1 row, 1 retry",
				err, runs, count(key), retries(t, op, db.ReasonShutdown))
		}
	})
	t.Run("lost before COMMIT, not idempotent", func(t *testing.T) {
		const op, key = "test_lost_before_commit", "c"
		runs := 0
		err := db.Tx(ctx, pool, op, func(tx pgx.Tx) error {
			runs++
			if err := insert(key)(tx); err != nil {
				return err
			}
			if runs == 1 {
				return fmt.Errorf("post: %w", lost) // the transaction dies with its connection
			}
			return nil
		})
		if err != nil || runs != 2 || count(key) != 1 || retries(t, op, db.ReasonShutdown) != 1 {
			t.Fatalf("Tx = %v after %d runs, %d rows, %v retries: want nil after 2 runs, 1 row, 1 retry",
				err, runs, count(key), retries(t, op, db.ReasonShutdown))
		}
	})
	t.Run("lost, outside a transaction, not idempotent", func(t *testing.T) {
		const op = "test_lost_statement"
		runs := 0
		err := db.RetryRolledBack(ctx, op, func(context.Context) error { runs++; return lost })
		if !errors.Is(err, lost) || runs != 1 {
			t.Fatalf("RetryRolledBack = %v after %d runs, want the error after 1", err, runs)
		}
	})
	t.Run("a cancelled caller is not retried", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		runs := 0
		err := db.Retry(cctx, "test_cancelled", func(context.Context) error {
			runs++
			cancel()
			return &pgconn.PgError{Code: "40001"}
		})
		if err == nil || runs != 1 || !strings.Contains(err.Error(), "40001") {
			t.Fatalf("Retry = %v after %d runs, want the 40001 after 1", err, runs)
		}
	})
}

// A connection is made within DefaultConnectTimeout unless the URL says
// otherwise.
func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]time.Duration{
		"postgres://u@db.example:5432/x":                   db.DefaultConnectTimeout,
		"postgres://u@db.example:5432/x?connect_timeout=2": 2 * time.Second,
	} {
		cfg, err := db.Config(url, db.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.ConnConfig.ConnectTimeout; got != want {
			t.Errorf("%s: connect timeout %s, want %s", url, got, want)
		}
	}
}
