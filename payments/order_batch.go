package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/groupcommit"
)

// creator writes new orders with group commit: orders that arrive while a write
// is in flight are queued and go to PostgreSQL together, in one statement and one
// transaction (create_orders). With no contention a batch is one order and costs
// what a single create does; under load a batch amortises the round trip, the
// commit and the per-statement work over many orders. Each caller still gets its
// answer only after the transaction holding its order has committed.
type creator struct {
	pool  *pgxpool.Pool
	queue *groupcommit.Queue[createJob, createResult]
}

type createJob struct {
	o     *Order
	actor string
	key   string
	hash  []byte
}

type createResult struct {
	outcome string
	id      uuid.UUID
}

// writers is how many batches of orders (or of gateway results, or of
// attempts) may be in flight at once. Fewer writers make bigger batches: on
// two cores 2 beat 1, 4 and 8 (cmd/benchorders: 8,200 orders/s with 2, 7,980
// with 1, about 6,000-7,000 with 4 or 8; measured when the batch still went
// through the create_orders function).
const writers = 2

// newCreator starts the order writers; close stops them.
func newCreator(pool *pgxpool.Pool, log *slog.Logger, cfg Config) *creator {
	c := &creator{pool: pool}
	c.queue = groupcommit.New(queueOptions("orders", 64, log, cfg), c.write)
	return c
}

// queueOptions are the options of the group-commit queue named name.
func queueOptions(name string, maxBatch int, log *slog.Logger, cfg Config) groupcommit.Options {
	o := groupcommit.Options{Name: name, Writers: writers, MaxBatch: maxBatch, Timeout: cfg.BatchTimeout, Log: log}
	if cfg.OnBatch != nil {
		o.OnBatch = func(n int) { cfg.OnBatch(name, n) }
	}
	return o
}

// create queues an order and waits for its outcome. An error wrapping
// groupcommit.ErrOutcomeUnknown (the caller's context ended while its batch
// was written) leaves the order written or not: a retry with the same
// Idempotency-Key and request then gets it back, or creates it.
func (c *creator) create(ctx context.Context, o *Order, actor, key string, hash []byte) (string, uuid.UUID, error) {
	r, err := c.queue.Do(ctx, createJob{o: o, actor: actor, key: key, hash: hash})
	return r.outcome, r.id, err
}

// write writes a batch of orders in one statement. Two requests with the same
// client and key in one batch: the later one is a concurrent duplicate,
// answered as in flight. If the statement fails (a duplicate committed
// meanwhile, a reference collision), the batch rolled back whole and
// groupcommit writes each order alone, where every case has its own answer.
func (c *creator) write(ctx context.Context, batch []createJob) ([]groupcommit.Result[createResult], error) {
	out := make([]groupcommit.Result[createResult], len(batch))
	if len(batch) == 1 {
		out[0].Value, out[0].Err = c.single(ctx, batch[0])
		return out, nil
	}
	seen := make(map[string]bool, len(batch))
	jobs, at := batch[:0:0], make([]int, 0, len(batch))
	for i, j := range batch {
		k := j.o.CreatedBy.String() + ":" + j.key
		if seen[k] {
			out[i].Value.outcome = "busy"
			continue
		}
		seen[k] = true
		jobs, at = append(jobs, j), append(at, i)
	}
	if len(jobs) == 1 {
		out[at[0]].Value, out[at[0]].Err = c.single(ctx, jobs[0])
		return out, nil
	}
	rows, err := c.pool.Query(ctx, createOrdersSQL, batchArgs(jobs)...)
	if err != nil {
		return nil, fmt.Errorf("create %d orders: %w", len(jobs), err)
	}
	n := 0
	for rows.Next() {
		var idx int64
		var r createResult
		if err := rows.Scan(&idx, &r.outcome, &r.id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("create %d orders: %w", len(jobs), err)
		}
		if idx >= 1 && int(idx) <= len(jobs) {
			out[at[idx-1]].Value = r
			n++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("create %d orders: %w", len(jobs), err)
	}
	if n != len(jobs) {
		return nil, fmt.Errorf("create %d orders: %d answers", len(jobs), n)
	}
	return out, nil
}

// single writes one order alone. It is idempotent — the client's
// Idempotency-Key finds an order already written — so it runs again where
// PostgreSQL says it may (db.Retry), even after a connection lost with the
// statement in flight: a write that did land is then answered as a replay.
func (c *creator) single(ctx context.Context, j createJob) (createResult, error) {
	var r createResult
	err := db.Retry(ctx, "orders.create", func(ctx context.Context) error {
		var id *uuid.UUID
		err := c.pool.QueryRow(ctx, createOrderSQL, createOrderArgs(j.o, j.actor, j.key, j.hash)...).Scan(&r.outcome, &id)
		if id != nil {
			r.id = *id
		}
		return err
	})
	return r, err
}

// createOrdersSQL writes a batch as one statement, which pgx prepares once per
// connection and PostgreSQL keeps the plan of (the create_orders SQL function
// it replaces was parsed and planned again on every call; migrations/00006).
// Idempotency keys are read with the statement's snapshot, taken before the
// advisory locks: a duplicate committed in between makes the order insert fail
// on the key's unique index, the batch rolls back whole, and write retries each
// order alone through create_order, whose reads follow its lock.
const createOrdersSQL = `
WITH input AS MATERIALIZED (
    SELECT t.*, pg_try_advisory_xact_lock(hashtextextended(t.client::text || ':' || t.key, 0)) AS locked
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::numeric[], $7::text[], $8::bytea[],
                $9::text[], $10::text[], $11::text[], $12::text[], $13::jsonb[], $14::timestamptz[], $15::timestamptz[],
                $16::text[], $17::jsonb[], $18::text[], $19::bytea[], $26::bytea[], $27::text[])
         WITH ORDINALITY AS t(id, ref, agency, client, currency, total, payer_name, national_id_enc, email, phone,
                              description, return_url, metadata, expires_at, created_at, actor, event_data, key, hash,
                              national_id_hash, national_id_masked, idx)
), decided AS MATERIALIZED (
    SELECT i.*, k.request_hash AS stored_hash, k.order_id AS stored_order
    FROM input i LEFT JOIN LATERAL (
        -- OFFSET 0 keeps this a lookup by key per order: the plan is generic (kept
        -- across calls) and must not turn into a scan of the whole table.
        SELECT request_hash, id AS order_id FROM orders k
        WHERE k.created_by = i.client AND k.idempotency_key = i.key OFFSET 0) k ON true
), fresh AS MATERIALIZED (
    SELECT * FROM decided WHERE locked AND stored_order IS NULL
), ins_orders AS (
    INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total, payer_name,
        payer_national_id_enc, payer_national_id_hash, payer_national_id_masked,
        payer_email, payer_phone, description, return_url, metadata, expires_at, created_at, updated_at,
        idempotency_key, request_hash)
    SELECT id, ref, agency, client, 'open', currency, total, payer_name,
        national_id_enc, national_id_hash, nullif(national_id_masked, ''), nullif(email, ''),
        nullif(phone, ''), description, nullif(return_url, ''), metadata, expires_at, created_at, created_at, key, hash
    FROM fresh
), ins_lines AS (
    INSERT INTO order_lines (order_id, line_no, service_code, agency_code, kind, amount)
    SELECT l.* FROM unnest($20::uuid[], $21::smallint[], $22::text[], $23::text[], $24::text[], $25::numeric[])
        AS l(order_id, n, s, a, k, amt)
    WHERE l.order_id IN (SELECT id FROM fresh)
), ins_events AS (
    INSERT INTO order_events (order_id, type, actor, data, created_at)
    SELECT id, 'order.created', actor, event_data, created_at FROM fresh
)
SELECT idx,
       CASE WHEN NOT locked THEN 'busy'
            WHEN stored_order IS NULL THEN 'created'
            WHEN stored_hash = hash THEN 'replay'
            ELSE 'mismatch' END,
       coalesce(stored_order, id)
FROM decided -- the INSERTs above run to completion whether or not this reads them
ORDER BY idx`

func batchArgs(jobs []createJob) []any {
	n := len(jobs)
	var (
		ids, clients                 = make([]uuid.UUID, n), make([]uuid.UUID, n)
		refs, agencies, currencies   = make([]string, n), make([]string, n), make([]string, n)
		names, masks, emails, phones = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		nidsSealed, nidsHashed       = make([][]byte, n), make([][]byte, n)
		descs, returns, actors, keys = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		totals                       = make([]decimal.Decimal, n)
		metas, events                = make([]json.RawMessage, n), make([]json.RawMessage, n)
		expires, created             = make([]any, n), make([]any, n)
		hashes                       = make([][]byte, n)
		lOrders                      []uuid.UUID
		lNos                         []int16
		lServices, lAgencies, lKinds []string
		lAmounts                     []decimal.Decimal
	)
	for i, j := range jobs {
		o := j.o
		ids[i], clients[i], refs[i], agencies[i], currencies[i] = o.ID, o.CreatedBy, o.Reference, o.AgencyCode, o.Currency
		names[i], emails[i], phones[i] = o.Payer.Name, o.Payer.Email, o.Payer.Phone
		nidsSealed[i], nidsHashed[i], masks[i] = o.sealedNationalID, o.nationalIDHash, o.maskedNationalID
		descs[i], returns[i], actors[i], keys[i] = o.Description, o.ReturnURL, j.actor, j.key
		totals[i], hashes[i] = o.Total, j.hash
		metas[i], _ = json.Marshal(o.Metadata)
		events[i] = createdEvent(o)
		expires[i], created[i] = o.ExpiresAt, o.CreatedAt
		for _, l := range o.Lines {
			lOrders = append(lOrders, o.ID)
			lNos = append(lNos, int16(l.No))
			lServices = append(lServices, l.ServiceCode)
			lAgencies = append(lAgencies, l.AgencyCode)
			lKinds = append(lKinds, l.Kind)
			lAmounts = append(lAmounts, l.Amount)
		}
	}
	return []any{ids, refs, agencies, clients, currencies, totals, names, nidsSealed, emails, phones, descs, returns,
		metas, expires, created, actors, events, keys, hashes, lOrders, lNos, lServices, lAgencies, lKinds, lAmounts,
		nidsHashed, masks}
}

func createdEvent(o *Order) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"total":"%s","currency":"%s"}`, o.Total, o.Currency))
}
