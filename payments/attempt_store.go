package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/civicpay/civicpay/gateways"
)

const attemptCols = `a.id, a.order_id, a.gateway, a.method, a.gateway_ref, coalesce(a.gateway_txn_id, ''), a.currency,
	a.amount, a.status, coalesce(a.outcome, ''), coalesce(a.redirect_url, ''), coalesce(a.qr_payload, ''),
	coalesce(a.result_code, ''), coalesce(a.result_message, ''), a.created_by, a.created_at, a.updated_at,
	a.expires_at, a.paid_at`

func scanAttempt(r pgx.Row) (Attempt, error) {
	var a Attempt
	err := r.Scan(&a.ID, &a.OrderID, &a.Gateway, &a.Method, &a.GatewayRef, &a.GatewayTxnID, &a.Currency, &a.Amount,
		&a.Status, &a.Outcome, &a.RedirectURL, &a.QRPayload, &a.ResultCode, &a.ResultMessage, &a.CreatedBy,
		&a.CreatedAt, &a.UpdatedAt, &a.ExpiresAt, &a.PaidAt)
	return a, err
}

// queueInsertAttempt adds a new attempt to b: one the gateway reported without
// our having started it (a bank transfer to the order's reference). It is
// followed already: its outcome is recorded in the same transaction.
func queueInsertAttempt(b *pgx.Batch, a Attempt) {
	b.Queue(`INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, currency,
		amount, status, redirect_url, qr_payload, created_by, created_at, updated_at, expires_at, followed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, nullif($9, ''), nullif($10, ''), $11, $12, $12, $13, $12)`,
		a.ID, a.OrderID, a.Gateway, string(a.Method), a.GatewayRef, a.Currency, a.Amount, string(a.Status),
		a.RedirectURL, a.QRPayload, a.CreatedBy, a.CreatedAt, a.ExpiresAt)
}

// payment_attempts is partitioned by month on created_at (migration 00043);
// payment_attempt_keys, not partitioned, holds each attempt's id, order,
// gateway reference and created_at, and the global unique rules. A lookup by
// id or by gateway reference finds the attempt's created_at there first, so
// that it then reads one partition, not one per month.

// attemptsByKeys joins the key rows k to their attempts a, each read in its
// one partition: the subquery is run per key row (OFFSET 0 keeps the planner
// from flattening it into a join that would scan every partition), with the
// key row's created_at, which prunes the partitions at run time.
const attemptsByKeys = ` payment_attempt_keys k CROSS JOIN LATERAL (SELECT * FROM payment_attempts a
	WHERE a.id = k.id AND a.created_at = k.created_at OFFSET 0) a `

// The lookups of one attempt, or of the attempts of one gateway reference,
// each reading one partition (TestAttemptLookupsReadOnePartition).
const (
	attemptByIDSQL   = `SELECT ` + attemptCols + ` FROM` + attemptsByKeys + `WHERE k.id = $1`
	attemptsByRefSQL = `SELECT ` + attemptCols + ` FROM` + attemptsByKeys + `WHERE k.gateway = $1 AND k.gateway_ref = $2
		ORDER BY a.created_at, a.id FOR UPDATE OF a`
	payingAttemptSQL = `SELECT ` + attemptCols + ` FROM` + attemptsByKeys + `WHERE k.order_id = $1 AND k.outcome = 'payment'`
	// An order's attempts, oldest first, by payment_attempt_keys_order_idx
	// (migration 00044); latestAttemptSQL its newest; openAttemptsSQL how
	// many are pending and unexpired at $2, and when the first expires.
	attemptsOfOrderSQL = `SELECT ` + attemptCols + ` FROM` + attemptsByKeys + `WHERE k.order_id = $1 ORDER BY a.created_at, a.id`
	latestAttemptSQL   = `SELECT ` + attemptCols + ` FROM` + attemptsByKeys + `WHERE k.order_id = $1
		ORDER BY a.created_at DESC, a.id DESC LIMIT 1`
	openAttemptsSQL = `SELECT count(*), min(a.expires_at) FROM` + attemptsByKeys + `WHERE k.order_id = $1
		AND a.status = 'pending' AND a.expires_at > $2`
	finishAttemptSQL = `UPDATE payment_attempts SET status = $2, outcome = nullif($3, ''),
		gateway_txn_id = coalesce(nullif($4, ''), gateway_txn_id), result_code = nullif($5, ''),
		result_message = nullif($6, ''), last_result = $7, paid_at = $8, updated_at = $9
		WHERE id = $1 AND created_at = (SELECT k.created_at FROM payment_attempt_keys k WHERE k.id = $1)`
	expireAttemptSQL = `UPDATE payment_attempts SET status = 'expired', updated_at = $2
		WHERE id = $1 AND created_at = (SELECT k.created_at FROM payment_attempt_keys k WHERE k.id = $1)
			AND status = 'pending'`
)

// lockForRef locks, in one round trip, the order a gateway reference belongs
// to and then the attempts carrying it, oldest first. The reference is an
// attempt's (the order is theirs) or, byReference, the order's payment
// reference.
func lockForRef(ctx context.Context, tx pgx.Tx, gateway, ref string, byReference bool) (Order, []Attempt, error) {
	where, args := `o.id = (SELECT order_id FROM payment_attempt_keys WHERE gateway = $1 AND gateway_ref = $2 LIMIT 1)`, []any{gateway, ref}
	if byReference {
		where, args = `o.reference = $1`, []any{ref}
	}
	var attempts []Attempt
	o, err := getOrderThen(ctx, tx, where, true, args, func(b *pgx.Batch) {
		b.Queue(attemptsByRefSQL, gateway, ref).Query(func(rows pgx.Rows) error {
			var err error
			attempts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Attempt, error) { return scanAttempt(r) })
			return err
		})
	})
	return o, attempts, err
}

// queueFinishAttempt adds to b the gateway's final word on attempt a (the
// batch fails unless it updates the attempt).
func queueFinishAttempt(b *pgx.Batch, a Attempt, status AttemptStatus, outcome string,
	r gateways.Result, paidAt *time.Time, now time.Time) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	txn := r.GatewayTxnID
	if status == AttemptSucceeded {
		txn = txnID(r)
	}
	b.Queue(finishAttemptSQL, a.ID, string(status), outcome, txn, r.Code, r.Message, raw, paidAt, now).Exec(func(tag pgconn.CommandTag) error {
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("finish attempt %s: %d rows updated", a.ID, tag.RowsAffected())
		}
		return nil
	})
	return nil
}

// queueMarkPaid adds to b paying an order (evPay): its status the table's,
// its total as amount paid; the batch fails with ErrNotOpen if the order is
// not in a status evPay may happen in.
func queueMarkPaid(b *pgx.Batch, orderID uuid.UUID, paidAt, now time.Time) {
	b.Queue(markPaidSQL, orderID, paidAt, now, string(evPay.target())).Exec(func(tag pgconn.CommandTag) error {
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("mark order %s paid: %w", orderID, orderMoves[evPay].refused)
		}
		return nil
	})
}

var markPaidSQL = `UPDATE orders SET status = $4, amount_paid = total, paid_at = $2, updated_at = $3
	WHERE id = $1 AND ` + evPay.sqlGuard("status")

// expireAttempt gives up on a pending attempt; false if it was no longer pending.
func expireAttempt(ctx context.Context, tx pgx.Tx, a Attempt, now time.Time) (bool, error) {
	tag, err := tx.Exec(ctx, expireAttemptSQL, a.ID, now)
	if err != nil {
		return false, fmt.Errorf("expire attempt %s: %w", a.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

func getAttempt(ctx context.Context, q querier, id uuid.UUID, forUpdate bool) (Attempt, error) {
	sql := attemptByIDSQL
	if forUpdate {
		sql += ` FOR UPDATE OF a`
	}
	a, err := scanAttempt(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Attempt{}, ErrAttemptNotFound
	}
	if err != nil {
		return Attempt{}, fmt.Errorf("load attempt: %w", err)
	}
	return a, nil
}

// payingAttempt is the attempt that paid the order.
func payingAttempt(ctx context.Context, q querier, orderID uuid.UUID) (Attempt, error) {
	a, err := scanAttempt(q.QueryRow(ctx, payingAttemptSQL, orderID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Attempt{}, ErrAttemptNotFound
	}
	if err != nil {
		return Attempt{}, fmt.Errorf("load paying attempt: %w", err)
	}
	return a, nil
}

func listAttempts(ctx context.Context, q querier, orderID uuid.UUID) ([]Attempt, error) {
	rows, err := q.Query(ctx, attemptsOfOrderSQL, orderID)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Attempt, error) { return scanAttempt(r) })
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	return out, nil
}

// lockOrder takes the order's row lock, the first lock of every change.
func lockOrder(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM orders WHERE id = $1 FOR UPDATE`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrOrderNotFound
	}
	if err != nil {
		return fmt.Errorf("lock order: %w", err)
	}
	return nil
}
