package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
)

const refundCols = `r.id, r.order_id, r.attempt_id, r.kind, r.currency, r.amount, r.status, r.reason, r.requested_by,
	coalesce(r.gateway_refund_id, ''), r.tries, coalesce(r.last_error, ''), r.created_at, r.updated_at, r.completed_at`

func scanRefund(r pgx.Row) (Refund, error) {
	var rf Refund
	err := r.Scan(&rf.ID, &rf.OrderID, &rf.AttemptID, &rf.Kind, &rf.Currency, &rf.Amount, &rf.Status, &rf.Reason,
		&rf.RequestedBy, &rf.GatewayRefundID, &rf.Tries, &rf.LastError, &rf.CreatedAt, &rf.UpdatedAt, &rf.CompletedAt)
	return rf, err
}

func queueInsertRefund(b *pgx.Batch, rf Refund) {
	b.Queue(`INSERT INTO payment_refunds (id, order_id, attempt_id, kind, currency, amount, status,
		reason, requested_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
		rf.ID, rf.OrderID, rf.AttemptID, rf.Kind, rf.Currency, rf.Amount, string(rf.Status), rf.Reason,
		rf.RequestedBy, rf.CreatedAt)
}

func getRefund(ctx context.Context, q querier, id uuid.UUID, forUpdate bool) (Refund, error) {
	sql := `SELECT ` + refundCols + ` FROM payment_refunds r WHERE r.id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	rf, err := scanRefund(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Refund{}, ErrRefundNotFound
	}
	if err != nil {
		return Refund{}, fmt.Errorf("load refund: %w", err)
	}
	return rf, nil
}

func listRefunds(ctx context.Context, q querier, orderID uuid.UUID) ([]Refund, error) {
	rows, err := q.Query(ctx, `SELECT `+refundCols+` FROM payment_refunds r WHERE r.order_id = $1
		ORDER BY r.created_at, r.id`, orderID)
	if err != nil {
		return nil, fmt.Errorf("list refunds: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Refund, error) { return scanRefund(r) })
	if err != nil {
		return nil, fmt.Errorf("list refunds: %w", err)
	}
	return out, nil
}

// reserveRefund sets amount aside on the order for a refund in flight. The
// database refuses a reservation beyond what was paid (orders_refunds_within_paid).
func reserveRefund(ctx context.Context, tx pgx.Tx, orderID uuid.UUID, amount decimal.Decimal, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE orders SET amount_refund_pending = amount_refund_pending + $2, updated_at = $3
		WHERE id = $1`, orderID, amount, now)
	if refundConstraint(err) {
		return fmt.Errorf("%w: the database refuses refunding more than was paid", ErrRefundableChanged)
	}
	if err != nil {
		return fmt.Errorf("reserve refund: %w", err)
	}
	return nil
}

// releaseRefund gives back the reservation of a refund that failed.
func releaseRefund(ctx context.Context, tx pgx.Tx, orderID uuid.UUID, amount decimal.Decimal, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE orders SET amount_refund_pending = amount_refund_pending - $2, updated_at = $3
		WHERE id = $1`, orderID, amount, now); err != nil {
		return fmt.Errorf("release refund: %w", err)
	}
	return nil
}

// applyRefund turns a reservation into a refund: the order's refunded amount
// grows, and it becomes refunded or partially refunded. It returns the order
// as it is now.
func applyRefund(ctx context.Context, tx pgx.Tx, o Order, amount decimal.Decimal, now time.Time) (Order, error) {
	got, err := scanOrder(tx.QueryRow(ctx, `UPDATE orders o SET amount_refunded = amount_refunded + $2,
		amount_refund_pending = amount_refund_pending - $2, updated_at = $3,
		status = CASE WHEN amount_refunded + $2 = amount_paid THEN 'refunded' ELSE 'partially_refunded' END
		WHERE id = $1 RETURNING `+orderCols, o.ID, amount, now))
	if err != nil {
		return Order{}, fmt.Errorf("apply refund: %w", err)
	}
	got.Lines = o.Lines
	return got, nil
}

// finishRefund records a refund's final outcome (one more try counted).
func finishRefund(ctx context.Context, tx pgx.Tx, id uuid.UUID, status RefundStatus, gatewayRefundID, lastError string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE payment_refunds SET status = $2, gateway_refund_id = nullif($3, ''),
		last_error = nullif($4, ''), tries = tries + 1, completed_at = $5, updated_at = $5 WHERE id = $1`,
		id, string(status), gatewayRefundID, lastError, now)
	if err != nil {
		return fmt.Errorf("finish refund: %w", err)
	}
	return nil
}

// noteRefundTry counts a try without a final answer and keeps its error.
func noteRefundTry(ctx context.Context, db *pgxpool.Pool, id uuid.UUID, status RefundStatus, lastError string, now time.Time) error {
	_, err := db.Exec(ctx, `UPDATE payment_refunds SET status = $2, tries = tries + 1, last_error = $3, updated_at = $4
		WHERE id = $1 AND status IN ('requested', 'pending')`, id, string(status), lastError, now)
	if err != nil {
		return fmt.Errorf("note refund try: %w", err)
	}
	return nil
}
