package payments

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

// The order's state machine: what may happen to an order in each status, and
// the status it leaves the order in. It is the one place this is decided:
// every writer of an order's status (or of the amounts a status guards)
// asks the table in Go before it writes, and its SQL is guarded by the
// statuses the table allows (statusEvent.sqlGuard), so that a write racing
// another one, or made on a stale read, is refused by the database.
//
//	event           open       paid                 partially_refunded   refunded  cancelled  expired
//	startAttempt    open       -                    -                    -         -          -
//	pay             paid       -                    -                    -         -          -
//	cancel          cancelled  -                    -                    -         -          -
//	expire          expired    -                    -                    -         -          -
//	reserveRefund   -          paid                 partially_refunded   -         -          -
//	releaseRefund   -          paid                 partially_refunded   -         -          -
//	refundPart      -          partially_refunded   partially_refunded   -         -          -
//	refundFull      -          refunded             refunded             -         -          -
//
// The database's CHECKs on orders (migrations/00003_payments.sql) hold the
// amounts to the status: paid, partially refunded and refunded orders have
// their total paid, the others nothing (orders_paid_status); a partially
// refunded order some of it refunded, a refunded one all of it, the others
// none (orders_refund_status); never more refunded and in flight than paid
// (orders_refunds_within_paid). Each allowed move leaves amounts those
// CHECKs accept (TestOrderStatusTable); the moves the CHECKs cannot tell
// apart from allowed ones (a cancelled order paid, an expired one
// cancelled: both rows would be valid) are refused by the guard
// (TestOrderTransitionsInDatabase).

// statusEvent is something that happens to an order, as far as its status is
// concerned.
type statusEvent int

const (
	// evStartAttempt: an attempt at a gateway is started (attemptWriter).
	evStartAttempt statusEvent = iota
	// evPay: a gateway's success pays the order (queueMarkPaid); on an order
	// this is refused for, the success is an overpayment instead (decide).
	evPay
	// evCancel: a portal or the leading agency cancels the order (Orders.Cancel).
	evCancel
	// evExpire: the order's expiry passed unpaid (Orders.ExpireDue).
	evExpire
	// evReserveRefund: a refund is requested and its amount set aside
	// (reserveRefund).
	evReserveRefund
	// evReleaseRefund: a refund failed and its reservation is given back
	// (releaseRefund).
	evReleaseRefund
	// evRefundPart: the gateway confirmed a refund that leaves some of the
	// payment unrefunded (applyRefund).
	evRefundPart
	// evRefundFull: the gateway confirmed a refund of the rest of the
	// payment (applyRefund).
	evRefundFull
)

// statusEvents lists every statusEvent, in the table's order.
var statusEvents = []statusEvent{evStartAttempt, evPay, evCancel, evExpire, evReserveRefund, evReleaseRefund,
	evRefundPart, evRefundFull}

// orderStatuses lists every order status, in the table's order.
var orderStatuses = []Status{StatusOpen, StatusPaid, StatusPartiallyRefunded, StatusRefunded, StatusCancelled, StatusExpired}

// move is one row of the table: the statuses an event may happen in, the
// status it leaves (empty: the one it was in), and the error it is refused
// with in any other status.
type move struct {
	from    []Status
	to      Status
	refused error
}

var orderMoves = map[statusEvent]move{
	evStartAttempt:  {from: []Status{StatusOpen}, refused: ErrNotOpen},
	evPay:           {from: []Status{StatusOpen}, to: StatusPaid, refused: ErrNotOpen},
	evCancel:        {from: []Status{StatusOpen}, to: StatusCancelled, refused: ErrNotOpen},
	evExpire:        {from: []Status{StatusOpen}, to: StatusExpired, refused: ErrNotOpen},
	evReserveRefund: {from: []Status{StatusPaid, StatusPartiallyRefunded}, refused: ErrNotRefundable},
	evReleaseRefund: {from: []Status{StatusPaid, StatusPartiallyRefunded}, refused: ErrNotRefundable},
	evRefundPart:    {from: []Status{StatusPaid, StatusPartiallyRefunded}, to: StatusPartiallyRefunded, refused: ErrNotRefundable},
	evRefundFull:    {from: []Status{StatusPaid, StatusPartiallyRefunded}, to: StatusRefunded, refused: ErrNotRefundable},
}

func (ev statusEvent) String() string {
	switch ev {
	case evStartAttempt:
		return "startAttempt"
	case evPay:
		return "pay"
	case evCancel:
		return "cancel"
	case evExpire:
		return "expire"
	case evReserveRefund:
		return "reserveRefund"
	case evReleaseRefund:
		return "releaseRefund"
	case evRefundPart:
		return "refundPart"
	case evRefundFull:
		return "refundFull"
	}
	return fmt.Sprintf("statusEvent(%d)", int(ev))
}

// next is the status an order in status from is in after ev, or an error
// wrapping ev's refusal (ErrNotOpen, ErrNotRefundable) saying the status.
func (ev statusEvent) next(from Status) (Status, error) {
	m, ok := orderMoves[ev]
	if !ok {
		return "", fmt.Errorf("payments: no such order event %v", ev)
	}
	if !slices.Contains(m.from, from) {
		return "", fmt.Errorf("%w: it is %s", m.refused, from)
	}
	if m.to == "" {
		return from, nil
	}
	return m.to, nil
}

// allows reports whether ev may happen to an order in status from.
func (ev statusEvent) allows(from Status) bool {
	_, err := ev.next(from)
	return err == nil
}

// target is the status ev leaves an order in: the same from every status it
// may happen in (every event of the table but those that keep the status,
// which have none).
func (ev statusEvent) target() Status { return orderMoves[ev].to }

// sqlGuard is the SQL condition that col, an order's status column, is one
// ev may happen in: "o.status = 'open'", "status IN ('paid', ...)". The
// statuses are written out (they are the table's constants), so a partial
// index on a status is used whatever plan PostgreSQL keeps.
func (ev statusEvent) sqlGuard(col string) string {
	from := orderMoves[ev].from
	q := make([]string, len(from))
	for i, s := range from {
		q[i] = "'" + string(s) + "'"
	}
	if len(q) == 1 {
		return col + " = " + q[0]
	}
	return col + " IN (" + strings.Join(q, ", ") + ")"
}

// refundEvent is the event of the gateway confirming a refund of amount on
// o (locked): the full refund when it brings the refunded amount to what was
// paid, a partial one otherwise.
func refundEvent(o Order, amount decimal.Decimal) statusEvent {
	if o.AmountRefunded.Add(amount).Equal(o.AmountPaid) {
		return evRefundFull
	}
	return evRefundPart
}
