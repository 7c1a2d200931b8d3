package payments

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/foundation/groupcommit"
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
// itself) it answers groupcommit.ErrAlone: it is recorded alone after the
// batch commits, with the batch's changes visible to it. If the batch fails,
// groupcommit records every result in it alone: nothing of a failed batch is
// written, so nothing is recorded twice.
type recorder struct {
	paying *Paying
	queue  *groupcommit.Queue[recordJob, gateways.Ack]
}

type recordJob struct {
	gateway string
	r       gateways.Result
	actor   string
}

// newRecorder starts the result writers; queue.Close stops them.
func newRecorder(f *Paying) *recorder {
	rc := &recorder{paying: f}
	rc.queue = groupcommit.New(queueOptions("results", 32, f.log, f.orders.cfg), rc.write)
	return rc
}

// record queues a result and waits for its acknowledgement. An error
// wrapping groupcommit.ErrOutcomeUnknown (the caller's context ended while
// the batch was written) is AckError: the gateway retries, and recording the
// same result again is AckAlreadyConfirmed if it was recorded.
func (rc *recorder) record(ctx context.Context, gateway string, r gateways.Result, actor string) (gateways.Ack, error) {
	ack, err := rc.queue.Do(ctx, recordJob{gateway: gateway, r: r, actor: actor})
	if err != nil {
		return gateways.AckError, err
	}
	return ack, nil
}

type attemptKey struct{ gateway, ref string }

// write records one result alone, or a batch of them in one transaction.
func (rc *recorder) write(ctx context.Context, jobs []recordJob) ([]groupcommit.Result[gateways.Ack], error) {
	if len(jobs) == 1 {
		j := jobs[0]
		ack, err := rc.paying.recordOne(ctx, j.gateway, j.r, j.actor, false)
		return []groupcommit.Result[gateways.Ack]{{Value: ack, Err: err}}, nil
	}
	return rc.paying.recordBatch(ctx, jobs)
}

// recordBatch records results in one transaction and answers them once it
// committed; on an error it wrote nothing. It answers groupcommit.ErrAlone
// to the results it leaves for recording alone: a repeat of an attempt
// reference earlier in the batch (a gateway's duplicate callbacks racing), a
// second result for an order, an overpayment.
func (f *Paying) recordBatch(ctx context.Context, jobs []recordJob) ([]groupcommit.Result[gateways.Ack], error) {
	out := make([]groupcommit.Result[gateways.Ack], len(jobs))
	var (
		keys []attemptKey
		in   []int // the jobs of the batch, by index in jobs
		seen = make(map[attemptKey]bool, len(jobs))
	)
	for i, j := range jobs {
		k := attemptKey{j.gateway, j.r.GatewayRef}
		if seen[k] {
			out[i].Err = groupcommit.ErrAlone
			continue
		}
		seen[k] = true
		keys, in = append(keys, k), append(in, i)
	}
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
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
		for n, i := range in {
			j := jobs[i]
			cands := attempts[keys[n]]
			if len(cands) == 0 {
				f.logUnmatched(ctx, j.gateway, j.r)
				out[i].Value = gateways.AckNotFound
				continue
			}
			o, ok := orders[cands[0].OrderID]
			if !ok || touched[o.ID] {
				out[i].Err = groupcommit.ErrAlone // another result of this batch changes its order
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
				out[i].Err = groupcommit.ErrAlone
				continue
			}
			out[i].Value = ack
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
		return f.orders.notify(ctx, tx, "order.paid", paid...)
	})
	if err != nil {
		return nil, fmt.Errorf("record %d results: %w", len(jobs), err)
	}
	return out, nil
}

// attemptsByRefsSQL locks the attempts of many gateway references ($1, $2),
// each through its key rows and so in one partition.
const attemptsByRefsSQL = `SELECT ` + attemptCols + ` FROM unnest($1::text[], $2::text[]) AS r(gateway, ref)
	CROSS JOIN LATERAL (SELECT a.* FROM` + attemptsByKeys + `WHERE k.gateway = r.gateway AND k.gateway_ref = r.ref
		ORDER BY a.created_at, a.id FOR UPDATE OF a) a
	ORDER BY a.created_at, a.id`

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
			CROSS JOIN LATERAL (SELECT order_id FROM payment_attempt_keys k
				WHERE k.gateway = r.gateway AND k.gateway_ref = r.ref LIMIT 1) x)
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
	b.Queue(attemptsByRefsSQL, gws, refs).Query(func(rows pgx.Rows) error {
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
