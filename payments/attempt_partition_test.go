package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/partition"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// attemptMonths are four months with partitions, far from the test's today;
// attempts are written at noon on the 10th of each.
var attemptMonths = []time.Time{
	time.Date(2061, 1, 10, 12, 0, 0, 0, bizday.Zone), time.Date(2061, 2, 10, 12, 0, 0, 0, bizday.Zone),
	time.Date(2061, 3, 10, 12, 0, 0, 0, bizday.Zone), time.Date(2061, 4, 10, 12, 0, 0, 0, bizday.Zone),
}

// monthsPool is a test database with the partitions of attemptMonths.
func monthsPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.New(t)
	if _, err := partition.Ensure(context.Background(), pool, attemptMonths[0], len(attemptMonths)); err != nil {
		t.Fatal(err)
	}
	return pool
}

// attemptAt writes a pending fakepay attempt of order created at at, with
// gateway reference ref, and returns its id.
func attemptAt(t *testing.T, pool *pgxpool.Pool, order uuid.UUID, ref string, at time.Time) uuid.UUID {
	t.Helper()
	id := uuid.New()
	if _, err := pool.Exec(context.Background(), `INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref,
		currency, amount, status, created_by, created_at, updated_at, expires_at)
		VALUES ($1, $2, 'fakepay', 'card', $3, 'VND', 200000, 'pending', 'test', $4::timestamptz, $4, $4::timestamptz + interval '15 minutes')`,
		id, order, ref, at); err != nil {
		t.Fatal(err)
	}
	return id
}

// partitionsRead answers the partitions of payment_attempts that sql read.
func partitionsRead(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) []string {
	t.Helper()
	return pgtest.PartitionsRead(t, pool, "payment_attempts", sql, args...)
}

// payment_attempts is partitioned by month (migration 00043): the lookups
// of an attempt by id, by gateway reference and of an order's paying
// attempt, and the updates that finish or expire an attempt, go through
// payment_attempt_keys and read the one partition the attempt is in, not
// one per month.
func TestAttemptLookupsReadOnePartition(t *testing.T) {
	t.Parallel()
	pool := monthsPool(t)
	ctx := context.Background()
	order, _, _ := openAttempt(t, pool, "AG-A")
	var ids []uuid.UUID
	for i, at := range attemptMonths {
		ids = append(ids, attemptAt(t, pool, order, fmt.Sprintf("REF-M%d-%s", i, order.String()[:8]), at))
	}
	// The paying attempt is March's.
	if _, err := pool.Exec(ctx, `UPDATE payment_attempts SET status = 'succeeded', outcome = 'payment',
		gateway_txn_id = 'TXN-M', paid_at = created_at WHERE id = $1`, ids[2]); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE payment_attempts; ANALYZE payment_attempt_keys`); err != nil {
		t.Fatal(err)
	}
	march := "payment_attempts_p206103"
	ref := "REF-M2-" + order.String()[:8]
	cases := []struct {
		name string
		sql  string
		args []any
	}{
		{"by id", attemptByIDSQL, []any{ids[2]}},
		{"by id for update", attemptByIDSQL + " FOR UPDATE OF a", []any{ids[2]}},
		{"by gateway reference", attemptsByRefSQL, []any{"fakepay", ref}},
		{"by gateway references", attemptsByRefsSQL, []any{[]string{"fakepay"}, []string{ref}}},
		{"paying attempt", payingAttemptSQL, []any{order}},
		{"finish", finishAttemptSQL, []any{ids[2], "succeeded", "payment", "TXN-M", "00", "", "{}", attemptMonths[2], time.Now()}},
		{"expire", expireAttemptSQL, []any{ids[2], time.Now()}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := partitionsRead(t, pool, c.sql, c.args...)
			if len(got) != 1 || got[0] != march {
				t.Fatalf("read partitions %v, want only %s", got, march)
			}
		})
	}
}

// An order's attempts — all of them, its newest, its open ones (also as a
// new one is written, insertMany's cap) — are found
// by order in payment_attempt_keys (migration 00044) and read in the
// partitions that hold them, not in every month's: here January's, March's
// and today's, while another order's attempts fill February and April.
func TestOrderAttemptLookupsReadOnlyTheirPartitions(t *testing.T) {
	t.Parallel()
	pool := monthsPool(t)
	ctx := context.Background()
	order, _, _ := openAttempt(t, pool, "AG-A")
	other, _, _ := openAttempt(t, pool, "AG-A")
	for i, at := range attemptMonths {
		o := order
		if i%2 == 1 {
			o = other
		}
		attemptAt(t, pool, o, fmt.Sprintf("REF-O%d-%s", i, o.String()[:8]), at)
	}
	if _, err := pool.Exec(ctx, `ANALYZE payment_attempts; ANALYZE payment_attempt_keys`); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT DISTINCT tableoid::regclass::text FROM payment_attempts WHERE order_id = $1`, order)
	if err != nil {
		t.Fatal(err)
	}
	want, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 {
		t.Fatalf("the order's attempts are in %v, want three partitions", want)
	}
	slices.Sort(want)
	for _, c := range []struct {
		name string
		sql  string
		args []any
	}{
		{"attempts of the order", attemptsOfOrderSQL, []any{order}},
		{"latest attempt", latestAttemptSQL, []any{order}},
		{"open attempts", openAttemptsSQL, []any{order, attemptMonths[0]}},
		{"open attempts counted as one starts", insertAttemptsSQL, []any{[]uuid.UUID{uuid.New()}, []uuid.UUID{order},
			[]string{"fakepay"}, []string{"card"}, []string{"REF-NEW-" + order.String()[:8]}, []string{"VND"},
			[]decimal.Decimal{decimal.NewFromInt(200000)}, []string{""}, []string{""}, []string{"test"},
			[]time.Time{time.Now()}, []time.Time{time.Now().Add(15 * time.Minute)}, []json.RawMessage{json.RawMessage(`{}`)}, 5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := partitionsRead(t, pool, c.sql, c.args...); !slices.Equal(got, want) {
				t.Fatalf("read partitions %v, want %v", got, want)
			}
		})
	}
}

// Two attempts of one order, made in different months (so in different
// partitions), succeed at once in two transactions: one pays the order and
// the other is refused by payment_attempts_one_payment (in
// payment_attempt_keys, which both wait on), whichever month it is in. The
// other global rules hold across months too: one gateway transaction is the
// success of one attempt, an attempt id is used once, and an attempt keeps
// its identity.
func TestRacingPayingAttemptsInTwoMonths(t *testing.T) {
	t.Parallel()
	pool := monthsPool(t)
	ctx := context.Background()
	succeed := func(tx pgx.Tx, id uuid.UUID, txn string) error {
		_, err := tx.Exec(ctx, `UPDATE payment_attempts SET status = 'succeeded', outcome = 'payment',
			gateway_txn_id = $2, paid_at = now(), updated_at = now() WHERE id = $1`, id, txn)
		return err
	}
	refusedBy := func(err error, code, constraint string) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == code && pgErr.ConstraintName == constraint
	}

	for _, first := range []int{0, 1} { // January's wins, then February's
		order, _, _ := openAttempt(t, pool, "AG-A")
		a := []uuid.UUID{
			attemptAt(t, pool, order, "REF-J-"+order.String()[:8], attemptMonths[0]),
			attemptAt(t, pool, order, "REF-F-"+order.String()[:8], attemptMonths[1]),
		}
		txs := make([]pgx.Tx, 2)
		for i := range txs {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(ctx) }()
			txs[i] = tx
		}
		if err := succeed(txs[first], a[first], "TXN-A-"+order.String()); err != nil {
			t.Fatal(err)
		}
		second := 1 - first
		done := make(chan error, 1)
		go func() { done <- succeed(txs[second], a[second], "TXN-B-"+order.String()) }()
		waitForLock(t, pool, txs[second].Conn().PgConn().PID(), done)
		if err := txs[first].Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !refusedBy(err, "23505", "payment_attempts_one_payment") {
			t.Fatalf("second paying attempt of one order, other month: %v; want payment_attempts_one_payment", err)
		}
		var payments, parts int
		if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE outcome = 'payment'), count(DISTINCT tableoid)
			FROM payment_attempts WHERE order_id = $1`, order).Scan(&payments, &parts); err != nil {
			t.Fatal(err)
		}
		if payments != 1 || parts != 3 { // openAttempt's (today), January's, February's
			t.Fatalf("order %s: %d paying attempts in %d partitions, want 1 in 3", order, payments, parts)
		}
	}

	order, _, _ := openAttempt(t, pool, "AG-A")
	jan := attemptAt(t, pool, order, "REF-TX1-"+order.String()[:8], attemptMonths[0])
	other, _, _ := openAttempt(t, pool, "AG-A")
	apr := attemptAt(t, pool, other, "REF-TX2-"+order.String()[:8], attemptMonths[3])
	exec := func(sql string, args ...any) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, sql, args...); return err })
	}
	if err := exec(`UPDATE payment_attempts SET status = 'succeeded', outcome = 'payment', gateway_txn_id = 'TXN-SAME',
		paid_at = now() WHERE id = $1`, jan); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, sql, constraint string
		args                  []any
	}{
		{"one gateway transaction, two months", `UPDATE payment_attempts SET status = 'succeeded', outcome = 'payment',
			gateway_txn_id = 'TXN-SAME', paid_at = now() WHERE id = $1`, "payment_attempts_txn_key", []any{apr}},
		{"an attempt id again, another month", `INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref,
			currency, amount, status, created_by, created_at, updated_at, expires_at)
			SELECT id, order_id, gateway, method, gateway_ref, currency, amount, 'pending', created_by,
				created_at + interval '1 month', updated_at, expires_at FROM payment_attempts WHERE id = $1`,
			"payment_attempts_pkey", []any{jan}},
		{"an attempt id again, same month", `INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref,
			currency, amount, status, created_by, created_at, updated_at, expires_at)
			SELECT id, order_id, gateway, method, 'REF-OTHER', currency, amount, 'pending', created_by,
				created_at, updated_at, expires_at FROM payment_attempts WHERE id = $1`, "", []any{jan}},
		{"an attempt's gateway reference changed", `UPDATE payment_attempts SET gateway_ref = 'REF-MOVED' WHERE id = $1`,
			"payment_attempts_identity", []any{apr}},
	}
	for _, c := range cases {
		err := exec(c.sql, c.args...)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (c.constraint != "" && pgErr.ConstraintName != c.constraint) {
			t.Errorf("%s: %v; want refused by %q", c.name, err, c.constraint)
		}
	}

	// An attempt moved to another month (backdated, as tests do) keeps one
	// key row, with its new time; and a refund still refers to it.
	if err := exec(`UPDATE payment_attempts SET created_at = created_at - interval '1 month' WHERE id = $1`, apr); err != nil {
		t.Fatal(err)
	}
	var part string
	var keys int
	if err := pool.QueryRow(ctx, `SELECT a.tableoid::regclass::text, (SELECT count(*) FROM payment_attempt_keys k
		WHERE k.id = a.id AND k.created_at = a.created_at) FROM payment_attempts a WHERE a.id = $1`, apr).Scan(&part, &keys); err != nil {
		t.Fatal(err)
	}
	if part != "payment_attempts_p206103" || keys != 1 {
		t.Fatalf("moved attempt in %s with %d matching key rows, want payment_attempts_p206103 and 1", part, keys)
	}
	var mismatched int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM payment_attempts a FULL JOIN payment_attempt_keys k ON k.id = a.id
		WHERE a.id IS NULL OR k.id IS NULL OR (a.order_id, a.gateway, a.gateway_ref, a.created_at, a.status) IS DISTINCT FROM
			(k.order_id, k.gateway, k.gateway_ref, k.created_at, k.status)
			OR a.outcome IS DISTINCT FROM k.outcome OR a.gateway_txn_id IS DISTINCT FROM k.gateway_txn_id`).Scan(&mismatched); err != nil {
		t.Fatal(err)
	}
	if mismatched != 0 {
		t.Fatalf("%d attempts and key rows do not match", mismatched)
	}
}

// waitForLock returns once the backend pid waits for a lock; it fails the
// test if the statement running there (done) ends first.
func waitForLock(t *testing.T, pool *pgxpool.Pool, pid uint32, done <-chan error) {
	t.Helper()
	for {
		select {
		case err := <-done:
			t.Fatalf("the second paying attempt did not wait for the first: %v", err)
		default:
		}
		var waiting bool
		if err := pool.QueryRow(context.Background(), `SELECT coalesce(wait_event_type = 'Lock', false)
			FROM pg_stat_activity WHERE pid = $1`, int(pid)).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
