package main

import (
	"context"
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

// seedYear loads the year in two transactions at once, each on its own
// connection: the orders with their lines, attempts and history, and the
// ledger (an entry and its postings per payment) with the webhook events.
//
// Each transaction loads as one would restore a dump: with the triggers off
// (session_replication_role = replica: the ledger's stamp and balance
// triggers, the foreign keys' checks), its tables truncated first so that
// COPY may FREEZE them (rows written frozen and all-visible, as VACUUM would
// leave them: index-only scans work at once, and no later pass rewrites
// every page), and the indexes built after the rows, by sorting, rather
// than kept up row by row. What the triggers would have checked holds by
// construction — each entry balances, its postings carry its xid and
// effective time, its content hash is ledger.ContentHash, its seal batch
// ledger.BulkSealer's — and the ledger is checked afterwards by
// ledger.Verify.
func seedYear(ctx context.Context, pool *pgxpool.Pool, w *world) error {
	codes := accountCodes(w)
	if _, err := pool.Exec(ctx, `INSERT INTO ledger_accounts (code, kind, currency, created_at)
		SELECT c, k, 'VND', $3 FROM unnest($1::text[], $2::text[]) AS t(c, k)`, codes, accountKinds(codes), w.start); err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	// The year's month partitions (the partitioned tables would otherwise
	// hold it in their DEFAULT partitions), as the partitions job makes
	// them ahead in a running service.
	if _, err := pool.Exec(ctx, `SELECT p.* FROM partitioned_tables t,
		partition_ensure(t.parent::text, date_trunc('month', $1::timestamptz AT TIME ZONE INTERVAL '+07:00')::date, 14) p`, w.start); err != nil {
		return fmt.Errorf("partitions of the year: %w", err)
	}
	loads := []struct {
		name     string
		truncate []string // truncated together: a table that references one of them must be in the same TRUNCATE
		load     func(ctx context.Context, tx pgx.Tx, w *world) error
	}{
		{"orders", []string{"orders", "order_lines", "payment_attempts", "order_events", "payment_refunds", "payment_refund_lines"}, loadOrders},
		{"ledger and webhooks", []string{"ledger_entries", "ledger_entry_keys", "ledger_postings", "ledger_entry_requests", "ledger_seals", "webhook_events",
			"webhook_deliveries", "webhook_attempts"}, loadLedger},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(loads))
	for k, l := range loads {
		wg.Go(func() {
			start := time.Now()
			errs[k] = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				for _, s := range []string{
					`SET LOCAL session_replication_role = replica`,
					`SET LOCAL maintenance_work_mem = '512MB'`,
					`SET LOCAL synchronous_commit = off`,
					`TRUNCATE ` + strings.Join(l.truncate, ", ") + ` RESTART IDENTITY`,
				} {
					if _, err := tx.Exec(ctx, s); err != nil {
						return fmt.Errorf("%s: %w", s, err)
					}
				}
				restore, err := dropIndexes(ctx, tx, l.truncate)
				if err != nil {
					return err
				}
				if err := l.load(ctx, tx, w); err != nil {
					return err
				}
				for _, r := range restore {
					t := time.Now()
					if _, err := tx.Exec(ctx, r.sql); err != nil {
						return fmt.Errorf("%s: %w", r.sql, err)
					}
					benchutil.Progress("  index %s in %s", r.name, time.Since(t).Round(time.Millisecond))
				}
				return nil
			})
			if errs[k] != nil {
				errs[k] = fmt.Errorf("seed %s: %w", l.name, errs[k])
			} else {
				benchutil.Progress("seeded %s in %s", l.name, time.Since(start).Round(time.Second))
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	// The identities continue after the seeded rows.
	if _, err := pool.Exec(ctx, `
		SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), (SELECT max(id) FROM ledger_entries)),
			setval(pg_get_serial_sequence('order_events', 'id'), (SELECT max(id) FROM order_events)),
			setval(pg_get_serial_sequence('webhook_events', 'seq'), (SELECT max(seq) FROM webhook_events))`); err != nil {
		return fmt.Errorf("identities: %w", err)
	}
	start := time.Now()
	for _, t := range []string{"orders", "order_lines", "payment_attempts", "order_events", "ledger_accounts", "ledger_entries",
		"ledger_postings", "webhook_events"} {
		if _, err := pool.Exec(ctx, "ANALYZE "+t); err != nil {
			return fmt.Errorf("analyze %s: %w", t, err)
		}
	}
	benchutil.Progress("ANALYZE in %s", time.Since(start).Round(time.Millisecond))
	return nil
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
// that make them again, as the schema has them. A partitioned table keeps
// its indexes (a partitioned index is made of its partitions' indexes).
func dropIndexes(ctx context.Context, tx pgx.Tx, tables []string) ([]restoreStmt, error) {
	rows, err := tx.Query(ctx, `
		SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text, pg_get_indexdef(i.indexrelid),
			coalesce(c.conname, ''), coalesce(pg_get_constraintdef(c.oid), '')
		FROM pg_index i
		LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')
		JOIN pg_class t ON t.oid = i.indrelid AND t.relkind = 'r' AND NOT t.relispartition
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
		drop, create := "DROP INDEX "+x.name, x.def
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
	rows, err := copyIn(ctx, tx, table, cols, !partitioned, n, gen) // PostgreSQL cannot FREEZE a partitioned table
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
	if _, err := tx.Exec(ctx, `INSERT INTO ledger_entry_keys (idempotency_key, entry_id, effective_at)
		SELECT idempotency_key, id, effective_at FROM ledger_entries`); err != nil {
		return fmt.Errorf("ledger entry keys: %w", err)
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
	if err != nil {
		return err
	}
	// One order.paid event per order for its one agency; an order of two
	// agencies has the full view (no agency) and each agency's own.
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
