package payments

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/groupcommit"
	"github.com/civicpay/civicpay/ledger"
)

// recorder records gateway results with group commit, as creator does for
// orders: results that arrive while a batch is being written wait and go
// together into the next transaction, which locks all their orders and
// attempts in one round trip, decides each result exactly as RecordResult
// does alone, and writes the payments' ledger entries and notifications in
// one statement each. Every caller is answered only after that transaction
// committed.
//
// What a batch does not take (a second result for an attempt or an order
// already in it, an overpayment, whose refund job needs the transaction to
// itself) is recorded alone after the batch commits, with the batch's
// changes visible to it. If the batch fails, every result in it is recorded
// alone: nothing of a failed batch is written, so nothing is recorded twice.
type recorder struct {
	flow  *Flow
	queue *groupcommit.Queue[*recordJob]
}

type recordJob struct {
	gateway string
	r       gateways.Result
	actor   string
	res     chan recordResult
}

type recordResult struct {
	ack gateways.Ack
	err error
}

func newRecorder(f *Flow) *recorder {
	rc := &recorder{flow: f}
	rc.queue = groupcommit.New(writers, 32, observed("results", f.svc.cfg.OnBatch, rc.write))
	return rc
}

// record queues a result and waits for its acknowledgement.
func (rc *recorder) record(ctx context.Context, gateway string, r gateways.Result, actor string) (gateways.Ack, error) {
	j := &recordJob{gateway: gateway, r: r, actor: actor, res: make(chan recordResult, 1)}
	if err := rc.queue.Add(ctx, j); err != nil {
		return gateways.AckError, err
	}
	// Once queued the result is recorded whatever happens to the caller: wait
	// for the answer, so that the acknowledgement is the truth.
	res := <-j.res
	return res.ack, res.err
}

type attemptKey struct{ gateway, ref string }

// batchTimeout bounds the writing of one batch and of each result recorded
// alone after it, so that a stuck database cannot hold callers forever.
const batchTimeout = time.Minute

func (rc *recorder) write(jobs []*recordJob) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	// One result per attempt reference in a batch; repeats (a gateway's
	// duplicate callbacks racing) wait for it.
	seen := make(map[attemptKey]bool, len(jobs))
	var batch, later []*recordJob
	for _, j := range jobs {
		k := attemptKey{j.gateway, j.r.GatewayRef}
		if seen[k] {
			later = append(later, j)
			continue
		}
		seen[k] = true
		batch = append(batch, j)
	}
	if len(batch) == 1 {
		later = append(batch, later...)
	} else {
		rest, err := rc.flow.recordBatch(ctx, batch)
		if err != nil {
			rc.flow.log.Warn("result batch failed, recording one by one", "results", len(batch), "err", err)
			rest = batch
		}
		later = append(rest, later...)
	}
	for _, j := range later {
		ack, err := rc.flow.recordOne(ctx, j.gateway, j.r, j.actor, false)
		j.res <- recordResult{ack, err}
	}
}

// recordBatch records results for distinct attempt references in one
// transaction and answers them once it committed. It returns the results it
// left for recording alone; on an error it answered none.
func (f *Flow) recordBatch(ctx context.Context, jobs []*recordJob) (rest []*recordJob, err error) {
	answers := make([]recordResult, len(jobs))
	answered := make([]bool, len(jobs))
	err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		keys := make([]attemptKey, len(jobs))
		for i, j := range jobs {
			keys[i] = attemptKey{j.gateway, j.r.GatewayRef}
		}
		orders, attempts, err := lockForRefs(ctx, tx, keys)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		var (
			entries []ledger.Payment
			paid    []Order
			touched = map[uuid.UUID]bool{}
		)
		for i, j := range jobs {
			cands := attempts[keys[i]]
			if len(cands) == 0 {
				f.logUnmatched(ctx, j.gateway, j.r)
				answers[i], answered[i] = recordResult{ack: gateways.AckNotFound}, true
				continue
			}
			o, ok := orders[cands[0].OrderID]
			if !ok || touched[o.ID] {
				rest = append(rest, j) // another result of this batch changes its order
				continue
			}
			a, _ := pickAttempt(cands, j.r, false)
			ack, act := decide(o, a, j.r)
			switch act {
			case actNothing:
			case actMisamount:
				f.logMisamount(ctx, j.gateway, a, j.r)
			case actFail:
				if err := f.queueFail(b, a, j.r, j.actor); err != nil {
					return err
				}
				touched[o.ID] = true
			case actPay:
				o, entry, err := f.queuePay(b, o, a, j.r, j.actor)
				if err != nil {
					return err
				}
				entries, paid = append(entries, entry), append(paid, o)
				touched[o.ID] = true
			default: // an overpayment: its refund and job are written alone
				rest = append(rest, j)
				continue
			}
			answers[i], answered[i] = recordResult{ack: ack}, true
		}
		if b.Len() > 0 {
			if err := sendBatch(ctx, tx, b); err != nil {
				return err
			}
		}
		if len(entries) > 0 {
			if _, err := ledger.PostPayments(ctx, tx, entries); err != nil {
				return fmt.Errorf("ledger: %w", err)
			}
		}
		return f.svc.notify(ctx, tx, "order.paid", paid...)
	})
	if err != nil {
		return nil, fmt.Errorf("record %d results: %w", len(jobs), err)
	}
	for i, j := range jobs {
		if answered[i] {
			j.res <- answers[i]
		}
	}
	return rest, nil
}

// lockForRefs is lockForRef for many attempt references at once: it locks
// their orders (in id order, so two batches never wait on each other in a
// circle) with their lines, then the attempts carrying the references, oldest
// first, in one round trip. Each reference is looked up by its own index scan
// whatever the plan PostgreSQL keeps for the statement.
func lockForRefs(ctx context.Context, tx pgx.Tx, keys []attemptKey) (map[uuid.UUID]Order, map[attemptKey][]Attempt, error) {
	gws, refs := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		gws[i], refs[i] = k.gateway, k.ref
	}
	orders := make(map[uuid.UUID]Order, len(keys))
	attempts := make(map[attemptKey][]Attempt, len(keys))
	b := &pgx.Batch{}
	b.Queue(`SELECT `+orderWithLines+`
		WHERE o.id IN (SELECT x.order_id FROM unnest($1::text[], $2::text[]) AS r(gateway, ref)
			CROSS JOIN LATERAL (SELECT order_id FROM payment_attempts a
				WHERE a.gateway = r.gateway AND a.gateway_ref = r.ref LIMIT 1) x)
		ORDER BY o.id FOR UPDATE OF o`, gws, refs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			o, err := scanOrderWithLines(rows)
			if err != nil {
				return err
			}
			orders[o.ID] = o
		}
		return rows.Err()
	})
	b.Queue(`SELECT `+attemptCols+` FROM unnest($1::text[], $2::text[]) AS r(gateway, ref)
		CROSS JOIN LATERAL (SELECT * FROM payment_attempts a WHERE a.gateway = r.gateway AND a.gateway_ref = r.ref
			ORDER BY a.created_at, a.id FOR UPDATE) a
		ORDER BY a.created_at, a.id`, gws, refs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			a, err := scanAttempt(rows)
			if err != nil {
				return err
			}
			k := attemptKey{a.Gateway, a.GatewayRef}
			attempts[k] = append(attempts[k], a)
		}
		return rows.Err()
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, fmt.Errorf("lock attempts: %w", err)
	}
	return orders, attempts, nil
}
