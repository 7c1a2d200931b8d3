package payments

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/groupcommit"
)

// creator writes new orders with group commit: orders that arrive while a write
// is in flight are queued and go to PostgreSQL together, in one statement and one
// transaction (sql/create_orders.sql). With no contention a batch is one order and costs
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

// write writes a batch of orders in one statement, createOrdersSQL, which
// applies every idempotency rule (a later request with the same client and
// key in the same batch is a concurrent duplicate, answered busy). If the
// statement fails (a duplicate committed meanwhile, a reference collision),
// the batch rolled back whole and groupcommit writes each order alone, where
// every case has its own answer.
func (c *creator) write(ctx context.Context, batch []createJob) ([]groupcommit.Result[createResult], error) {
	if len(batch) == 1 {
		out := make([]groupcommit.Result[createResult], 1)
		out[0].Value, out[0].Err = c.single(ctx, batch[0])
		return out, nil
	}
	res, err := c.run(ctx, batch)
	if err != nil {
		return nil, err
	}
	out := make([]groupcommit.Result[createResult], len(batch))
	for i := range res {
		out[i].Value = res[i]
	}
	return out, nil
}

// single writes one order alone. It is idempotent — the client's
// Idempotency-Key finds an order already written — so it runs again where
// PostgreSQL says it may (db.Retry), even after a connection lost with the
// statement in flight: a write that did land is then answered as a replay.
// It also runs again when an order with the same key was committed between
// the statement's snapshot and its advisory lock (the insert fails on the
// key's unique index): the next snapshot sees that order.
func (c *creator) single(ctx context.Context, j createJob) (createResult, error) {
	var r createResult
	err := db.Retry(ctx, "orders.create", func(ctx context.Context) error {
		for race := 0; ; race++ {
			res, err := c.run(ctx, []createJob{j})
			if keyRace(err) && race < 3 {
				continue
			}
			if err != nil {
				return err
			}
			r = res[0]
			return nil
		}
	})
	return r, err
}

// keyRace reports whether err is the insert of an order meeting an order with
// the same client and key that the statement's snapshot did not see.
func keyRace(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" /* unique_violation */ && pgErr.ConstraintName == "orders_idempotency_key"
}

// run writes jobs with createOrdersSQL and returns their answers in order.
func (c *creator) run(ctx context.Context, jobs []createJob) ([]createResult, error) {
	rows, err := c.pool.Query(ctx, createOrdersSQL, batchArgs(jobs)...)
	if err != nil {
		return nil, fmt.Errorf("create %d orders: %w", len(jobs), err)
	}
	defer rows.Close()
	out := make([]createResult, len(jobs))
	n := 0
	for rows.Next() {
		var (
			idx int64
			id  *uuid.UUID
		)
		var r createResult
		if err := rows.Scan(&idx, &r.outcome, &id); err != nil {
			return nil, fmt.Errorf("create %d orders: %w", len(jobs), err)
		}
		if id != nil {
			r.id = *id
		}
		if idx >= 1 && int(idx) <= len(jobs) {
			out[idx-1] = r
			n++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("create %d orders: %w", len(jobs), err)
	}
	if n != len(jobs) {
		return nil, fmt.Errorf("create %d orders: %d answers", len(jobs), n)
	}
	return out, nil
}

// createOrdersSQL writes N orders (N = 1 for one alone) and decides each
// one's idempotency outcome: the only place that rule lives.
//
//go:embed sql/create_orders.sql
var createOrdersSQL string

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
