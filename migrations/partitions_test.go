package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/migrations"
)

// beforePartitions is the last version before the partitioning migrations.
const beforePartitions = 31

// seedUnpartitioned writes rows in every table the partitioning migrations
// convert, while they are still plain tables, in months years apart (and
// one at the edge of a month: 2024-11-30 20:00 UTC is December in Vietnam).
const seedUnpartitioned = `
INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total, payer_name, description,
    expires_at, created_at, idempotency_key, request_hash)
SELECT ('00000000-0000-0000-0000-00000000000' || n)::uuid, 'RF' || n, 'AG-A', '00000000-0000-0000-0000-0000000000aa',
    'open', 'VND', 1000, 'P', 'D', at + interval '1 day', at, 'k' || n, '\x00'
FROM (VALUES (1, timestamptz '2019-03-10 10:00+07'), (2, '2024-11-30 20:00+00'), (3, now())) v(n, at);
INSERT INTO order_events (order_id, type, actor, data, created_at)
SELECT id, t, 'test', '{}', created_at + d
FROM orders, (VALUES ('order.created', interval '0'), ('order.cancelled', interval '1 hour')) e(t, d);
INSERT INTO agencies (code, name, treasury_account) VALUES ('AG-A', 'A', 'T-1');
INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, gateway_txn_id, currency, amount, status, outcome,
    created_by, created_at, updated_at, expires_at, paid_at)
SELECT ('00000000-0000-0000-0000-0000000001' || s || right(id::text, 1))::uuid, id, 'vnpay', 'card', 'R' || s || reference,
    CASE s WHEN 1 THEN 'T' || reference END, 'VND', 1000, CASE s WHEN 1 THEN 'succeeded' ELSE 'failed' END,
    CASE s WHEN 1 THEN 'payment' END, 'test', created_at + s * interval '1 minute', created_at, created_at + interval '15 minutes',
    CASE s WHEN 1 THEN created_at END
FROM orders, generate_series(1, 2) s;
INSERT INTO payment_refunds (id, order_id, attempt_id, kind, currency, amount, status, reason, requested_by, created_at, updated_at)
SELECT ('00000000-0000-0000-0000-0000000002' || right(order_id::text, 2))::uuid, order_id, id, 'refund', 'VND', 100, 'requested',
    'r', 'test', created_at, created_at
FROM payment_attempts WHERE status = 'succeeded';
INSERT INTO webhook_endpoints (id, agency_code, url, event_types, secret)
VALUES ('00000000-0000-0000-0000-0000000000e1', 'AG-A', 'http://127.0.0.1:1/', '{order.paid}', 's');
INSERT INTO webhook_events (id, type, agency_code, subject, payload, created_at)
SELECT 'msg_' || left(md5(id::text), 26), 'order.paid', 'AG-A', id::text, '{}', created_at FROM orders;
INSERT INTO webhook_deliveries (endpoint_id, event_id, state)
SELECT '00000000-0000-0000-0000-0000000000e1', id, 'succeeded' FROM webhook_events;
INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, status_code, latency_ms, outcome)
SELECT d.id, d.endpoint_id, e.created_at + r * interval '1 minute', 200, 5, 'succeeded'
FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id, generate_series(1, 2) r;
INSERT INTO recon_files (id, sha256, kind, size, chunks, source, received_by, status, loaded_at, received_at,
    gateway, settlement_file_id, business_date, revision)
SELECT n, sha256(n::text::bytea), 'settlement.vnpay', 10, 1, 'upload', 'test', 'loaded', at, at, 'vnpay', 'F' || n, at::date, 1
FROM (VALUES (1, timestamptz '2019-03-10 10:00+07'), (2, '2024-11-30 20:00+00'), (3, now())) v(n, at);
INSERT INTO recon_settlement_lines (file_id, line, gateway_txn_id, reference, type, gross, fee, net, currency, at)
SELECT f.id, g, 'T' || g, 'R' || g, 'payment', 1000, 10, 990, 'VND', f.received_at FROM recon_files f, generate_series(1, 3) g;
INSERT INTO recon_bank_entries (file_id, stmt_seq, entry_seq, entry_key, account, amount, currency, credit, reversal, status, booking_date)
SELECT f.id, 1, g, 'k' || f.id || '-' || g, 'ACC', 990, 'VND', true, false, 'BOOK', f.business_date FROM recon_files f, generate_series(1, 2) g;
INSERT INTO ledger_accounts (code, kind, currency) VALUES ('suspense', 'liability', 'VND'), ('agency:AG-A:collected', 'liability', 'VND');
INSERT INTO ledger_entries (idempotency_key, kind, reference, description, recorded_by, effective_at, content_hash)
SELECT 'e' || n, 'adjustment', '', '', 'test', at, sha256(n::text::bytea)
FROM (VALUES (1, timestamptz '2019-03-10 10:00+07'), (2, '2024-11-30 20:00+00'), (3, now())) v(n, at);
INSERT INTO ledger_entries (idempotency_key, kind, reference, description, recorded_by, reverses, effective_at, content_hash)
SELECT 'r1', 'reversal', '', '', 'test', id, now(), sha256('r1') FROM ledger_entries WHERE idempotency_key = 'e1';
INSERT INTO ledger_postings (entry_id, leg, account_code, currency, direction, amount, service_code, channel)
SELECT e.id, l, a, 'VND', d, 100 * e.id, s, c FROM ledger_entries e,
    (VALUES (1, 'suspense', 'debit', NULL, NULL), (2, 'agency:AG-A:collected', 'credit', 'A-FEE', 'card')) v(l, a, d, s, c);
`

// converted are the tables the partitioning migrations convert, with their
// range key and their identity column (if any).
var converted = []struct{ table, key, id, cols string }{
	{"order_events", "created_at", "id", "t.*"},
	{"webhook_attempts", "attempted_at", "id", "t.*"},
	{"webhook_events", "created_at", "seq", "t.*"},
	{"ledger_postings", "effective_at", "", "t.*"},
	{"ledger_entries", "effective_at", "", "t.*"}, // its identity: checked apart (an entry needs its postings)
	{"payment_attempts", "created_at", "", "t.*"},
	// The staging tables gain staged_at: the rest of each row is kept.
	{"recon_settlement_lines", "staged_at", "", "(file_id, line, gateway_txn_id, reference, type, gross, fee, net, currency, at)"},
	{"recon_bank_entries", "staged_at", "", `(file_id, stmt_seq, entry_seq, entry_key, account, amount, currency, credit, reversal,
		status, booking_date, booked_at, acct_svcr_ref, end_to_end_id, remittance, settlement_file_id, payment_ref)`},
}

// Every row is in the partition of its month, as <table>_pYYYYMM.
func checkInMonthPartitions(t *testing.T, pool *pgxpool.Pool, table, key string) {
	t.Helper()
	var wrong, total int
	err := pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE tableoid::regclass::text <> '`+table+`_p' ||
		to_char(`+key+` AT TIME ZONE INTERVAL '+07:00', 'YYYYMM')), count(*) FROM `+table).Scan(&wrong, &total)
	if err != nil {
		t.Fatal(err)
	}
	if wrong != 0 || total == 0 {
		t.Fatalf("%s: %d of %d rows outside their month's partition", table, wrong, total)
	}
}

func isPartitioned(t *testing.T, pool *pgxpool.Pool, table string) bool {
	t.Helper()
	var kind string
	if err := pool.QueryRow(context.Background(), `SELECT relkind::text FROM pg_class WHERE oid = $1::regclass`, table).Scan(&kind); err != nil {
		t.Fatal(err)
	}
	return kind == "p"
}

// The partitioning migrations convert tables that hold rows: every row is
// copied into its month's partition with its id, identities continue after
// the highest id, and going down copies them back into plain tables.
func TestPartitioningConvertsTablesWithRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := db.Open(ctx, pgtest.NewEmpty(t), db.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool, quiet); err != nil {
		t.Fatal(err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS(), goose.WithAllowOutofOrder(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, beforePartitions); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, seedUnpartitioned); err != nil {
		t.Fatal(err)
	}
	// Each table's rows as one digest, and its highest id.
	type state struct {
		digest string
		maxID  int64
	}
	read := func() map[string]state {
		out := map[string]state{}
		for _, c := range converted {
			var s state
			maxID := "0::bigint"
			if c.id != "" {
				maxID = "max(" + c.id + ")"
			}
			if err := pool.QueryRow(ctx, `SELECT md5(string_agg(`+c.cols+`::text, ',' ORDER BY `+c.cols+`::text)), coalesce(`+maxID+`, 0) FROM `+c.table+` t`).
				Scan(&s.digest, &s.maxID); err != nil {
				t.Fatal(err)
			}
			out[c.table] = s
		}
		return out
	}
	same := func(when string, before map[string]state) {
		t.Helper()
		after := read()
		for _, c := range converted {
			if after[c.table] != before[c.table] {
				t.Fatalf("%s: %s rows differ: %+v, before %+v", when, c.table, after[c.table], before[c.table])
			}
		}
	}
	// The next row of each table with an identity gets the id after the highest.
	nextIDs := func(when string, before map[string]state) {
		t.Helper()
		for _, c := range converted {
			if c.id == "" {
				continue
			}
			cols := insertOne[c.table]
			var id int64
			if err := pool.QueryRow(ctx, cols).Scan(&id); err != nil || id != before[c.table].maxID+1 {
				t.Fatalf("%s: next %s id %d (%v), want %d", when, c.table, id, err, before[c.table].maxID+1)
			}
		}
	}
	// The entries' identity goes on after the highest id.
	entryIDs := func(when string) {
		t.Helper()
		var next, highest int64
		if err := pool.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('ledger_entries', 'id')), (SELECT max(id) FROM ledger_entries)`).
			Scan(&next, &highest); err != nil || next <= highest {
			t.Fatalf("%s: next entry id %d (%v), highest %d", when, next, err, highest)
		}
	}
	before := read()

	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up over rows: %v", err)
	}
	for _, c := range converted {
		if !isPartitioned(t, pool, c.table) {
			t.Fatalf("%s is not partitioned after up", c.table)
		}
		checkInMonthPartitions(t, pool, c.table, c.key)
	}
	same("after up", before)
	nextIDs("after up", before)
	// Every entry is in ledger_entry_keys, with its id, key, time and reversal.
	var missing int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_entries e FULL JOIN ledger_entry_keys k ON k.entry_id = e.id
		WHERE e.id IS NULL OR k.entry_id IS NULL OR k.idempotency_key <> e.idempotency_key OR k.effective_at <> e.effective_at
			OR k.reverses IS DISTINCT FROM e.reverses`).Scan(&missing); err != nil || missing != 0 {
		t.Fatalf("%d entries and key rows that do not match (%v)", missing, err)
	}
	entryIDs("after up")
	// Every attempt is in payment_attempt_keys, with its order, reference,
	// time and what the unique rules read; the refunds refer to it there.
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM payment_attempts a FULL JOIN payment_attempt_keys k ON k.id = a.id
		WHERE a.id IS NULL OR k.id IS NULL OR (a.order_id, a.gateway, a.gateway_ref, a.created_at, a.status) IS DISTINCT FROM
			(k.order_id, k.gateway, k.gateway_ref, k.created_at, k.status)
			OR a.outcome IS DISTINCT FROM k.outcome OR a.gateway_txn_id IS DISTINCT FROM k.gateway_txn_id`).Scan(&missing); err != nil || missing != 0 {
		t.Fatalf("%d attempts and key rows that do not match (%v)", missing, err)
	}
	var refunds int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM payment_refunds r JOIN payment_attempt_keys k ON k.id = r.attempt_id`).
		Scan(&refunds); err != nil || refunds != 3 {
		t.Fatalf("%d refunds of key rows (%v), want 3", refunds, err)
	}
	// Every event's id is in the key table, which the deliveries refer to.
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_events e FULL JOIN webhook_event_ids k USING (id, created_at)
		WHERE e.id IS NULL OR k.id IS NULL`).Scan(&missing); err != nil || missing != 0 {
		t.Fatalf("%d events and event ids that do not match (%v)", missing, err)
	}
	// The ledger's triggers hold on the new tables: a posting is not changed.
	if _, err := pool.Exec(ctx, `UPDATE ledger_postings SET amount = amount + 1`); err == nil {
		t.Fatal("a posting was updated after the conversion")
	}
	// Rows already staged take their file's loaded_at as staged_at.
	var wrong int
	for _, table := range []string{"recon_settlement_lines", "recon_bank_entries"} {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+table+` t JOIN recon_files f ON f.id = t.file_id
			WHERE t.staged_at <> f.loaded_at`).Scan(&wrong); err != nil || wrong != 0 {
			t.Fatalf("%s: %d rows staged_at other than their file's loaded_at (%v)", table, wrong, err)
		}
	}
	before = read()

	if _, err := p.DownTo(ctx, beforePartitions); err != nil {
		t.Fatalf("down over rows: %v", err)
	}
	for _, c := range converted {
		if isPartitioned(t, pool, c.table) {
			t.Fatalf("%s still partitioned after down", c.table)
		}
	}
	same("after down", before)
	nextIDs("after down", before)
	entryIDs("after down")
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	for _, c := range converted {
		checkInMonthPartitions(t, pool, c.table, c.key)
	}
}

// insertOne writes one more row of a converted table, answering its id.
var insertOne = map[string]string{
	"order_events": `INSERT INTO order_events (order_id, type, actor) SELECT id, 'x', 'test' FROM orders LIMIT 1 RETURNING id`,
	"webhook_attempts": `INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, latency_ms, outcome)
		SELECT id, endpoint_id, now(), 1, 'failed' FROM webhook_deliveries LIMIT 1 RETURNING id`,
	"webhook_events": `INSERT INTO webhook_events (id, type, payload, created_at)
		VALUES ('msg_' || left(md5(random()::text), 26), 'order.paid', '{}', now()) RETURNING seq`,
}
