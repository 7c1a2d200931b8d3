package payments

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/groupcommit/gctest"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/ledger"
)

// recorderProcessEnv makes the test binary a process that records one batch
// of successful fakepay results ("<database url>|<ref>,<ref>,…") and exits.
const recorderProcessEnv = "PAYMENTS_TEST_RECORDER_PROCESS"

func TestMain(m *testing.M) {
	if spec := os.Getenv(recorderProcessEnv); spec != "" {
		os.Exit(runRecorderProcess(spec))
	}
	os.Exit(gctest.Main(m)) // every test closes the writers it starts
}

func runRecorderProcess(spec string) int {
	dbURL, refs, _ := strings.Cut(spec, "|")
	pool, err := db.Open(context.Background(), dbURL, db.Options{MaxConns: 4})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f, err := newRecorderFlow(pool)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer closeFlow(f)
	var jobs []recordJob
	for _, ref := range strings.Split(refs, ",") {
		jobs = append(jobs, job(result(ref, "TXN-"+ref, gateways.StatusSucceeded, 200000)))
	}
	f.rec.queue.WriteBatch(jobs)
	return 0
}

func newRecorderFlow(pool *pgxpool.Pool) (*Paying, error) {
	router, err := gateways.NewRouter(gateways.RouterConfig{Breaker: testBreaker(100)}, refundGateway{})
	if err != nil {
		return nil, err
	}
	f := NewPaying(NewOrders(pool, nil, testOrdersConfig(), nil, slog.New(slog.DiscardHandler)), router, testPayingConfig(12))
	f.SetJobs(noJobs{})
	return f, nil
}

// closeFlow stops the writers of f and of its order service.
func closeFlow(f *Paying) {
	f.Close()
	f.orders.Close()
}

// TestRecorderKilledMidBatch: a process is killed while its batch of three
// payments has written the attempts, orders and events and waits to post the
// ledger entries. Nothing of the batch remains; the same results recorded
// again (the gateways retry unanswered callbacks) pay each order once.
func TestRecorderKilledMidBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, dbURL := pgtest.NewWithURL(t)
	var refs []string
	var last string
	for range 3 {
		_, attempt, ref := openAttempt(t, pool, "AG-A")
		refs, last = append(refs, ref), attempt.String()
	}
	// An uncommitted entry under the key the last payment will post (its
	// row in ledger_entry_keys, which holds the entries' idempotency keys:
	// migration 00034): the batch's ledger statement waits for this
	// transaction, after its other writes, inside its own transaction.
	blocker, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = blocker.Rollback(ctx) }()
	if _, err := blocker.Exec(ctx, `INSERT INTO ledger_entry_keys (idempotency_key, entry_id, effective_at)
		VALUES ($1, nextval(pg_get_serial_sequence('ledger_entries', 'id')), now())`,
		"payment:"+last); err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), recorderProcessEnv+"="+dbURL+"|"+strings.Join(refs, ","))
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var waiting int
	deadline := time.Now().Add(30 * time.Second)
	for waiting == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		_ = pool.QueryRow(ctx, `SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE '%ledger_entries%'`).Scan(&waiting)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if waiting == 0 {
		t.Fatal("the batch never reached its ledger statement")
	}
	if err := blocker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// The killed process's backend finishes its statement, finds its client
	// gone and rolls back.
	for gone := false; !gone; {
		if time.Now().After(deadline) {
			t.Fatal("the killed process's backend is still there")
		}
		_ = pool.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)`, waiting).Scan(&gone)
		time.Sleep(20 * time.Millisecond)
	}
	if n := rowCount(t, pool, `SELECT (SELECT count(*) FROM orders WHERE status <> 'open') + (SELECT count(*) FROM payment_attempts
		WHERE status <> 'pending') + (SELECT count(*) FROM order_events) + (SELECT count(*) FROM ledger_entries)`); n != 0 {
		t.Fatalf("%d rows written by the killed batch", n)
	}

	f := recorderFlow(t, pool)
	var jobs []recordJob
	for _, ref := range refs {
		jobs = append(jobs, job(result(ref, "TXN-"+ref, gateways.StatusSucceeded, 200000)))
	}
	for _, res := range f.rec.queue.WriteBatch(jobs) {
		if res.Err != nil || res.Value != gateways.AckOK {
			t.Fatalf("recorded again: %s, %v", res.Value, res.Err)
		}
	}
	if n := rowCount(t, pool, `SELECT count(*) FROM orders WHERE status = 'paid'`); n != 3 {
		t.Fatalf("%d orders paid, want 3", n)
	}
	if n := rowCount(t, pool, `SELECT count(*) FROM ledger_entries WHERE kind = 'payment'`); n != 3 {
		t.Fatalf("%d payment entries, want 3", n)
	}
	if report, err := ledger.Verify(ctx, pool); err != nil || !report.OK() {
		t.Fatalf("ledger verify: %v %v", report.Findings, err)
	}
}
