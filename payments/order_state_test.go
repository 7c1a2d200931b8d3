package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// no marks a move the table refuses.
const no = Status("")

// statusGrid is the order's state machine written out by hand, as
// order_state.go's comment draws it: for each status, the status each event
// of statusEvents leaves it in (startAttempt, pay, cancel, expire,
// reserveRefund, releaseRefund, refundPart, refundFull), or no.
var statusGrid = map[Status][]Status{
	StatusOpen:              {StatusOpen, StatusPaid, StatusCancelled, StatusExpired, no, no, no, no},
	StatusPaid:              {no, no, no, no, StatusPaid, StatusPaid, StatusPartiallyRefunded, StatusRefunded},
	StatusPartiallyRefunded: {no, no, no, no, StatusPartiallyRefunded, StatusPartiallyRefunded, StatusPartiallyRefunded, StatusRefunded},
	StatusRefunded:          {no, no, no, no, no, no, no, no},
	StatusCancelled:         {no, no, no, no, no, no, no, no},
	StatusExpired:           {no, no, no, no, no, no, no, no},
}

// orderRow is what the CHECKs on orders look at.
type orderRow struct {
	status                         Status
	total, paid, refunded, pending decimal.Decimal
}

func (r orderRow) String() string {
	return fmt.Sprintf("%s (total %s, paid %s, refunded %s, in flight %s)", r.status, r.total, r.paid, r.refunded, r.pending)
}

// checksAccept is the CHECK constraints on orders (00001_foundation.sql,
// 00003_payments.sql) said again in Go; TestOrderChecksInDatabase holds it
// to the database's.
func checksAccept(r orderRow) bool {
	zero := decimal.Zero
	settled := r.status == StatusPaid || r.status == StatusPartiallyRefunded || r.status == StatusRefunded
	refundOK := r.refunded.IsZero()
	switch r.status {
	case StatusPartiallyRefunded:
		refundOK = r.refunded.GreaterThan(zero) && r.refunded.LessThan(r.paid)
	case StatusRefunded:
		refundOK = r.refunded.Equal(r.paid)
	}
	return !r.paid.IsNegative() && // amount_paid >= 0
		!r.refunded.IsNegative() && !r.refunded.GreaterThan(r.paid) && // amount_refunded between 0 and amount_paid
		!r.pending.IsNegative() && // orders_refund_pending_nonnegative
		!r.refunded.Add(r.pending).GreaterThan(r.paid) && // orders_refunds_within_paid
		(r.paid.IsZero() || r.paid.Equal(r.total)) && // orders_paid_in_full
		r.paid.IsPositive() == settled && // orders_paid_status
		refundOK // orders_refund_status
}

var (
	total200k = decimal.NewFromInt(200000)
	part50k   = decimal.NewFromInt(50000)
)

// typicalRow is an order in status s with the amounts the CHECKs want of it:
// nothing paid before it is paid; 50 000 of 200 000 refunded when partially
// refunded; all when refunded.
func typicalRow(s Status) orderRow {
	r := orderRow{status: s, total: total200k, paid: decimal.Zero, refunded: decimal.Zero, pending: decimal.Zero}
	switch s {
	case StatusPaid:
		r.paid = total200k
	case StatusPartiallyRefunded:
		r.paid, r.refunded = total200k, part50k
	case StatusRefunded:
		r.paid, r.refunded = total200k, total200k
	}
	return r
}

// eventAmount is the amount an event moves on an order like r: a refund of
// 50 000, or for a full refund what is left unrefunded (the total when
// nothing is).
func eventAmount(ev statusEvent, r orderRow) decimal.Decimal {
	if ev == evRefundFull {
		if left := r.paid.Sub(r.refunded); left.IsPositive() {
			return left
		}
		return r.total
	}
	return part50k
}

// withReservation is r with the reservation ev settles (a release or a
// refund), where the CHECKs let r hold one.
func withReservation(ev statusEvent, r orderRow) orderRow {
	if ev != evReleaseRefund && ev != evRefundPart && ev != evRefundFull {
		return r
	}
	held := r
	held.pending = eventAmount(ev, r)
	if checksAccept(held) {
		return held
	}
	return r
}

// apply is r after ev's amounts (not its status).
func apply(ev statusEvent, r orderRow) orderRow {
	amount := eventAmount(ev, r)
	switch ev {
	case evPay:
		r.paid = r.total
	case evReserveRefund:
		r.pending = r.pending.Add(amount)
	case evReleaseRefund:
		r.pending = r.pending.Sub(amount)
	case evRefundPart, evRefundFull:
		r.refunded, r.pending = r.refunded.Add(amount), r.pending.Sub(amount)
	}
	return r
}

// guardOnly lists the moves the table refuses that the CHECKs cannot tell
// from allowed ones, because the row they would leave is a valid row of
// another order: a second payment of a paid order, a payment or a closing
// of a closed order, an attempt on an order that is not open. The writers'
// guards (statusEvent.sqlGuard) are what refuses them in the database
// (TestOrderTransitionsInDatabase); every other refused move the CHECKs
// refuse too.
var guardOnly = map[Status]map[statusEvent]bool{
	StatusPaid:              {evStartAttempt: true, evPay: true},
	StatusPartiallyRefunded: {evStartAttempt: true},
	StatusRefunded:          {evStartAttempt: true},
	StatusCancelled:         {evStartAttempt: true, evPay: true, evCancel: true, evExpire: true},
	StatusExpired:           {evStartAttempt: true, evPay: true, evCancel: true, evExpire: true},
}

// refusedRow is the row ev would leave an order in status s in, were it
// written with no guard: its amounts applied, the status ev writes.
func refusedRow(ev statusEvent, s Status) orderRow {
	r := apply(ev, withReservation(ev, typicalRow(s)))
	if to := ev.target(); to != "" {
		r.status = to
	}
	return r
}

// TestOrderStatusTable checks the table against the grid written out by
// hand, the refusals' errors, and that every move the table allows leaves
// an order its amounts fit, as the database's CHECKs say (checksAccept):
// the table never asks the database for a row it refuses.
func TestOrderStatusTable(t *testing.T) {
	t.Parallel()
	if len(statusGrid) != len(orderStatuses) || len(orderMoves) != len(statusEvents) {
		t.Fatalf("the grid has %d statuses and the table %d events; want %d and %d",
			len(statusGrid), len(orderMoves), len(orderStatuses), len(statusEvents))
	}
	for _, s := range orderStatuses {
		for i, ev := range statusEvents {
			t.Run(string(s)+"/"+ev.String(), func(t *testing.T) {
				t.Parallel()
				want := statusGrid[s][i]
				got, err := ev.next(s)
				if want == no {
					refusal := ErrNotOpen
					if ev >= evReserveRefund {
						refusal = ErrNotRefundable
					}
					if err == nil || !errors.Is(err, refusal) || ev.allows(s) {
						t.Fatalf("next = %q, %v; want refused with %v", got, err, refusal)
					}
					if accepted := checksAccept(refusedRow(ev, s)); accepted != guardOnly[s][ev] {
						t.Fatalf("the CHECKs accept the row %s would leave a %s order: %v, want %v (guardOnly)",
							ev, s, accepted, guardOnly[s][ev])
					}
					return
				}
				if err != nil || got != want || !ev.allows(s) {
					t.Fatalf("next = %q, %v; want %q", got, err, want)
				}
				if to := ev.target(); to != "" && to != got {
					t.Fatalf("target = %q, but next from %s = %q: writers write target", to, s, got)
				}
				before := withReservation(ev, typicalRow(s))
				if !checksAccept(before) {
					t.Fatalf("the test's own row %+v breaks the CHECKs", before)
				}
				after := apply(ev, before)
				after.status = got
				if !checksAccept(after) {
					t.Fatalf("%s from %s leaves %+v, which the CHECKs refuse", ev, s, after)
				}
			})
		}
	}
}

func TestRefundEvent(t *testing.T) {
	t.Parallel()
	o := Order{AmountPaid: total200k, AmountRefunded: part50k}
	for _, tt := range []struct {
		amount int64
		want   statusEvent
	}{{50000, evRefundPart}, {149999, evRefundPart}, {150000, evRefundFull}} {
		if got := refundEvent(o, decimal.NewFromInt(tt.amount)); got != tt.want {
			t.Errorf("refund of %d after 50 000 of 200 000 = %s, want %s", tt.amount, got, tt.want)
		}
	}
}

func TestSQLGuard(t *testing.T) {
	t.Parallel()
	if got := evPay.sqlGuard("o.status"); got != "o.status = 'open'" {
		t.Errorf("evPay guard = %s", got)
	}
	if got := evRefundFull.sqlGuard("status"); got != "status IN ('paid', 'partially_refunded')" {
		t.Errorf("evRefundFull guard = %s", got)
	}
}

// seedOrder writes an order of 200 000 VND (one line, a pending fakepay
// attempt) and sets it to r.
func seedOrder(t *testing.T, pool *pgxpool.Pool, r orderRow) uuid.UUID {
	t.Helper()
	id, _, _ := openAttempt(t, pool, "AG-A")
	if _, err := pool.Exec(context.Background(), `UPDATE orders SET status = $2, amount_paid = $3,
		amount_refunded = $4, amount_refund_pending = $5 WHERE id = $1`,
		id, string(r.status), r.paid, r.refunded, r.pending); err != nil {
		t.Fatalf("seed %+v: %v", r, err)
	}
	return id
}

// TestOrderChecksInDatabase writes every status with every shape of amounts
// straight into an order, no guard, and checks that the database's CHECKs
// accept exactly what checksAccept does: the Go statement of the CHECKs
// that TestOrderStatusTable holds the table to is the database's.
func TestOrderChecksInDatabase(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	id := seedOrder(t, pool, typicalRow(StatusOpen))
	amounts := []decimal.Decimal{decimal.Zero, part50k, total200k}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	n := 0
	for _, s := range orderStatuses {
		for _, paid := range []decimal.Decimal{decimal.Zero, part50k, total200k} {
			for _, refunded := range amounts {
				for _, pending := range []decimal.Decimal{decimal.Zero, part50k} {
					r := orderRow{status: s, total: total200k, paid: paid, refunded: refunded, pending: pending}
					if _, err := tx.Exec(ctx, `SAVEPOINT row`); err != nil {
						t.Fatal(err)
					}
					_, err := tx.Exec(ctx, `UPDATE orders SET status = $2, amount_paid = $3, amount_refunded = $4,
						amount_refund_pending = $5 WHERE id = $1`, id, string(s), paid, refunded, pending)
					var pgErr *pgconn.PgError
					switch {
					case err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "23514"):
						t.Fatalf("%+v: %v, want a check violation or nothing", r, err)
					case (err == nil) != checksAccept(r):
						t.Errorf("%+v: database says %v, checksAccept %v", r, err, checksAccept(r))
					}
					if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT row`); err != nil {
						t.Fatal(err)
					}
					n++
				}
			}
		}
	}
	t.Logf("%d rows written", n)
}

// TestOrderTransitionsInDatabase runs the SQL of every writer of an order's
// status on an order in every status, without the Go code's check before
// it (a stale read, a race lost): the database does what the table says —
// the move and the status it leaves where the table allows it, and refuses
// it, with the writer's guard (derived from the table) or a CHECK, where
// the table refuses it.
func TestOrderTransitionsInDatabase(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	attempts := newAttemptWriter(pool, slog.New(slog.DiscardHandler), Config{}, 0)
	t.Cleanup(attempts.queue.Close)
	now := time.Now().UTC().Truncate(time.Microsecond)

	for _, s := range orderStatuses {
		for i, ev := range statusEvents {
			t.Run(string(s)+"/"+ev.String(), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				want := statusGrid[s][i]
				row := withReservation(ev, typicalRow(s))
				id := seedOrder(t, pool, row)
				amount := eventAmount(ev, row)

				if ev == evStartAttempt {
					a := Attempt{ID: uuid.New(), OrderID: id, Gateway: "fakepay", Method: gateways.MethodCard,
						GatewayRef: "T" + uuid.NewString()[:8], Currency: "VND", Amount: total200k, CreatedBy: "test",
						CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
					out, err := attempts.insertMany(ctx, []attemptJob{{a: a, event: json.RawMessage(`{}`)}})
					if err != nil {
						t.Fatal(err)
					}
					if out[a.ID].written != (want != no) || out[a.ID].open != (want != no) {
						t.Fatalf("attempt on a %s order: written %v, want %v", s, out[a.ID].written, want != no)
					}
					checkStatus(t, pool, id, s)
					return
				}

				tx, err := pool.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback(ctx)
				o, err := getOrder(ctx, tx, "o.id = $1", id, true)
				if err != nil {
					t.Fatal(err)
				}
				o.Status = orderMoves[ev].from[0] // what a stale read would believe
				rf := Refund{ID: uuid.New(), OrderID: id, Amount: amount}
				switch ev {
				case evPay:
					b := &pgx.Batch{}
					queueMarkPaid(b, id, now, now)
					err = tx.SendBatch(ctx, b).Close()
				case evCancel, evExpire:
					err = closeOrder(ctx, tx, id, ev, now)
				case evReserveRefund:
					err = reserveRefund(ctx, tx, id, amount, nil, now)
				case evReleaseRefund:
					_, err = releaseRefund(ctx, tx, o, rf, now)
				case evRefundPart, evRefundFull:
					_, err = settleRefundAs(ctx, tx, o, rf, ev, now)
				default:
					t.Fatalf("no writer for %s", ev)
				}

				if want != no {
					if err != nil {
						t.Fatalf("%s on a %s order: %v", ev, s, err)
					}
					var got string
					if err := tx.QueryRow(ctx, `SELECT status FROM orders WHERE id = $1`, id).Scan(&got); err != nil {
						t.Fatal(err)
					}
					if Status(got) != want {
						t.Fatalf("%s on a %s order left it %s, want %s", ev, s, got, want)
					}
					return
				}
				var pgErr *pgconn.PgError
				switch {
				case err == nil:
					t.Fatalf("%s on a %s order was written; the table refuses it", ev, s)
				case errors.Is(err, orderMoves[ev].refused):
					t.Logf("refused by the guard: %v", err)
				case ev == evReserveRefund && errors.Is(err, ErrRefundableChanged):
					t.Logf("refused by a CHECK: %v", err) // reserveRefund names orders_refunds_within_paid so
				case errors.As(err, &pgErr) && pgErr.Code == "23514":
					t.Logf("refused by %s", pgErr.ConstraintName)
				default:
					t.Fatalf("%s on a %s order: %v, want a refusal", ev, s, err)
				}
				tx.Rollback(ctx)
				checkStatus(t, pool, id, s)

				// The same move written with no guard: the CHECKs refuse
				// it unless it is one of guardOnly.
				r := refusedRow(ev, s)
				_, err = pool.Exec(ctx, `UPDATE orders SET status = $2, amount_paid = $3, amount_refunded = $4,
					amount_refund_pending = $5 WHERE id = $1`, id, string(r.status), r.paid, r.refunded, r.pending)
				switch {
				case err == nil && guardOnly[s][ev]:
					t.Logf("only the guard refuses it: unguarded, %+v is written", r)
				case err == nil:
					t.Fatalf("unguarded, %+v is written; it is not in guardOnly", r)
				case errors.As(err, &pgErr) && pgErr.Code == "23514" && !guardOnly[s][ev]:
					t.Logf("unguarded, %s refuses it too", pgErr.ConstraintName)
				default:
					t.Fatalf("unguarded %+v: %v, want the CHECKs' refusal", r, err)
				}
			})
		}
	}
}

func checkStatus(t *testing.T, pool *pgxpool.Pool, id uuid.UUID, want Status) {
	t.Helper()
	var got string
	if err := pool.QueryRow(context.Background(), `SELECT status FROM orders WHERE id = $1`, id).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if Status(got) != want {
		t.Fatalf("order is %s, want %s", got, want)
	}
}
