package payments

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// querier is what both a pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

const orderCols = `o.id, o.reference, o.agency_code, o.created_by, o.status, o.currency, o.total, o.amount_paid,
	o.amount_refunded, o.amount_refund_pending, o.payer_name, coalesce(o.payer_national_id_masked, o.payer_national_id, ''), coalesce(o.payer_email, ''),
	coalesce(o.payer_phone, ''), o.description, coalesce(o.return_url, ''), o.metadata, o.expires_at,
	o.created_at, o.updated_at, o.paid_at, o.closed_at, o.payer_national_id_enc`

// scanOrder reads orderCols, and then into extra whatever columns follow them.
func scanOrder(r pgx.Row, extra ...any) (Order, error) {
	var o Order
	var status string
	var meta []byte
	dest := append([]any{&o.ID, &o.Reference, &o.AgencyCode, &o.CreatedBy, &status, &o.Currency, &o.Total, &o.AmountPaid,
		&o.AmountRefunded, &o.AmountRefundPending, &o.Payer.Name, &o.Payer.NationalID, &o.Payer.Email, &o.Payer.Phone, &o.Description,
		&o.ReturnURL, &meta, &o.ExpiresAt, &o.CreatedAt, &o.UpdatedAt, &o.PaidAt, &o.ClosedAt, &o.sealedNationalID}, extra...)
	if err := r.Scan(dest...); err != nil {
		return o, err
	}
	o.Status = Status(status)
	o.Metadata = map[string]string{}
	if len(meta) > 0 {
		if err := json.Unmarshal(meta, &o.Metadata); err != nil {
			return o, fmt.Errorf("order %s metadata: %w", o.ID, err)
		}
	}
	return o, nil
}

// getOrder loads an order with its lines.
func getOrder(ctx context.Context, q querier, where string, arg any, forUpdate bool) (Order, error) {
	return getOrderThen(ctx, q, where, forUpdate, []any{arg}, nil)
}

// getOrderThen loads the order matching where (locked with forUpdate) with its
// lines, in one statement (the lines come as arrays beside the order's
// columns); then, if not nil, queues more statements to run after it in the
// same round trip (with the order already locked).
func getOrderThen(ctx context.Context, q querier, where string, forUpdate bool, args []any, then func(*pgx.Batch)) (Order, error) {
	lock := ""
	if forUpdate {
		lock = " FOR UPDATE OF o"
	}
	var o Order
	found := false
	b := &pgx.Batch{}
	b.Queue(`SELECT `+orderWithLines+` WHERE `+where+lock, args...).QueryRow(func(r pgx.Row) error {
		var err error
		o, err = scanOrderWithLines(r)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	if then != nil {
		then(b)
	}
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return Order{}, fmt.Errorf("load order: %w", err)
	}
	if !found {
		return Order{}, ErrOrderNotFound
	}
	return o, nil
}

// orderWithLines selects orderCols (orders as o) and then each column of the
// order's lines as an array, for scanOrderWithLines; a WHERE clause follows.
const orderWithLines = orderCols + linesCols + ` FROM orders o` + linesLateral

// linesCols and linesLateral add an order's lines (o) as arrays.
const (
	linesCols    = `, l.nos, l.services, l.agencies, l.kinds, l.amounts, l.refunded, l.pending`
	linesLateral = `
	CROSS JOIN LATERAL (SELECT array_agg(line_no ORDER BY line_no) AS nos, array_agg(service_code ORDER BY line_no) AS services,
		array_agg(agency_code ORDER BY line_no) AS agencies, array_agg(kind ORDER BY line_no) AS kinds,
		array_agg(amount ORDER BY line_no) AS amounts, array_agg(amount_refunded ORDER BY line_no) AS refunded,
		array_agg(amount_refund_pending ORDER BY line_no) AS pending FROM order_lines WHERE order_id = o.id) l`
)

// scanOrderWithLines reads orderWithLines' columns.
func scanOrderWithLines(r pgx.Row) (Order, error) {
	var (
		nos                        []int16
		services, agencies, kinds  []string
		amounts, refunded, pending []decimal.Decimal
	)
	o, err := scanOrder(r, &nos, &services, &agencies, &kinds, &amounts, &refunded, &pending)
	if err != nil {
		return o, err
	}
	if n := len(nos); len(services) != n || len(agencies) != n || len(kinds) != n || len(amounts) != n ||
		len(refunded) != n || len(pending) != n {
		return o, fmt.Errorf("order %s: lines arrays of different lengths", o.ID)
	}
	for i := range nos {
		o.Lines = append(o.Lines, Line{No: int(nos[i]), ServiceCode: services[i], AgencyCode: agencies[i], Kind: kinds[i],
			Amount: amounts[i], AmountRefunded: refunded[i], AmountRefundPending: pending[i]})
	}
	return o, nil
}

func loadLines(ctx context.Context, q querier, ids []uuid.UUID) (map[uuid.UUID][]Line, error) {
	rows, err := q.Query(ctx, `SELECT order_id, line_no, service_code, agency_code, kind, amount,
		amount_refunded, amount_refund_pending FROM order_lines WHERE order_id = ANY($1) ORDER BY order_id, line_no`, ids)
	if err != nil {
		return nil, fmt.Errorf("load order lines: %w", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID][]Line, len(ids))
	for rows.Next() {
		var id uuid.UUID
		var l Line
		if err := rows.Scan(&id, &l.No, &l.ServiceCode, &l.AgencyCode, &l.Kind, &l.Amount, &l.AmountRefunded, &l.AmountRefundPending); err != nil {
			return nil, fmt.Errorf("scan order line: %w", err)
		}
		out[id] = append(out[id], l)
	}
	return out, rows.Err()
}

// ListFilter selects orders for GET /v1/orders (and the staff console).
type ListFilter struct {
	AgencyCode  string
	ServiceCode string
	Status      Status
	CreatedBy   *uuid.UUID
	From, To    *time.Time // created_at in [From, To)
	// Reference is a canonical payment reference (reference.Parse), matched exactly.
	Reference string
	// Gateway keeps the orders with an attempt through that gateway.
	Gateway string
	// MinTotal and MaxTotal bound the order's total, both inclusive.
	MinTotal, MaxTotal *decimal.Decimal
	// PayerName matches a part of the payer's name, in any letter case;
	// PayerPhone the payer's phone exactly. Both are stored in clear (only the
	// national ID is sealed), so neither needs a key; the phone is indexed
	// (orders_payer_phone_idx), the name is not.
	PayerName, PayerPhone string
	Limit                 int
	After                 *Cursor
}

// Cursor is a keyset position: the last row of the previous page.
type Cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// Encode makes the opaque cursor string handed to clients.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID.String()))
}

// ParseCursor reads a cursor made by Encode.
func ParseCursor(s string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errors.New("not a cursor returned by this API")
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return Cursor{}, errors.New("not a cursor returned by this API")
	}
	t, err1 := time.Parse(time.RFC3339Nano, ts)
	u, err2 := uuid.Parse(id)
	if err1 != nil || err2 != nil {
		return Cursor{}, errors.New("not a cursor returned by this API")
	}
	return Cursor{CreatedAt: t, ID: u}, nil
}

func listOrders(ctx context.Context, q querier, f ListFilter) ([]Order, error) {
	var (
		conds []string
		args  []any
	)
	// param adds v to args and returns its placeholder ($n).
	param := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.ServiceCode != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.service_code = "+param(f.ServiceCode)+")")
	}
	if f.Status != "" {
		conds = append(conds, "o.status = "+param(string(f.Status)))
	}
	if f.CreatedBy != nil {
		conds = append(conds, "o.created_by = "+param(*f.CreatedBy))
	}
	// timeConds bound the order's created_at (and the keyset position);
	// lineConds are the same bounds on the lines' copy of it
	// (order_lines.order_created_at), for an agency's later lines, and stand
	// there instead of timeConds: the planner, told both, takes them for
	// independent filters, expects a handful of rows and sorts every later
	// line of the range instead of reading the index in list order up to
	// the limit.
	var timeConds, lineConds []string
	if f.From != nil {
		from := param(*f.From)
		timeConds = append(timeConds, "o.created_at >= "+from)
		lineConds = append(lineConds, "l.order_created_at >= "+from)
	}
	if f.To != nil {
		to := param(*f.To)
		timeConds = append(timeConds, "o.created_at < "+to)
		lineConds = append(lineConds, "l.order_created_at < "+to)
	}
	if f.Reference != "" {
		conds = append(conds, "o.reference = "+param(f.Reference))
	}
	if f.Gateway != "" {
		// payment_attempt_keys holds each attempt's order and gateway
		// (payment_attempts would be looked into month by month).
		conds = append(conds, "EXISTS (SELECT 1 FROM payment_attempt_keys pa WHERE pa.order_id = o.id AND pa.gateway = "+param(f.Gateway)+")")
	}
	if f.MinTotal != nil {
		conds = append(conds, "o.total >= "+param(*f.MinTotal))
	}
	if f.MaxTotal != nil {
		conds = append(conds, "o.total <= "+param(*f.MaxTotal))
	}
	if f.PayerName != "" {
		conds = append(conds, "o.payer_name ILIKE "+param("%"+likeEscaper.Replace(f.PayerName)+"%"))
	}
	if f.PayerPhone != "" {
		conds = append(conds, "o.payer_phone = "+param(f.PayerPhone))
	}
	if f.After != nil {
		at, id := param(f.After.CreatedAt), param(f.After.ID)
		timeConds = append(timeConds, "(o.created_at, o.id) < ("+at+", "+id+")")
		lineConds = append(lineConds, "(l.order_created_at, l.order_id) < ("+at+", "+id+")")
	}
	limit := param(f.Limit)
	order := ` ORDER BY o.created_at DESC, o.id DESC LIMIT ` + limit
	where := func(bounds []string, extra ...string) string {
		all := append(append(extra, conds...), bounds...)
		if len(all) == 0 {
			return ""
		}
		return ` WHERE ` + strings.Join(all, " AND ")
	}
	sql := `SELECT o.* FROM orders o` + where(timeConds) + order
	if f.AgencyCode != "" {
		// The orders with a line of the agency: those whose first line is
		// its (orders.agency_code, orders_agency_created_idx) and those
		// where it is on a later line, each read in list order up to the
		// limit, then merged. The later lines are read in list order from
		// order_lines_later_agency_created_idx, each order once (at its
		// first later line of the agency), looked up by id and filtered, so
		// the page stops at its limit instead of sorting every order the
		// agency was ever on a later line of.
		//
		// Each part leads with its list position (list_at, list_id) as it
		// reads it — o.created_at, o.id; l.order_created_at, l.order_id —
		// so that the planner sees both in list order and merges them
		// lazily: a part is read only as far as the page takes from it.
		// Merged on o.created_at, the later-line part (ordered by the
		// lines' copy) was sorted first, so every page read its whole limit
		// of later lines with their orders, mostly to throw them away
		// (at 10M orders, cold: 209 pages read and 20 ms for a month's
		// page of 50, against 8–10 ms merged lazily).
		a := param(f.AgencyCode)
		lineWhere := strings.Join(append([]string{"l.agency_code = " + a, "l.line_no > 1"}, lineConds...), " AND ")
		sql = `SELECT o.* FROM (
			(SELECT o.created_at AS list_at, o.id AS list_id, o.* FROM orders o` + where(timeConds, "o.agency_code = "+a) + order + `)
			UNION ALL
			(SELECT l.order_created_at, l.order_id, o.* FROM order_lines l JOIN orders o ON o.id = l.order_id` + where(nil, "o.agency_code <> "+a, lineWhere,
			`NOT EXISTS (SELECT 1 FROM order_lines e WHERE e.order_id = l.order_id AND e.line_no > 1
				AND e.line_no < l.line_no AND e.agency_code = `+a+`)`) + `
			ORDER BY l.order_created_at DESC, l.order_id DESC LIMIT ` + limit + `)) o ORDER BY o.list_at DESC, o.list_id DESC LIMIT ` + limit
	}
	// The page's orders with their lines, in one statement (one round trip).
	sql = `SELECT ` + orderCols + linesCols + ` FROM (` + sql + `) o` + linesLateral + ` ORDER BY o.created_at DESC, o.id DESC`
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	orders, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Order, error) { return scanOrderWithLines(r) })
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	return orders, nil
}

// likeEscaper makes a string match itself literally in LIKE (whose escape is \).
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Querier is a pool or a transaction, for the read functions below.
type Querier = querier

// ListOrders returns a page of the orders f selects, national IDs masked,
// with no access check: the caller scopes f (f.AgencyCode for an agency).
func ListOrders(ctx context.Context, q Querier, f ListFilter) ([]Order, error) {
	orders, err := listOrders(ctx, q, f)
	if err != nil {
		return nil, err
	}
	for i := range orders {
		orders[i] = orders[i].Masked()
	}
	return orders, nil
}

// OrderRecord is an order (national ID masked) with its attempts, history
// and refunds.
type OrderRecord struct {
	Order    Order
	Attempts []Attempt
	Events   []OrderEvent
	Refunds  []Refund
}

// ReadOrder loads an order's record with no access check (the caller checks
// the order's agencies); ErrOrderNotFound if there is none.
func ReadOrder(ctx context.Context, q Querier, id uuid.UUID) (OrderRecord, error) {
	o, err := getOrder(ctx, q, "o.id = $1", id, false)
	if err != nil {
		return OrderRecord{}, fmt.Errorf("order %s: %w", id, err)
	}
	rec := OrderRecord{Order: o.Masked()}
	if rec.Attempts, err = listAttempts(ctx, q, id); err != nil {
		return rec, err
	}
	if rec.Events, err = listEvents(ctx, q, id); err != nil {
		return rec, err
	}
	if rec.Refunds, err = listRefunds(ctx, q, id); err != nil {
		return rec, err
	}
	return rec, nil
}

// OrderEvent is one entry of an order's history.
type OrderEvent struct {
	ID        int64           `json:"id"`
	Type      string          `json:"type"`
	Actor     string          `json:"actor"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}

// InsertEvent writes an order event inside tx. Every state change calls it in the
// same transaction as the change.
func InsertEvent(ctx context.Context, tx pgx.Tx, orderID uuid.UUID, typ, actor string, data any) error {
	b := &pgx.Batch{}
	if err := queueEvent(b, orderID, typ, actor, data); err != nil {
		return err
	}
	return sendBatch(ctx, tx, b)
}

// queueEvent adds an order event to b.
func queueEvent(b *pgx.Batch, orderID uuid.UUID, typ, actor string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("order event %s: %w", typ, err)
	}
	b.Queue(`INSERT INTO order_events (order_id, type, actor, data) VALUES ($1, $2, $3, $4)`, orderID, typ, actor, raw)
	return nil
}

// sendBatch runs b's statements in tx in one round trip; the first error wins.
func sendBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func listEvents(ctx context.Context, q querier, orderID uuid.UUID) ([]OrderEvent, error) {
	rows, err := q.Query(ctx, `SELECT id, type, actor, data, created_at FROM order_events WHERE order_id = $1 ORDER BY id`, orderID)
	if err != nil {
		return nil, fmt.Errorf("order events: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[OrderEvent])
}

// closeOrder writes the status ev (evCancel, evExpire) leaves an order in,
// and when it closed, if the order is in a status ev may happen in; an error
// wrapping ErrNotOpen otherwise.
func closeOrder(ctx context.Context, tx pgx.Tx, id uuid.UUID, ev statusEvent, now time.Time) error {
	tag, err := tx.Exec(ctx, `UPDATE orders SET status = $2, closed_at = $3, updated_at = $3
		WHERE id = $1 AND `+ev.sqlGuard("status"), id, string(ev.target()), now)
	if err != nil {
		return fmt.Errorf("%s order: %w", ev, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("%s order %s: %w", ev, id, orderMoves[ev].refused)
	}
	return nil
}
