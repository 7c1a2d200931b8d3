package payments_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/payments"
)

// An agency's orders are those with a line of it, on any line. Its list reads
// the orders whose first line is its by orders_agency_created_idx and those
// where it is on a later line by order_lines_later_agency_created_idx
// (migration 00041), merged: every page, filter and cursor must give what the
// plain definition gives (any line of the agency, in list order).

// seedAgencyOrders writes n orders of one to four lines of agencies AG-0…AG-3,
// often two lines of the same agency, several orders at the same instant
// (the list's ties are broken by id), of every status, over ten days; the
// lines leave order_created_at out, for the trigger to fill.
func seedAgencyOrders(t *testing.T, pool *pgxpool.Pool, n int, seed uint64) time.Time {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 15))
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	statuses := []string{"open", "paid", "partially_refunded", "refunded", "cancelled", "expired"}
	b := &pgx.Batch{}
	for i := range n {
		id := uuid.New()
		at := start.Add(time.Duration(r.IntN(10*24*60)) * time.Minute) // minutes: many ties
		lines := 1 + r.IntN(4)
		agencies := make([]string, lines)
		for k := range agencies {
			agencies[k] = fmt.Sprintf("AG-%d", r.IntN(4))
		}
		status, total := statuses[r.IntN(len(statuses))], 1000*lines
		paid, refunded := 0, 0
		switch status {
		case "paid":
			paid = total
		case "partially_refunded":
			paid, refunded = total, 500
		case "refunded":
			paid, refunded = total, total
		}
		b.Queue(`INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total, amount_paid,
			amount_refunded, payer_name, payer_phone, description, expires_at, created_at, updated_at, idempotency_key, request_hash)
			VALUES ($1, $2, $3, $1, $4, 'VND', $5, $8, $9, 'An', $6, 'd', $7, $7, $7, $2, '\x00')`,
			id, fmt.Sprintf("LST%012d", i), agencies[0], status, total, fmt.Sprintf("09%08d", r.IntN(5)), at, paid, refunded)
		for k, a := range agencies {
			b.Queue(`INSERT INTO order_lines (order_id, line_no, service_code, agency_code, kind, amount)
				VALUES ($1, $2, $3, $4, 'fee', 1000)`, id, k+1, a+"-FEE", a)
		}
	}
	if err := pool.SendBatch(ctx, b).Close(); err != nil {
		t.Fatalf("seed orders: %v", err)
	}
	return start
}

// wantOrders is the plain definition of an agency's list: every order with a
// line of the agency and the filter's status, times and cursor, in list order.
func wantOrders(t *testing.T, pool *pgxpool.Pool, f payments.ListFilter) []uuid.UUID {
	t.Helper()
	after := payments.Cursor{CreatedAt: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), ID: uuid.Max}
	if f.After != nil {
		after = *f.After
	}
	rows, err := pool.Query(context.Background(), `SELECT o.id FROM orders o
		WHERE EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.agency_code = $1)
		  AND ($2 = '' OR o.status = $2)
		  AND ($3::timestamptz IS NULL OR o.created_at >= $3) AND ($4::timestamptz IS NULL OR o.created_at < $4)
		  AND ($7 = '' OR o.payer_phone = $7)
		  AND (o.created_at, o.id) < ($5, $6)
		ORDER BY o.created_at DESC, o.id DESC LIMIT $8`,
		f.AgencyCode, string(f.Status), f.From, f.To, after.CreatedAt, after.ID, f.PayerPhone, f.Limit)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestAgencyListIsEveryOrderWithALineOfTheAgency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	start := seedAgencyOrders(t, pool, 600, 1)
	day := func(d int) *time.Time { x := start.AddDate(0, 0, d); return &x }
	cases := []struct {
		name string
		f    payments.ListFilter
	}{
		{"everything", payments.ListFilter{}},
		{"paid", payments.ListFilter{Status: payments.StatusPaid}},
		{"paid, days 2 to 6", payments.ListFilter{Status: payments.StatusPaid, From: day(2), To: day(6)}},
		{"from day 7", payments.ListFilter{From: day(7)}},
		{"before day 3", payments.ListFilter{To: day(3)}},
		{"cancelled, day 4", payments.ListFilter{Status: payments.StatusCancelled, From: day(4), To: day(5)}},
		{"a phone", payments.ListFilter{PayerPhone: "0900000002"}},
		{"a phone, refunded", payments.ListFilter{PayerPhone: "0900000003", Status: payments.StatusRefunded}},
		{"no day", payments.ListFilter{From: day(20)}},
	}
	for _, agency := range []string{"AG-0", "AG-1", "AG-2", "AG-3", "AG-9"} {
		for _, tc := range cases {
			for _, limit := range []int{1, 7, 50} {
				t.Run(fmt.Sprintf("%s/%s/limit %d", agency, tc.name, limit), func(t *testing.T) {
					t.Parallel()
					f := tc.f
					f.AgencyCode, f.Limit = agency, limit
					pages := 0
					var seen []uuid.UUID
					for {
						got, err := payments.ListOrders(ctx, pool, f)
						if err != nil {
							t.Fatal(err)
						}
						want := wantOrders(t, pool, f)
						ids := make([]uuid.UUID, len(got))
						for i, o := range got {
							ids[i] = o.ID
							if !slices.Contains(o.Agencies(), agency) {
								t.Fatalf("page %d: order %s has no line of %s: %v", pages, o.ID, agency, o.Agencies())
							}
						}
						if !slices.Equal(ids, want) {
							t.Fatalf("page %d: got %v\nwant %v", pages, ids, want)
						}
						seen = append(seen, ids...)
						pages++
						if len(got) < limit {
							break
						}
						last := got[len(got)-1]
						f.After = &payments.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
					}
					all := f
					all.After, all.Limit = nil, 10_000
					if want := wantOrders(t, pool, all); !slices.Equal(seen, want) {
						t.Fatalf("the pages hold %d orders; want the %d of the agency", len(seen), len(want))
					}
				})
			}
		}
	}
	// The seed must have tried what the merge has to get right.
	var later, sameAgencyTwice int
	if err := pool.QueryRow(ctx, `SELECT
		(SELECT count(DISTINCT order_id) FROM order_lines l JOIN orders o ON o.id = l.order_id
			WHERE l.line_no > 1 AND l.agency_code <> o.agency_code),
		(SELECT count(*) FROM (SELECT order_id FROM order_lines WHERE line_no > 1 GROUP BY order_id, agency_code HAVING count(*) > 1) x)`).
		Scan(&later, &sameAgencyTwice); err != nil {
		t.Fatal(err)
	}
	if later < 50 || sameAgencyTwice < 20 {
		t.Fatalf("seed has %d orders with another agency on a later line and %d with one agency on two later lines", later, sameAgencyTwice)
	}
}

// Every line carries its order's created_at: the trigger fills it when an
// insert leaves it out, and order creation writes it.
func TestOrderLinesCarryTheirOrdersCreatedAt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	seedAgencyOrders(t, pool, 40, 2)
	var lines, wrong int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE l.order_created_at IS DISTINCT FROM o.created_at)
		FROM order_lines l JOIN orders o ON o.id = l.order_id`).Scan(&lines, &wrong); err != nil {
		t.Fatal(err)
	}
	if lines == 0 || wrong != 0 {
		t.Fatalf("%d of %d lines inserted without order_created_at do not carry their order's created_at", wrong, lines)
	}
}

// Order creation writes order_created_at itself: with the trigger disabled,
// orders made through the API still carry it.
func TestCreatedOrdersWriteTheirLinesCreatedAt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := apptest.New(t)
	if _, err := e.Pool.Exec(ctx, `ALTER TABLE order_lines DISABLE TRIGGER order_line_created_at`); err != nil {
		t.Fatal(err)
	}
	for _, withB := range []bool{false, true} {
		newOrder(t, e, withB)
	}
	var lines, wrong int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE l.order_created_at IS DISTINCT FROM o.created_at)
		FROM order_lines l JOIN orders o ON o.id = l.order_id`).Scan(&lines, &wrong); err != nil {
		t.Fatal(err)
	}
	if lines != 3 || wrong != 0 {
		t.Fatalf("%d of %d lines created through the API do not carry their order's created_at; want 3 lines", wrong, lines)
	}
}
