package ledger

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// booksForTamper posts a small day of business, seals it in two batches and
// snapshots the balances; Verify is green.
func booksForTamper(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := newPool(t)
	for i, agency := range []string{"A", "B", "A"} {
		if _, err := PostPayment(bg, pool, payment(fmt.Sprintf("pay-%d", i), agency, "SVC-1", int64(10000*(i+1)))); err != nil {
			t.Fatal(err)
		}
	}
	sealAll(t, pool)
	mustPost(t, pool, pair("adj", "expense:write-off", "suspense", 5))
	if _, err := PostTransfer(bg, pool, Transfer{Key: "tr", AgencyCode: "A", TreasuryAccount: "0011", Reference: "FT1", Currency: "VND", Amount: vnd(1000), EffectiveAt: t0}); err != nil {
		t.Fatal(err)
	}
	sealAll(t, pool)
	snapshotAll(t, pool)
	if r := mustVerify(t, pool); r.SealedBatches < 2 || r.Snapshots == 0 {
		t.Fatalf("setup report %+v", r)
	}
	return pool
}

// rehash returns SQL that rewrites entry id's content hash to match its rows
// after edit, as a tamperer who knows the algorithm would.
func rehash(t *testing.T, pool *pgxpool.Pool, id int64, edit func(*Entry)) string {
	t.Helper()
	e, err := GetEntry(bg, pool, id)
	if err != nil {
		t.Fatal(err)
	}
	edit(&e)
	return fmt.Sprintf(`UPDATE ledger_entries SET content_hash = '\x%s' WHERE id = %d`, hex.EncodeToString(contentHash(asNew(e), e.Reverses)), id)
}

// The tamper test: rows edited behind the service's back, with the
// triggers switched off as a superuser can, are caught by Verify, which names
// the first broken thing.
func TestVerifyCatchesTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tamper  func(t *testing.T, pool *pgxpool.Pool) []string
		check   string
		subject string
		// covering, when set, makes the subject the seal batch whose range
		// holds the position (xid of entry covering[0], id covering[1]):
		// batch boundaries depend on when each Seal run saw entries final.
		covering [2]int64
	}{
		{"posting amount raised", func(*testing.T, *pgxpool.Pool) []string {
			return []string{`UPDATE ledger_postings SET amount = amount + 1 WHERE entry_id = 2 AND leg = 2`}
		}, "entry", "entry 2", [2]int64{}},
		{"both legs changed and content hash recomputed", func(t *testing.T, pool *pgxpool.Pool) []string {
			return []string{
				`UPDATE ledger_postings SET amount = 1 WHERE entry_id = 2`,
				rehash(t, pool, 2, func(e *Entry) {
					for i := range e.Postings {
						e.Postings[i].Amount = vnd(1)
					}
				}),
			}
		}, "seal", "", [2]int64{2, 2}},
		{"posting moved to another account", func(*testing.T, *pgxpool.Pool) []string {
			return []string{`UPDATE ledger_postings SET account_code = 'agency:B:collected' WHERE entry_id = 3 AND leg = 2`}
		}, "entry", "entry 3", [2]int64{}},
		{"sealed entry deleted", func(*testing.T, *pgxpool.Pool) []string {
			return []string{`DELETE FROM ledger_postings WHERE entry_id = 2`, `DELETE FROM ledger_entries WHERE id = 2`}
		}, "seal", "", [2]int64{2, 2}},
		{"entry forged inside the sealed range", func(t *testing.T, pool *pgxpool.Pool) []string {
			forged := NewEntry{Kind: KindAdjustment, Description: "forged", EffectiveAt: t0, Postings: []Posting{
				{Account: "suspense", Direction: Debit, Amount: vnd(9), Currency: "VND"},
				{Account: "agency:A:collected", Direction: Credit, Amount: vnd(9), Currency: "VND"},
			}}
			return []string{
				fmt.Sprintf(`INSERT INTO ledger_entries (id, idempotency_key, kind, reference, description, recorded_by, effective_at, content_hash, xid)
					OVERRIDING SYSTEM VALUE SELECT 100, 'forged', 'adjustment', '', 'forged', 'system', '%s', '\x%s', xid FROM ledger_entries WHERE id = 1`,
					t0.Format("2006-01-02T15:04:05Z07:00"), hex.EncodeToString(contentHash(forged, 0))),
				`INSERT INTO ledger_postings (entry_id, leg, account_code, currency, direction, amount, effective_at, xid)
					SELECT 100, l, a, 'VND', d, 9, effective_at, xid FROM ledger_entries,
					(VALUES (1, 'suspense', 'debit'), (2, 'agency:A:collected', 'credit')) v (l, a, d) WHERE id = 1`,
			}
		}, "seal", "", [2]int64{1, 100}},
		{"seal hash rewritten", func(*testing.T, *pgxpool.Pool) []string {
			return []string{`UPDATE ledger_seals SET hash = sha256('forged') WHERE batch_no = 1`}
		}, "seal", "seal batch 1", [2]int64{}},
		{"seal chain relinked", func(*testing.T, *pgxpool.Pool) []string {
			return []string{`UPDATE ledger_seals SET prev_hash = sha256('forged') WHERE batch_no = 2`}
		}, "seal", "seal batch 2", [2]int64{}},
		{"seal batch removed", func(*testing.T, *pgxpool.Pool) []string {
			return []string{`DELETE FROM ledger_seals WHERE batch_no = 1`}
		}, "seal", "seal batch 2", [2]int64{}},
		{"orphan posting", func(*testing.T, *pgxpool.Pool) []string {
			return []string{`INSERT INTO ledger_postings (entry_id, leg, account_code, currency, direction, amount, effective_at, xid)
				VALUES (999, 1, 'suspense', 'VND', 'credit', 5, now(), 1)`}
		}, "posting", "entry 999 posting 1", [2]int64{}},
		{"account kind changed", func(*testing.T, *pgxpool.Pool) []string {
			return []string{`UPDATE ledger_accounts SET kind = 'asset' WHERE code = 'suspense'`}
		}, "account", "account suspense", [2]int64{}},
		{"entry's key row deleted", func(*testing.T, *pgxpool.Pool) []string {
			return []string{`DELETE FROM ledger_entry_keys WHERE entry_id = 4`}
		}, "entry", "entry 4", [2]int64{}},
		{"entry's key row moved to another month", func(*testing.T, *pgxpool.Pool) []string {
			return []string{`UPDATE ledger_entry_keys SET effective_at = effective_at + interval '1 month' WHERE entry_id = 3`}
		}, "entry", "entry 3", [2]int64{}},
		{"snapshot balance changed", func(*testing.T, *pgxpool.Pool) []string {
			return []string{`UPDATE ledger_balance_snapshots SET net = net + 1 WHERE account_code = 'agency:B:collected'`}
		}, "snapshot", "account agency:B:collected", [2]int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := booksForTamper(t)
			subject := tt.subject
			if tt.covering[0] != 0 {
				subject = fmt.Sprintf("seal batch %d", count(t, pool, `SELECT min(batch_no) FROM ledger_seals
					WHERE (last_xid, last_entry_id) >= ((SELECT xid FROM ledger_entries WHERE id = $1), $2)`, tt.covering[0], tt.covering[1]))
			}
			asSuperuser(t, pool, tt.tamper(t, pool)...)
			r, err := Verify(bg, pool)
			if !errors.Is(err, ErrBroken) || r.OK() {
				t.Fatalf("verify after tampering: %v", err)
			}
			if f := r.Findings[0]; f.Check != tt.check || f.Subject != subject {
				t.Fatalf("first finding %q; want %s: %s (all: %v)", f, tt.check, subject, r.Findings)
			}
			// One transaction, every step in turn (and the chain order from
			// a cursor): the same findings.
			one, err := VerifyWith(bg, pool, VerifyOptions{Concurrency: 1})
			if !errors.Is(err, ErrBroken) || !reflect.DeepEqual(one.Findings, r.Findings) {
				t.Fatalf("verify in one transaction: %v, findings %v; concurrently %v", err, one.Findings, r.Findings)
			}
			t.Logf("caught: %v", err)
		})
	}
}

// Verify's steps run concurrently on connections of their own, each in the
// leader's exported snapshot: rows committed after Verify began — a new
// payment, and tampering that any one step would catch — are seen by none
// of them, and the report is the one of the books as they were. The next
// Verify sees both.
func TestVerifyStepsShareOneSnapshot(t *testing.T) {
	t.Parallel()
	pool := booksForTamper(t)
	rollUpAll(t, pool)
	before := mustVerify(t, pool)
	r, err := VerifyWith(bg, pool, VerifyOptions{Concurrency: 4, exported: func() {
		if _, err := PostPayment(bg, pool, payment("late", "B", "SVC-1", 777)); err != nil {
			t.Error(err)
		}
		asSuperuser(t, pool,
			`INSERT INTO ledger_postings (entry_id, leg, account_code, currency, direction, amount, effective_at, xid)
				VALUES (999, 1, 'suspense', 'VND', 'credit', 5, now(), 1)`, // postings, trial balance
			`UPDATE ledger_postings SET amount = amount + 1 WHERE entry_id = 2 AND leg = 2`, // entries
			`UPDATE ledger_seals SET hash = sha256('forged') WHERE batch_no = 1`,            // seals
			`DELETE FROM ledger_entry_keys WHERE entry_id = 4`,                              // entry keys
			`UPDATE ledger_accounts SET kind = 'asset' WHERE code = 'suspense'`,             // accounts
			`UPDATE ledger_balance_snapshots SET net = net + 1`,                             // snapshots
			`UPDATE ledger_revenue_rollups SET net = net + 1`,                               // revenue rollups
			`UPDATE ledger_balance_checkpoints SET net = net + 1`,                           // checkpoints
		)
	}})
	if err != nil {
		t.Fatalf("verify while the books changed under it: %v (findings %v)", err, r.Findings)
	}
	if len(r.Steps) != len(verifySteps()) {
		t.Fatalf("steps reported %v", r.Steps)
	}
	r.Steps, before.Steps = nil, nil
	if !reflect.DeepEqual(r, before) {
		t.Fatalf("report %+v; before the changes %+v", r, before)
	}
	if before.RevenueRollups == 0 || before.Checkpoints == 0 {
		t.Fatalf("no rollups to check: %+v", before)
	}
	after, err := Verify(bg, pool)
	if !errors.Is(err, ErrBroken) || after.Entries != before.Entries+1 {
		t.Fatalf("verify after the changes: %v, %d entries (before %d)", err, after.Entries, before.Entries)
	}
	checks := map[string]bool{}
	for _, f := range after.Findings {
		checks[f.Check] = true
	}
	for _, c := range []string{"entry", "seal", "posting", "account", "trial_balance", "snapshot", "rollup", "checkpoint"} {
		if !checks[c] {
			t.Errorf("no %s finding after the changes: %v", c, after.Findings)
		}
	}
}

// Verify's concurrent steps find nothing while payments go on being posted.
func TestVerifyWhilePosting(t *testing.T) {
	t.Parallel()
	pool := booksForTamper(t)
	ctx, cancel := context.WithCancel(bg)
	done := make(chan int)
	go func() {
		n := 0
		for ctx.Err() == nil {
			if _, err := PostPayment(bg, pool, payment(fmt.Sprintf("busy-%d", n), "A", "SVC-1", int64(1000+n))); err != nil {
				t.Error(err)
				break
			}
			n++
		}
		done <- n
	}()
	var last int64
	for range 5 {
		r, err := VerifyWith(bg, pool, VerifyOptions{Concurrency: 4})
		if err != nil {
			t.Fatalf("verify while posting: %v (findings %v)", err, r.Findings)
		}
		if r.Entries < last || r.SealedEntries+r.UnsealedEntries != r.Entries {
			t.Fatalf("report %+v after one of %d entries", r, last)
		}
		last = r.Entries
	}
	cancel()
	if n := <-done; n == 0 {
		t.Fatal("no payment posted while verifying")
	}
}
