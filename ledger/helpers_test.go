package ledger

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/partition"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

var bg = context.Background()

func mustPost(t testing.TB, db DBTX, e NewEntry) Entry {
	t.Helper()
	got, err := Post(bg, db, e)
	if err != nil {
		t.Fatalf("post %s: %v", e.Key, err)
	}
	return got
}

// payment is a one-share VND payment through vnpay by card.
func payment(key, agency, service string, amount int64) Payment {
	return Payment{Key: key, OrderID: uuid.New(), AttemptID: uuid.New(), Gateway: "vnpay", Channel: "card",
		Currency: "VND", Shares: []Share{{AgencyCode: agency, ServiceCode: service, Amount: vnd(amount)}}, EffectiveAt: t0}
}

// monthsPool is a test database with the ledger's partitions of January 2023
// and the months after it (partition.Ensure's ahead).
func monthsPool(t testing.TB, ahead int) *pgxpool.Pool {
	t.Helper()
	pool := newPool(t)
	if _, err := partition.Ensure(bg, pool, time.Date(2023, 1, 1, 0, 0, 0, 0, bizday.Zone), ahead); err != nil {
		t.Fatal(err)
	}
	return pool
}

// postPayment records p alone and returns its entry.
func postPayment(t testing.TB, pool *pgxpool.Pool, p Payment) Entry {
	t.Helper()
	es, err := PostPayments(bg, pool, []Payment{p})
	if err != nil {
		t.Fatalf("post payment %s: %v", p.Key, err)
	}
	return es[0]
}

// asSuperuser runs stmts as a superuser who has switched the ledger's
// triggers off (session_replication_role = replica), as someone with direct
// database access could.
func asSuperuser(t testing.TB, pool *pgxpool.Pool, stmts ...string) {
	t.Helper()
	err := pgx.BeginFunc(bg, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(bg, `SET LOCAL session_replication_role = replica`); err != nil {
			return err
		}
		for _, s := range stmts {
			if _, err := tx.Exec(bg, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("tamper: %v", err)
	}
}

func mustVerify(t testing.TB, pool *pgxpool.Pool) Report {
	t.Helper()
	r, err := Verify(bg, pool)
	if err != nil {
		t.Fatalf("verify: %v (findings %v)", err, r.Findings)
	}
	return r
}

func count(t testing.TB, db DBTX, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(bg, query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return pgtest.New(t)
}

func isErr(err, target error) bool { return err != nil && errors.Is(err, target) }

// unsealedSQL counts committed entries the seal chain does not cover yet.
const unsealedSQL = `SELECT count(*) FROM ledger_entries e WHERE NOT EXISTS (
	SELECT 1 FROM ledger_seals s WHERE (e.xid, e.id) <= (s.last_xid, s.last_entry_id))`

// sealUntil runs Seal until done says so. A run may seal less than everything
// committed: the horizon counts a transaction that ended unseen in another
// database (other tests') as still running, and the next run catches up.
func sealUntil(t testing.TB, pool *pgxpool.Pool, done func() bool) SealResult {
	t.Helper()
	var total SealResult
	for range 500 {
		res, err := Seal(bg, pool)
		if err != nil {
			t.Fatalf("seal: %v", err)
		}
		total.Batches += res.Batches
		total.Entries += res.Entries
		if done() {
			return total
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("seal did not get there (sealed %+v)", total)
	return total
}

// sealAll seals every committed entry.
func sealAll(t testing.TB, pool *pgxpool.Pool) SealResult {
	t.Helper()
	return sealUntil(t, pool, func() bool { return count(t, pool, unsealedSQL) == 0 })
}

// snapshotAll snapshots balances until every posting is covered.
func snapshotAll(t testing.TB, pool *pgxpool.Pool) int64 {
	t.Helper()
	var total int64
	for range 500 {
		n, err := SnapshotBalances(bg, pool)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		total += n
		if count(t, pool, `SELECT count(*) FROM ledger_postings p WHERE p.xid >= coalesce(
			(SELECT max(up_to_xid) FROM ledger_balance_snapshots s WHERE s.account_code = p.account_code), 0)`) == 0 {
			return total
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("snapshots did not cover every posting")
	return total
}
