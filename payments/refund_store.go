package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	if len(rf.Lines) == 0 {
		return
	}
	n := len(rf.Lines)
	nos, agencies, services, amounts := make([]int16, n), make([]string, n), make([]string, n), make([]decimal.Decimal, n)
	for i, l := range rf.Lines {
		nos[i], agencies[i], services[i], amounts[i] = int16(l.LineNo), l.AgencyCode, l.ServiceCode, l.Amount
	}
	b.Queue(`INSERT INTO payment_refund_lines (refund_id, order_id, line_no, agency_code, service_code, amount, created_at)
		SELECT $1, $2, x.no, x.agency, x.service, x.amount, $7
		FROM unnest($3::smallint[], $4::text[], $5::text[], $6::numeric[]) AS x(no, agency, service, amount)`,
		rf.ID, rf.OrderID, nos, agencies, services, amounts, rf.CreatedAt)
}

// loadRefundLines adds each refund's lines to it.
func loadRefundLines(ctx context.Context, q querier, rs []Refund) error {
	if len(rs) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(rs))
	for i := range rs {
		ids[i] = rs[i].ID
	}
	rows, err := q.Query(ctx, `SELECT refund_id, line_no, agency_code, service_code, amount FROM payment_refund_lines
		WHERE refund_id = ANY($1) ORDER BY refund_id, line_no`, ids)
	if err != nil {
		return fmt.Errorf("load refund lines: %w", err)
	}
	defer rows.Close()
	byID := make(map[uuid.UUID][]RefundLine, len(rs))
	for rows.Next() {
		var id uuid.UUID
		var l RefundLine
		if err := rows.Scan(&id, &l.LineNo, &l.AgencyCode, &l.ServiceCode, &l.Amount); err != nil {
			return fmt.Errorf("scan refund line: %w", err)
		}
		byID[id] = append(byID[id], l)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load refund lines: %w", err)
	}
	for i := range rs {
		rs[i].Lines = byID[rs[i].ID]
	}
	return nil
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
	one := []Refund{rf}
	if err := loadRefundLines(ctx, q, one); err != nil {
		return Refund{}, err
	}
	return one[0], nil
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
	if err := loadRefundLines(ctx, q, out); err != nil {
		return nil, err
	}
	return out, nil
}

// reserveRefund sets amount aside on the order, and each line's part on the
// line, for a refund in flight (evReserveRefund: an error wrapping
// ErrNotRefundable if the order is in no status a refund is reserved in).
// The database refuses a reservation beyond what was paid
// (orders_refunds_within_paid) or beyond a line's amount
// (order_lines_refunds_within_amount).
func reserveRefund(ctx context.Context, tx pgx.Tx, orderID uuid.UUID, amount decimal.Decimal, lines []RefundLine, now time.Time) error {
	b := &pgx.Batch{}
	b.Queue(`UPDATE orders SET amount_refund_pending = amount_refund_pending + $2, updated_at = $3
		WHERE id = $1 AND `+evReserveRefund.sqlGuard("status"), orderID, amount, now).Exec(func(tag pgconn.CommandTag) error {
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("reserve refund on order %s: %w", orderID, orderMoves[evReserveRefund].refused)
		}
		return nil
	})
	if len(lines) > 0 {
		nos, amounts := make([]int16, len(lines)), make([]decimal.Decimal, len(lines))
		for i, l := range lines {
			nos[i], amounts[i] = int16(l.LineNo), l.Amount
		}
		b.Queue(`UPDATE order_lines l SET amount_refund_pending = l.amount_refund_pending + x.amount
			FROM unnest($2::smallint[], $3::numeric[]) AS x(no, amount) WHERE l.order_id = $1 AND l.line_no = x.no`,
			orderID, nos, amounts)
	}
	err := tx.SendBatch(ctx, b).Close()
	if refundConstraint(err) {
		return fmt.Errorf("%w: the database refuses refunding more than was paid", ErrRefundableChanged)
	}
	if err != nil {
		return fmt.Errorf("reserve refund: %w", err)
	}
	return nil
}

// releaseRefund gives back the reservation of a refund that failed, on the
// order and its lines (evReleaseRefund), and returns the order as it is now.
func releaseRefund(ctx context.Context, tx pgx.Tx, o Order, rf Refund, now time.Time) (Order, error) {
	return settleAmounts(ctx, tx, o, rf, evReleaseRefund, `UPDATE orders o SET amount_refund_pending = amount_refund_pending - $2,
		updated_at = $3 WHERE id = $1 AND `+evReleaseRefund.sqlGuard("status")+` RETURNING `+orderCols,
		`amount_refund_pending = l.amount_refund_pending - rl.amount`, now)
}

// applyRefund turns a reservation into a refund, on the order and its lines:
// the refunded amounts grow, and the order becomes refunded (evRefundFull,
// when the refunded amount reaches what was paid) or partially refunded
// (evRefundPart). It returns the order as it is now.
func applyRefund(ctx context.Context, tx pgx.Tx, o Order, rf Refund, now time.Time) (Order, error) {
	return settleRefundAs(ctx, tx, o, rf, refundEvent(o, rf.Amount), now)
}

// settleRefundAs is applyRefund as the event ev (evRefundPart,
// evRefundFull): the status written is ev's, where the order is in a status
// ev may happen in, and the database refuses a status its amounts do not
// fit (orders_refund_status).
func settleRefundAs(ctx context.Context, tx pgx.Tx, o Order, rf Refund, ev statusEvent, now time.Time) (Order, error) {
	return settleAmounts(ctx, tx, o, rf, ev, `UPDATE orders o SET amount_refunded = amount_refunded + $2,
		amount_refund_pending = amount_refund_pending - $2, updated_at = $3, status = '`+string(ev.target())+`'
		WHERE id = $1 AND `+ev.sqlGuard("status")+` RETURNING `+orderCols, `amount_refunded = l.amount_refunded + rl.amount,
		amount_refund_pending = l.amount_refund_pending - rl.amount`, now)
}

// settleAmounts runs orderSQL ($1 order, $2 amount, $3 now; returning
// orderCols, no row when the order is in no status ev may happen in) and
// sets lineSet on the refund's lines (l, its refund lines rl), in one round
// trip, and returns the order with its lines as they are now.
func settleAmounts(ctx context.Context, tx pgx.Tx, o Order, rf Refund, ev statusEvent, orderSQL, lineSet string, now time.Time) (Order, error) {
	var got Order
	b := &pgx.Batch{}
	b.Queue(orderSQL, o.ID, rf.Amount, now).QueryRow(func(r pgx.Row) error {
		var err error
		got, err = scanOrder(r)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%s on order %s: %w", ev, o.ID, orderMoves[ev].refused)
		}
		return err
	})
	b.Queue(`UPDATE order_lines l SET `+lineSet+` FROM payment_refund_lines rl
		WHERE rl.refund_id = $1 AND l.order_id = rl.order_id AND l.line_no = rl.line_no`, rf.ID)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Order{}, fmt.Errorf("settle refund amounts: %w", err)
	}
	lines, err := loadLines(ctx, tx, []uuid.UUID{o.ID})
	if err != nil {
		return Order{}, err
	}
	got.Lines = lines[o.ID]
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
