package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/payments/catalogue"
)

// seedCatalogue makes the agencies and services through the catalogue.
func seedCatalogue(ctx context.Context, pool *pgxpool.Pool, w *world) error {
	ctx = audit.System(ctx, "benchscale")
	cat := catalogue.NewStore(pool)
	for _, a := range w.agencies {
		if _, err := cat.UpsertAgency(ctx, catalogue.Agency{Code: a.code, Name: a.name, TreasuryAccount: a.treasury}); err != nil {
			return err
		}
	}
	for _, s := range w.services {
		svc := catalogue.Service{Code: s.code, AgencyCode: w.agencies[s.agency].code, Name: s.name, Kind: s.kind, Active: true}
		switch {
		case s.fixed > 0:
			f := decimal.NewFromInt(s.fixed)
			svc.FixedAmount = &f
		case s.kind == catalogue.KindCharge:
			lo, hi := decimal.NewFromInt(10_000), decimal.NewFromInt(2_000_000)
			svc.MinAmount, svc.MaxAmount = &lo, &hi
		default:
			lo, hi := decimal.NewFromInt(1000), decimal.NewFromInt(10_000_000)
			svc.MinAmount, svc.MaxAmount = &lo, &hi
		}
		if _, err := cat.UpsertService(ctx, svc); err != nil {
			return err
		}
	}
	return nil
}

// seedYear loads the year in three transactions at once, each on its own
// connection: the orders with their lines, attempts and history; the ledger
// (an entry and its postings per payment); the webhook events.
//
// Each transaction loads as one would restore a dump: with the triggers off
// (session_replication_role = replica: the ledger's stamp and balance
// triggers, the foreign keys' checks), its tables truncated first so that
// COPY may FREEZE them (rows written frozen and all-visible, as VACUUM would
// leave them: index-only scans work at once, and no later pass rewrites
// every page) — a partitioned table's rows straight into their month's
// partition, which the TRUNCATE of its parent qualifies — and its indexes
// dropped. What the triggers would have checked holds by construction —
// each entry balances, its postings carry its xid and effective time, its
// content hash is ledger.ContentHash, its seal batch ledger.BulkSealer's —
// and the ledger is checked afterwards by ledger.Verify. Once a transaction
// has committed, its tables' indexes are built again, by sorting, on other
// connections (seedConns at once, while the other loads go on), and at the
// end ANALYZE leaves the statistics a running database would have, and
// VACUUM the visibility maps: COPY FREEZE marks most pages all-visible and
// all-frozen as it writes them (PostgreSQL 14 on), so only the tables and
// partitions with pages it did not mark are vacuumed, and only those pages
// read.
func seedYear(ctx context.Context, pool *pgxpool.Pool, w *world) (seedPhases, error) {
	var ph seedPhases
	began := time.Now()
	codes := accountCodes(w)
	if _, err := pool.Exec(ctx, `INSERT INTO ledger_accounts (code, kind, currency, created_at)
		SELECT c, k, 'VND', $3 FROM unnest($1::text[], $2::text[]) AS t(c, k)`, codes, accountKinds(codes), w.start); err != nil {
		return ph, fmt.Errorf("accounts: %w", err)
	}
	// The year's month partitions (the partitioned tables would otherwise
	// hold it in their DEFAULT partitions), as the partitions job makes
	// them ahead in a running service.
	if _, err := pool.Exec(ctx, `SELECT p.* FROM partitioned_tables t,
		partition_ensure(t.parent::text, date_trunc('month', $1::timestamptz AT TIME ZONE INTERVAL '+07:00')::date, 14) p`, w.start); err != nil {
		return ph, fmt.Errorf("partitions of the year: %w", err)
	}
	loads := []struct {
		name     string
		truncate []string // truncated together: a table that references one of them must be in the same TRUNCATE
		load     func(ctx context.Context, tx pgx.Tx, w *world) error
	}{
		{"orders", []string{"orders", "order_lines", "payment_attempts", "payment_attempt_keys", "order_events", "payment_refunds",
			"payment_refund_lines"}, loadOrders},
		{"ledger", []string{"ledger_entries", "ledger_entry_keys", "ledger_postings", "ledger_entry_requests", "ledger_seals"}, loadLedger},
		{"webhooks", []string{"webhook_events", "webhook_deliveries", "webhook_attempts"}, loadWebhooks},
	}
	// The index builds, fed as each load commits (a buffer for them all:
	// a load never waits for a build), each load's followed by its tables'
	// ANALYZE and VACUUM: those read the tables from disk while the builds
	// sort on the CPU. A table's ANALYZE waits for its builds still running
	// (their locks conflict), so its statistics cover its indexes too.
	var busy jobTimes
	jobs := make(chan seedJob, 1024)
	jobs <- settleJob("ledger_accounts", &busy)
	jobErr := make(chan error, 1)
	jobStart := time.Now()
	go func() { jobErr <- runJobs(ctx, pool, jobs) }()
	var wg sync.WaitGroup
	errs := make([]error, len(loads))
	for k, l := range loads {
		wg.Go(func() {
			start := time.Now()
			var restore []restoreStmt
			errs[k] = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				for _, s := range []string{
					`SET LOCAL session_replication_role = replica`,
					`SET LOCAL synchronous_commit = off`,
					`TRUNCATE ` + strings.Join(l.truncate, ", ") + ` RESTART IDENTITY`,
				} {
					if _, err := tx.Exec(ctx, s); err != nil {
						return fmt.Errorf("%s: %w", s, err)
					}
				}
				var err error
				if restore, err = dropIndexes(ctx, tx, l.truncate); err != nil {
					return err
				}
				return l.load(ctx, tx, w)
			})
			if errs[k] != nil {
				errs[k] = fmt.Errorf("seed %s: %w", l.name, errs[k])
				return
			}
			benchutil.Progress("loaded %s in %s", l.name, time.Since(start).Round(time.Second))
			for _, r := range restore {
				jobs <- buildJob(r)
			}
			for _, t := range l.truncate {
				jobs <- settleJob(t, &busy)
			}
		})
	}
	wg.Wait()
	ph.load = time.Since(began)
	close(jobs)
	if err := errors.Join(append(errs, <-jobErr)...); err != nil {
		return ph, err
	}
	ph.indexes = time.Since(began) - ph.load
	ph.analyze, ph.vacuum = busy.get()
	benchutil.Progress("indexes built, tables analyzed and vacuumed %s after the first load began (ANALYZE %s, VACUUM %s in all)",
		time.Since(jobStart).Round(time.Millisecond), ph.analyze.Round(time.Millisecond), ph.vacuum.Round(time.Millisecond))
	// The identities continue after the seeded rows.
	if _, err := pool.Exec(ctx, `
		SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), (SELECT max(id) FROM ledger_entries)),
			setval(pg_get_serial_sequence('order_events', 'id'), (SELECT max(id) FROM order_events)),
			setval(pg_get_serial_sequence('webhook_events', 'seq'), (SELECT max(seq) FROM webhook_events))`); err != nil {
		return ph, fmt.Errorf("identities: %w", err)
	}
	var tables []string
	for _, l := range loads {
		tables = append(tables, l.truncate...)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return ph, err
	}
	defer conn.Release()
	if partly, err := notVisible(ctx, conn, tables); err != nil || len(partly) > 0 {
		return ph, fmt.Errorf("pages not all-visible after VACUUM in %v (%v)", partly, err)
	}
	return ph, nil
}

// notVisible are the partitions (or tables) of tables with pages not
// all-visible, as ANALYZE or VACUUM last counted them.
func notVisible(ctx context.Context, conn *pgxpool.Conn, tables []string) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT t.relid::regclass::text FROM unnest($1::regclass[]) r, pg_partition_tree(r) t
		JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf AND c.relallvisible < c.relpages`, tables)
	if err != nil {
		return nil, fmt.Errorf("visibility maps: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// seedJob is work on a loaded table, done on one of seedConns connections.
type seedJob struct {
	name string
	do   func(ctx context.Context, conn *pgxpool.Conn) error
}

// buildJob builds an index again: on its connection's own
// maintenance_work_mem, with no parallel workers (the connections are the
// parallelism).
func buildJob(r restoreStmt) seedJob {
	return seedJob{name: "index " + r.name, do: func(ctx context.Context, conn *pgxpool.Conn) error {
		for _, s := range []string{`SET maintenance_work_mem = '512MB'`, `SET max_parallel_maintenance_workers = 0`} {
			if _, err := conn.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		if _, err := conn.Exec(ctx, r.sql); err != nil {
			return fmt.Errorf("%s: %w", r.sql, err)
		}
		_, err := conn.Exec(ctx, `RESET maintenance_work_mem; RESET max_parallel_maintenance_workers`)
		return err
	}}
}

// settleJob leaves table as a running database would have it: ANALYZE for
// its statistics, then VACUUM of its partitions that COPY FREEZE did not
// leave all-visible. (COPY FREEZE marks all-visible the pages it fills from
// empty, not the last page of an earlier COPY into the same partition that
// it goes on filling; VACUUM reads only the pages not all-visible, and none
// has a dead row, so no index needs cleaning.)
func settleJob(table string, busy *jobTimes) seedJob {
	return seedJob{name: "settle " + table, do: func(ctx context.Context, conn *pgxpool.Conn) error {
		t := time.Now()
		if _, err := conn.Exec(ctx, "ANALYZE "+pgx.Identifier{table}.Sanitize()); err != nil {
			return fmt.Errorf("analyze %s: %w", table, err)
		}
		analyzed := time.Since(t)
		t = time.Now()
		partly, err := notVisible(ctx, conn, []string{table})
		if err != nil {
			return err
		}
		for _, p := range partly {
			if _, err := conn.Exec(ctx, "VACUUM (INDEX_CLEANUP OFF) "+p); err != nil {
				return fmt.Errorf("vacuum %s: %w", p, err)
			}
		}
		busy.add(analyzed, time.Since(t))
		return nil
	}}
}

// jobTimes sums the time settle jobs spent in ANALYZE and in VACUUM.
type jobTimes struct {
	mu              sync.Mutex
	analyze, vacuum time.Duration
}

func (j *jobTimes) add(analyze, vacuum time.Duration) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.analyze += analyze
	j.vacuum += vacuum
}

func (j *jobTimes) get() (analyze, vacuum time.Duration) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.analyze, j.vacuum
}

// seedPhases are how long seedYear's phases took: the loads (until the last
// committed; the first index builds go on beside them), and the index
// builds, ANALYZE and VACUUM left after them; and the time spent in ANALYZE
// and in VACUUM in all, beside the builds.
type seedPhases struct{ load, indexes, analyze, vacuum time.Duration }

// seedConns is how many indexes are built (and tables vacuumed) at once:
// on two cores, a third keeps them busy while the others wait on the disk.
const seedConns = 3

// onConns runs do for each item from next on n connections of pool at
// once, each taking the next item when done, until next is closed; the
// first error stops it.
func onConns[T any](ctx context.Context, pool *pgxpool.Pool, n int, next <-chan T, do func(*pgxpool.Conn, T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for k := range n {
		wg.Go(func() {
			conn, err := pool.Acquire(ctx)
			if err != nil {
				errs[k] = err
				cancel()
				return
			}
			defer conn.Release()
			for {
				var it T
				var ok bool
				select {
				case it, ok = <-next:
				case <-ctx.Done():
					return
				}
				if !ok {
					return
				}
				if err := do(conn, it); err != nil {
					errs[k] = err
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runJobs runs the jobs, seedConns at once, with a progress line each.
func runJobs(ctx context.Context, pool *pgxpool.Pool, jobs <-chan seedJob) error {
	return onConns(ctx, pool, seedConns, jobs, func(conn *pgxpool.Conn, j seedJob) error {
		t := time.Now()
		if err := j.do(ctx, conn); err != nil {
			return err
		}
		benchutil.Progress("  %s in %s", j.name, time.Since(t).Round(time.Millisecond))
		return nil
	})
}

// restoreStmt re-creates one dropped index.
type restoreStmt struct{ name, sql string }

// isPartitioned says whether table is partitioned (declaratively).
func isPartitioned(ctx context.Context, tx pgx.Tx, table string) (bool, error) {
	var p bool
	err := tx.QueryRow(ctx, `SELECT relkind = 'p' FROM pg_class WHERE oid = $1::regclass`, table).Scan(&p)
	return p, err
}

// dropIndexes drops the indexes of tables that no foreign key needs (a
// constraint's index through its constraint) and returns the statements
// that make them again, as the schema has them. A partitioned table's
// index goes with its partitions' (and comes back on all of them).
func dropIndexes(ctx context.Context, tx pgx.Tx, tables []string) ([]restoreStmt, error) {
	rows, err := tx.Query(ctx, `
		SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text, pg_get_indexdef(i.indexrelid),
			coalesce(c.conname, ''), coalesce(pg_get_constraintdef(c.oid), '')
		FROM pg_index i
		LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')
		JOIN pg_class t ON t.oid = i.indrelid AND t.relkind IN ('r', 'p') AND NOT t.relispartition
		WHERE i.indrelid = ANY($1::regclass[])
			AND NOT EXISTS (SELECT FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
		ORDER BY 2, 1`, tables)
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	type index struct{ name, table, def, con, condef string }
	idx, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var x index
		return x, r.Scan(&x.name, &x.table, &x.def, &x.con, &x.condef)
	})
	if err != nil {
		return nil, err
	}
	var restore []restoreStmt
	for _, x := range idx {
		// A partitioned index is shown ON ONLY the parent: made so, it
		// would wait for its partitions' indexes to be attached.
		drop, create := "DROP INDEX "+x.name, strings.Replace(x.def, " ON ONLY ", " ON ", 1)
		if x.con != "" {
			con := pgx.Identifier{x.con}.Sanitize()
			drop = "ALTER TABLE " + x.table + " DROP CONSTRAINT " + con
			create = "ALTER TABLE " + x.table + " ADD CONSTRAINT " + con + " " + x.condef
		}
		if _, err := tx.Exec(ctx, drop); err != nil {
			return nil, fmt.Errorf("%s: %w", drop, err)
		}
		restore = append(restore, restoreStmt{name: x.name, sql: create})
	}
	return restore, nil
}

// timedCopy is copyIn with a progress line.
func timedCopy(ctx context.Context, tx pgx.Tx, table string, cols []string, n int, gen func(c *copyRows, i int)) error {
	partitioned, err := isPartitioned(ctx, tx, table)
	if err != nil {
		return err
	}
	start := time.Now()
	var rows int64
	if partitioned { // PostgreSQL cannot FREEZE a partitioned table, but can its partitions
		rows, err = copyInPartitions(ctx, tx, table, cols, n, gen)
	} else {
		rows, err = copyIn(ctx, tx, table, cols, true, n, gen)
	}
	if err != nil {
		return err
	}
	d := time.Since(start)
	benchutil.Progress("  COPY %s: %d rows in %s (%.0f rows/s)", table, rows, d.Round(time.Millisecond), float64(rows)/d.Seconds())
	return nil
}

func loadOrders(ctx context.Context, tx pgx.Tx, w *world) error {
	var hash []byte
	err := timedCopy(ctx, tx, "orders", []string{"id", "reference", "agency_code", "created_by", "status", "currency", "total",
		"amount_paid", "payer_name", "payer_phone", "description", "expires_at", "created_at", "updated_at", "paid_at",
		"idempotency_key", "request_hash"}, w.n, func(c *copyRows, i int) {
		o := w.order(i)
		c.row(17)
		c.uuid(o.id)
		c.text(o.ref())
		c.text(w.agencies[w.services[o.svc1].agency].code)
		c.uuid(w.portal)
		c.text("paid")
		c.text("VND")
		c.numeric(o.total())
		c.numeric(o.total())
		c.text(o.name())
		c.text(w.phone(i))
		c.text(w.services[o.svc1].name)
		c.ts(o.created.Add(24 * time.Hour))
		c.ts(o.created)
		c.ts(o.paid)
		c.ts(o.paid)
		c.textFrom(func(b []byte) []byte { return strconv.AppendInt(append(b, "year-"...), int64(i), 10) })
		hash = append(hash[:0], byte(i), byte(i>>8), byte(i>>16), byte(i>>24))
		c.bytea(hash)
	})
	if err != nil {
		return err
	}
	err = timedCopy(ctx, tx, "order_lines", []string{"order_id", "line_no", "service_code", "agency_code", "kind", "amount", "order_created_at"},
		w.n, func(c *copyRows, i int) {
			o := w.order(i)
			for k, s := range []int{o.svc1, o.svc2}[:o.lines()] {
				svc := w.services[s]
				c.row(7)
				c.uuid(o.id)
				c.i16(int16(k + 1))
				c.text(svc.code)
				c.text(w.agencies[svc.agency].code)
				c.text(string(svc.kind))
				c.numeric([]int64{o.amount1, o.amount2}[k])
				c.ts(o.created)
			}
		})
	if err != nil {
		return err
	}
	err = timedCopy(ctx, tx, "payment_attempts", []string{"id", "order_id", "gateway", "method", "gateway_ref", "gateway_txn_id",
		"currency", "amount", "status", "outcome", "result_code", "created_by", "created_at", "updated_at", "expires_at", "paid_at",
		"followed_at"}, w.n, func(c *copyRows, i int) {
		o := w.order(i)
		g := gateways[o.gateway]
		if o.failed != uuid.Nil {
			at := o.created.Add(time.Minute)
			c.row(17)
			c.uuid(o.failed)
			c.uuid(o.id)
			c.text(g.name)
			c.text(g.method)
			c.textFrom(func(b []byte) []byte { return strconv.AppendInt(append(b, "Yf"...), int64(i), 36) })
			c.null()
			c.text("VND")
			c.numeric(o.total())
			c.text("failed")
			c.null()
			c.text("24")
			c.text("portal")
			c.ts(at)
			c.ts(at.Add(20 * time.Second))
			c.ts(at.Add(15 * time.Minute))
			c.null()
			c.ts(at)
		}
		at := o.paid.Add(-time.Minute)
		c.row(17)
		c.uuid(o.attempt)
		c.uuid(o.id)
		c.text(g.name)
		c.text(g.method)
		c.textFrom(func(b []byte) []byte { return strconv.AppendInt(append(b, "Yp"...), int64(i), 36) })
		c.text(o.txnID())
		c.text("VND")
		c.numeric(o.total())
		c.text("succeeded")
		c.text("payment")
		c.text("00")
		c.text("portal")
		c.ts(at)
		c.ts(o.paid)
		c.ts(at.Add(15 * time.Minute))
		c.ts(o.paid)
		c.ts(at)
	})
	if err != nil {
		return err
	}
	// Each attempt's key row (migration 00043), which its insert trigger
	// would write: the triggers are off.
	err = timedCopy(ctx, tx, "payment_attempt_keys", []string{"id", "order_id", "gateway", "gateway_ref", "created_at", "status",
		"outcome", "gateway_txn_id"}, w.n, func(c *copyRows, i int) {
		o := w.order(i)
		g := gateways[o.gateway]
		if o.failed != uuid.Nil {
			c.row(8)
			c.uuid(o.failed)
			c.uuid(o.id)
			c.text(g.name)
			c.textFrom(func(b []byte) []byte { return strconv.AppendInt(append(b, "Yf"...), int64(i), 36) })
			c.ts(o.created.Add(time.Minute))
			c.text("failed")
			c.null()
			c.null()
		}
		c.row(8)
		c.uuid(o.attempt)
		c.uuid(o.id)
		c.text(g.name)
		c.textFrom(func(b []byte) []byte { return strconv.AppendInt(append(b, "Yp"...), int64(i), 36) })
		c.ts(o.paid.Add(-time.Minute))
		c.text("succeeded")
		c.text("payment")
		c.text(o.txnID())
	})
	if err != nil {
		return err
	}
	return timedCopy(ctx, tx, "order_events", []string{"id", "order_id", "type", "actor", "data", "created_at"}, w.n,
		func(c *copyRows, i int) {
			o := w.order(i)
			g := gateways[o.gateway]
			c.row(6)
			c.i64(int64(2*i + 1))
			c.uuid(o.id)
			c.text("order.created")
			c.text("key:portal")
			c.jsonbFrom(func(b []byte) []byte { return append(b, "{}"...) })
			c.ts(o.created)
			c.row(6)
			c.i64(int64(2*i + 2))
			c.uuid(o.id)
			c.text("order.paid")
			c.text("system:gateway")
			c.jsonbFrom(func(b []byte) []byte {
				b = append(b, `{"amount":"`...)
				b = strconv.AppendInt(b, o.total(), 10)
				b = append(b, `","gateway":"`...)
				b = append(b, g.name...)
				b = append(b, `","method":"`...)
				b = append(b, g.method...)
				b = append(b, `","attempt_id":"`...)
				b = append(b, o.attempt.String()...)
				b = append(b, `","gateway_txn_id":"`...)
				b = append(b, o.txnID()...)
				return append(b, `"}`...)
			})
			c.ts(o.paid)
		})
}

// accountCodes are the ledger accounts the year posts to: each gateway's
// clearing account and each agency's collected account.
func accountCodes(w *world) []string {
	var codes []string
	for _, g := range gateways {
		codes = append(codes, ledger.GatewayClearing(g.name))
	}
	for _, a := range w.agencies {
		codes = append(codes, ledger.AgencyCollected(a.code))
	}
	return codes
}

func accountKinds(codes []string) []string {
	kinds := make([]string, len(codes))
	for i, c := range codes {
		k, err := ledger.KindOf(c)
		if err != nil {
			panic(err)
		}
		kinds[i] = string(k)
	}
	return kinds
}

// paymentEntry is order o's payment as ledger.PostPayment would record it:
// Dr the gateway's clearing account, Cr each line's agency with its service
// and the attempt's method as channel.
func (w *world) paymentEntry(o *order) ledger.NewEntry {
	g := gateways[o.gateway]
	ps := make([]ledger.Posting, 0, 3)
	ps = append(ps, ledger.Posting{Account: ledger.GatewayClearing(g.name), Direction: ledger.Debit,
		Amount: decimal.NewFromInt(o.total()), Currency: "VND"})
	for k, s := range []int{o.svc1, o.svc2}[:o.lines()] {
		svc := w.services[s]
		ps = append(ps, ledger.Posting{Account: ledger.AgencyCollected(w.agencies[svc.agency].code), Direction: ledger.Credit,
			Amount: decimal.NewFromInt([]int64{o.amount1, o.amount2}[k]), Currency: "VND", ServiceCode: svc.code, Channel: g.method})
	}
	return ledger.NewEntry{Key: "payment:" + o.attempt.String(), Kind: ledger.KindPayment,
		Reference: "order:" + o.id.String() + "/attempt:" + o.attempt.String(), Description: "payment via " + g.name,
		EffectiveAt: o.paid.UTC(), RecordedBy: "system", Postings: ps}
}

func loadLedger(ctx context.Context, tx pgx.Tx, w *world) error {
	var xid int64
	if err := tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&xid); err != nil {
		return err
	}
	// Entry i+1 is order i's payment, recorded by this transaction, and
	// sealed as ledger.Seal would seal it.
	sealer := ledger.NewBulkSealer()
	var seals [][]any
	seal := func(b ledger.SealBatch) {
		seals = append(seals, []any{b.No, b.LastXID, b.LastEntryID, b.Count, b.PrevHash, b.Hash})
	}
	err := timedCopy(ctx, tx, "ledger_entries", []string{"id", "idempotency_key", "kind", "reference", "description",
		"recorded_by", "effective_at", "recorded_at", "xid", "content_hash"}, w.n, func(c *copyRows, i int) {
		o := w.order(i)
		e := w.paymentEntry(&o)
		hash := ledger.ContentHash(e, 0)
		recorded := e.EffectiveAt.Add(40 * time.Millisecond)
		c.row(10)
		c.i64(int64(i + 1))
		c.text(e.Key)
		c.text(string(e.Kind))
		c.text(e.Reference)
		c.text(e.Description)
		c.text(e.RecordedBy)
		c.ts(e.EffectiveAt)
		c.ts(recorded)
		c.i64(xid)
		c.bytea(hash)
		if b, ok := sealer.Add(ledger.Entry{ID: int64(i + 1), Key: e.Key, Kind: e.Kind, Reference: e.Reference,
			Description: e.Description, RecordedBy: e.RecordedBy, EffectiveAt: e.EffectiveAt, RecordedAt: recorded,
			Postings: e.Postings}, xid, hash); ok {
			seal(b)
		}
	})
	if err != nil {
		return err
	}
	if b, ok := sealer.Close(); ok {
		seal(b)
	}
	// Each entry's key row (ledger_entry_keys: an idempotency key unique in
	// every month's partition), as PostMany writes it.
	err = timedCopy(ctx, tx, "ledger_entry_keys", []string{"idempotency_key", "entry_id", "effective_at"}, w.n,
		func(c *copyRows, i int) {
			o := w.order(i)
			c.row(3)
			c.textFrom(func(b []byte) []byte { return append(append(b, "payment:"...), o.attempt.String()...) })
			c.i64(int64(i + 1))
			c.ts(o.paid)
		})
	if err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"ledger_seals"}, []string{"batch_no", "last_xid", "last_entry_id",
		"entry_count", "prev_hash", "hash"}, pgx.CopyFromRows(seals)); err != nil {
		return fmt.Errorf("copy ledger_seals: %w", err)
	}
	err = timedCopy(ctx, tx, "ledger_postings", []string{"entry_id", "leg", "account_code", "currency", "direction", "amount",
		"service_code", "channel", "effective_at", "xid"}, w.n, func(c *copyRows, i int) {
		o := w.order(i)
		g := gateways[o.gateway]
		c.row(10)
		c.i64(int64(i + 1))
		c.i16(1)
		c.text(ledger.GatewayClearing(g.name))
		c.text("VND")
		c.text(string(ledger.Debit))
		c.numeric(o.total())
		c.null()
		c.null()
		c.ts(o.paid)
		c.i64(xid)
		for k, s := range []int{o.svc1, o.svc2}[:o.lines()] {
			svc := w.services[s]
			c.row(10)
			c.i64(int64(i + 1))
			c.i16(int16(k + 2))
			c.text(ledger.AgencyCollected(w.agencies[svc.agency].code))
			c.text("VND")
			c.text(string(ledger.Credit))
			c.numeric([]int64{o.amount1, o.amount2}[k])
			c.text(svc.code)
			c.text(g.method)
			c.ts(o.paid)
			c.i64(xid)
		}
	})
	return err
}

// loadWebhooks writes one order.paid event per order for its one agency; an
// order of two agencies has the full view (no agency) and each agency's own.
func loadWebhooks(ctx context.Context, tx pgx.Tx, w *world) error {
	var seq int64
	return timedCopy(ctx, tx, "webhook_events", []string{"id", "seq", "type", "agency_code", "owner_key_id", "subject", "payload",
		"created_at", "agency_only"}, w.n, func(c *copyRows, i int) {
		o := w.order(i)
		event := func(k int, agency string, only bool) {
			seq++
			c.row(9)
			c.text(eventID(o.paid, i, k))
			c.i64(seq)
			c.text("order.paid")
			if agency == "" {
				c.null()
			} else {
				c.text(agency)
			}
			if only {
				c.null()
			} else {
				c.uuid(w.portal)
			}
			c.text(o.id.String())
			c.textFrom(func(b []byte) []byte { return w.orderView(b, &o, agency) })
			c.ts(o.paid)
			c.boolean(only)
		}
		a1 := w.agencies[w.services[o.svc1].agency].code
		if o.svc2 < 0 {
			event(0, a1, false)
			return
		}
		event(0, "", false)
		event(1, a1, true)
		event(2, w.agencies[w.services[o.svc2].agency].code, true)
	})
}

// orderView appends the order as the API shows it (payments.OrderView) to
// viewer agency ("" for the full view: an agency sees another agency's line
// without its service).
func (w *world) orderView(b []byte, o *order, viewer string) []byte {
	str := func(k, v string) {
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, `":"`...)
		b = append(b, v...)
		b = append(b, `",`...)
	}
	num := func(k string, v int64) {
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, `":"`...)
		b = strconv.AppendInt(b, v, 10)
		b = append(b, `",`...)
	}
	at := func(k string, t time.Time) { str(k, t.UTC().Format(time.RFC3339Nano)) }
	b = append(b, '{')
	str("id", o.id.String())
	str("reference", o.ref())
	str("agency", w.agencies[w.services[o.svc1].agency].code)
	str("status", "paid")
	str("currency", "VND")
	num("total", o.total())
	num("amount_paid", o.total())
	num("amount_refunded", 0)
	num("amount_refund_pending", 0)
	b = append(b, `"lines":[`...)
	for k, s := range []int{o.svc1, o.svc2}[:o.lines()] {
		svc := w.services[s]
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"line_no":`...)
		b = strconv.AppendInt(b, int64(k+1), 10)
		b = append(b, ',')
		agency := w.agencies[svc.agency].code
		if viewer == "" || viewer == agency {
			str("service", svc.code)
			str("kind", string(svc.kind))
			num("amount_refunded", 0)
		}
		str("agency", agency)
		b = append(b, `"amount":"`...)
		b = strconv.AppendInt(b, []int64{o.amount1, o.amount2}[k], 10)
		b = append(b, `"}`...)
	}
	b = append(b, `],"payer":{"name":"`...)
	b = append(b, o.name()...)
	b = append(b, `","phone":"`...)
	b = append(b, w.phone(o.i)...)
	b = append(b, `"},`...)
	str("description", w.services[o.svc1].name)
	b = append(b, `"metadata":{},`...)
	at("expires_at", o.created.Add(24*time.Hour))
	at("created_at", o.created)
	at("updated_at", o.paid)
	at("paid_at", o.paid)
	b = append(b, `"pay_url":"https://pay.civicpay.gov.vn/pay/`...)
	b = append(b, o.ref()...)
	return append(b, `"}`...)
}
