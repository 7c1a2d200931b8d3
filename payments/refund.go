package payments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/civicpay/civicpay/ledger"
)

// RefundStatus is where a refund stands: requested (not yet sent, or every
// try so far failed technically), pending (the gateway took it and has not
// finished), succeeded or failed (final).
type RefundStatus string

// Refund states.
const (
	RefundRequested RefundStatus = "requested"
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// Refund kinds: asked for by staff (counted against the order), or the
// automatic return of an overpaid attempt (outside the order's amounts).
const (
	RefundKindRefund      = "refund"
	RefundKindOverpayment = "overpayment"
)

// Refund gives back (part of) a successful attempt.
type Refund struct {
	ID              uuid.UUID       `json:"id"`
	OrderID         uuid.UUID       `json:"order_id"`
	AttemptID       uuid.UUID       `json:"attempt_id"`
	Kind            string          `json:"kind"`
	Currency        string          `json:"currency"`
	Amount          decimal.Decimal `json:"amount"`
	Status          RefundStatus    `json:"status"`
	Reason          string          `json:"reason"`
	RequestedBy     string          `json:"requested_by"`
	GatewayRefundID string          `json:"gateway_refund_id,omitempty"`
	Tries           int             `json:"tries"`
	LastError       string          `json:"last_error,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	CompletedAt     *time.Time      `json:"completed_at,omitempty"`
	// Lines is how a refund of kind "refund" is split across the order's
	// lines (payment_refund_lines); the ledger debits these agencies.
	Lines []RefundLine `json:"lines,omitempty"`
}

// RefundLine is one order line's part of a refund.
type RefundLine struct {
	LineNo      int             `json:"line_no"`
	AgencyCode  string          `json:"agency"`
	ServiceCode string          `json:"service"`
	Amount      decimal.Decimal `json:"amount"`
}

// Final reports whether the refund has its outcome.
func (r Refund) Final() bool { return r.Status == RefundSucceeded || r.Status == RefundFailed }

// Refundable is what may still be refunded: paid, less refunded, less
// refunds in flight.
func (o Order) Refundable() decimal.Decimal {
	return o.AmountPaid.Sub(o.AmountRefunded).Sub(o.AmountRefundPending)
}

// LineRefundable is what may still be refunded of l, a line of o: its amount
// once o is paid, less its refunds done and in flight.
func (o Order) LineRefundable(l Line) decimal.Decimal {
	if !o.AmountPaid.IsPositive() {
		return decimal.Zero
	}
	return l.Amount.Sub(l.AmountRefunded).Sub(l.AmountRefundPending)
}

// RefundableBy is what agency may still refund of o: the refundable of its
// own lines. For "" (treasury) it is the order's Refundable.
func (o Order) RefundableBy(agency string) decimal.Decimal {
	if agency == "" {
		return o.Refundable()
	}
	sum := decimal.Zero
	for _, l := range o.Lines {
		if l.AgencyCode == agency {
			sum = sum.Add(o.LineRefundable(l))
		}
	}
	return sum
}

// refundScope is the agency whose lines p may refund, or "" for every line
// (treasury).
func refundScope(p auth.Principal) string {
	if p.Role == auth.RoleAgency {
		return p.AgencyCode
	}
	return ""
}

// RefundRequest is the body of POST /v1/orders/{id}/refunds. ExpectedRefundable
// is the refundable amount the caller saw — for an agency, the refundable of
// its own lines; for treasury, the order's: if it changed meanwhile (another
// refund), the request is refused, so two people refunding at once cannot
// refund more than they meant to.
//
// Lines, if given, names the lines refunded and how much of each (Amount may
// then be left out, or must be their sum). Without it the amount is split
// across the caller's lines — an agency's own, treasury's all — in
// proportion to what each may still refund.
type RefundRequest struct {
	Amount             decimal.Decimal     `json:"amount"`
	Lines              []RefundLineRequest `json:"lines,omitempty"`
	ExpectedRefundable *decimal.Decimal    `json:"expected_refundable"`
	Reason             string              `json:"reason"`
}

// RefundLineRequest names one line of a refund and the amount refunded of it.
type RefundLineRequest struct {
	LineNo int             `json:"line_no"`
	Amount decimal.Decimal `json:"amount"`
}

// check validates req against o (locked) for a caller who may refund the
// lines of agency ("" for all): the fields, the order's state, the expected
// refundable amount, and the amounts within what each line may still
// refund. It returns the refund's split by line, and sets req.Amount.
func (req *RefundRequest) check(o Order, agency string) ([]RefundLine, error) {
	req.Reason = strings.TrimSpace(req.Reason)
	switch {
	case req.Reason == "" || utf8.RuneCountInString(req.Reason) > 500:
		return nil, invalid("reason", "required, at most 500 characters")
	case req.ExpectedRefundable == nil:
		return nil, invalid("expected_refundable", "required: the refundable amount shown to you (GET the order)")
	case len(req.Lines) > MaxLines:
		return nil, invalid("lines", "at most %d lines", MaxLines)
	}
	if len(req.Lines) == 0 {
		if err := money.Valid(req.Amount, o.Currency); err != nil {
			return nil, invalid("amount", "%v", err)
		}
	}
	refundable := o.RefundableBy(agency)
	whose := "the order"
	if agency != "" {
		whose = "agency " + agency + "'s lines"
	}
	if _, err := evReserveRefund.next(o.Status); err != nil {
		return nil, err
	}
	switch {
	case !req.ExpectedRefundable.Equal(refundable):
		return nil, fmt.Errorf("%w: %s %s refundable now from %s, %s expected", ErrRefundableChanged, refundable, o.Currency,
			whose, req.ExpectedRefundable)
	}
	if len(req.Lines) == 0 {
		if req.Amount.GreaterThan(refundable) {
			return nil, invalid("amount", "at most the refundable %s %s of %s", refundable, o.Currency, whose)
		}
		return splitRefund(o, agency, req.Amount)
	}
	out := make([]RefundLine, 0, len(req.Lines))
	total := decimal.Zero
	for i, rl := range req.Lines {
		field := fmt.Sprintf("lines[%d]", i)
		idx := slices.IndexFunc(o.Lines, func(l Line) bool { return l.No == rl.LineNo })
		if idx < 0 {
			return nil, invalid(field+".line_no", "the order has no line %d", rl.LineNo)
		}
		l := o.Lines[idx]
		if slices.ContainsFunc(out, func(x RefundLine) bool { return x.LineNo == l.No }) {
			return nil, invalid(field+".line_no", "line %d is named twice", l.No)
		}
		if agency != "" && l.AgencyCode != agency {
			return nil, fmt.Errorf("%w: line %d is agency %s's; agency %s refunds only its own lines",
				ErrNotOrderAgency, l.No, l.AgencyCode, agency)
		}
		if err := money.Valid(rl.Amount, o.Currency); err != nil {
			return nil, invalid(field+".amount", "%v", err)
		}
		if lr := o.LineRefundable(l); rl.Amount.GreaterThan(lr) {
			return nil, invalid(field+".amount", "at most line %d's refundable %s %s", l.No, lr, o.Currency)
		}
		out = append(out, RefundLine{LineNo: l.No, AgencyCode: l.AgencyCode, ServiceCode: l.ServiceCode, Amount: rl.Amount})
		total = total.Add(rl.Amount)
	}
	switch {
	case req.Amount.IsZero():
		req.Amount = total
	case !req.Amount.Equal(total):
		return nil, invalid("amount", "the sum of the lines' amounts (%s), or left out", total)
	}
	return out, nil
}

// splitRefund splits amount across o's lines of agency ("" for every line)
// in proportion to what each may still refund, in the currency's decimals
// (money.Split: largest remainder, the earlier line first on a tie); lines
// with no share are left out. amount is at most what those lines may refund,
// so no line gets more than its refundable.
func splitRefund(o Order, agency string, amount decimal.Decimal) ([]RefundLine, error) {
	var (
		lines []Line
		room  []decimal.Decimal
	)
	for _, l := range o.Lines {
		if r := o.LineRefundable(l); (agency == "" || l.AgencyCode == agency) && r.IsPositive() {
			lines, room = append(lines, l), append(room, r)
		}
	}
	if len(lines) == 0 {
		return nil, nil
	}
	parts, err := money.Split(amount, o.Currency, room)
	if err != nil {
		return nil, fmt.Errorf("split refund of order %s: %w", o.ID, err)
	}
	out := make([]RefundLine, 0, len(lines))
	for i, l := range lines {
		if parts[i].IsPositive() {
			out = append(out, RefundLine{LineNo: l.No, AgencyCode: l.AgencyCode, ServiceCode: l.ServiceCode, Amount: parts[i]})
		}
	}
	return out, nil
}

// shares is what the refund's ledger entry debits: each of its lines from
// its agency. A refund recorded without lines (requested before refunds were
// split by line, and not backfilled) is split pro rata across o's lines.
func (rf Refund) shares(o Order) []ledger.Share {
	if len(rf.Lines) == 0 {
		return refundShares(o, rf.Amount)
	}
	out := make([]ledger.Share, len(rf.Lines))
	for i, l := range rf.Lines {
		out[i] = ledger.Share{AgencyCode: l.AgencyCode, ServiceCode: l.ServiceCode, Amount: l.Amount}
	}
	return out
}

// RequestRefund asks for a refund of (part of) the order on behalf of p: the
// amount is reserved on the order and the refund's job queued, in one
// transaction with the order locked. The gateway is called by the job.
//
// A request carries no idempotency key, so its transaction runs again only
// where PostgreSQL says it did not commit (db.Tx), never after a connection
// lost during COMMIT: that answers 503 outcome-unknown, and a request sent
// again then finds the refundable amount changed if the first was done.
func (f *Paying) RequestRefund(ctx context.Context, p auth.Principal, orderID uuid.UUID, req RefundRequest) (Refund, error) {
	var rf Refund
	ctx = auth.ActorContext(ctx, p)
	err := db.Tx(ctx, f.pool, "payments.request_refund", func(tx pgx.Tx) error {
		o, err := getOrder(ctx, tx, "o.id = $1", orderID, true)
		if err != nil {
			return err
		}
		if !visible(p, o) {
			return ErrOrderNotFound
		}
		lines, err := req.check(o, refundScope(p))
		if err != nil {
			return err
		}
		a, err := payingAttempt(ctx, tx, o.ID)
		if err != nil {
			return err
		}
		now := f.now()
		rf = Refund{ID: uuid.Must(uuid.NewV7()), OrderID: o.ID, AttemptID: a.ID, Kind: RefundKindRefund,
			Currency: o.Currency, Amount: req.Amount, Status: RefundRequested, Reason: req.Reason,
			RequestedBy: p.Actor(), CreatedAt: now, UpdatedAt: now, Lines: lines}
		if err := reserveRefund(ctx, tx, o.ID, rf.Amount, rf.Lines, now); err != nil {
			return err
		}
		if err := f.queueRefund(ctx, tx, &pgx.Batch{}, rf); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "refund.request", ResourceType: "refund", ResourceID: rf.ID.String(), After: rf})
	})
	if err != nil {
		return Refund{}, fmt.Errorf("order %s: refund: %w", orderID, err)
	}
	return rf, nil
}

// queueRefund adds a new refund and its event to b, sends b, and inserts
// the refund's job, in tx.
func (f *Paying) queueRefund(ctx context.Context, tx pgx.Tx, b *pgx.Batch, rf Refund) error {
	queueInsertRefund(b, rf)
	if err := queueEvent(b, rf.OrderID, "refund.requested", rf.RequestedBy, map[string]any{
		"refund_id": rf.ID, "kind": rf.Kind, "amount": rf.Amount, "reason": rf.Reason, "lines": rf.Lines}); err != nil {
		return err
	}
	if err := sendBatch(ctx, tx, b); err != nil {
		return err
	}
	if _, err := f.jobs.InsertTx(ctx, tx, RefundArgs{RefundID: rf.ID}, nil); err != nil {
		return fmt.Errorf("insert refund job: %w", err)
	}
	return nil
}

// Refunds lists an order's refunds, oldest first, with no access check.
func (f *Paying) Refunds(ctx context.Context, orderID uuid.UUID) ([]Refund, error) {
	return listRefunds(ctx, f.pool, orderID)
}

// refundStep is what to do after a call to the gateway about a refund.
type refundStep int

const (
	stepSucceeded refundStep = iota // the gateway refunded: record it
	stepFailed                      // the gateway refused for good: the refund failed
	stepPending                     // the gateway has it in progress: ask again later
	stepRetry                       // the call failed: count the try, retry later
	stepWait                        // the breaker refused the call: retry later, no try counted
)

// nextRefundStep reads the gateway's answer to a refund (or refund status) call.
func nextRefundStep(res gateways.RefundResult, err error) refundStep {
	switch {
	case gateways.IsUnavailable(err):
		return stepWait
	case errors.Is(err, gateways.ErrRejected), errors.Is(err, gateways.ErrInvalidRequest), errors.Is(err, gateways.ErrUnsupported):
		return stepFailed
	case err != nil:
		return stepRetry // technical failure, unreadable or unsigned answer: try again
	case res.Status == gateways.StatusSucceeded:
		return stepSucceeded
	case res.Status == gateways.StatusFailed:
		return stepFailed
	default:
		return stepPending
	}
}

// advanceRefund makes one step of a refund's job: it calls the gateway (or,
// once the gateway has the refund in progress, asks it about it where the
// gateway can say) and records the answer. It returns how long to wait
// before the next step, or 0 when the refund needs no more steps.
//
// The gateway sees the refund's id as RefundRef on every call, so a retry
// after a lost answer is a duplicate to the gateway, never a second refund.
// A refund fails for good on the gateway's refusal, or after RefundMaxTries
// calls that all failed technically: the failure is on the order's refunds
// and in a "refund.failed" event, and its amount is refundable again. A
// refund the gateway took but never finished within RefundMaxTries checks
// stays pending, its amount reserved, noted for treasury to settle against
// the gateway's settlement file: releasing it could refund twice.
func (f *Paying) advanceRefund(ctx context.Context, id uuid.UUID, waits int) (time.Duration, error) {
	rf, err := getRefund(ctx, f.pool, id, false)
	if err != nil {
		return 0, err
	}
	if rf.Final() {
		return 0, nil
	}
	a, err := getAttempt(ctx, f.pool, rf.AttemptID, false)
	if err != nil {
		return 0, err
	}
	res, err := f.callRefund(ctx, rf, a)
	step := nextRefundStep(res, err)
	delay := backoff(f.cfg.RefundRetry, f.cfg.RefundRetryMax, waits)
	switch step {
	case stepWait:
		return delay, nil
	case stepSucceeded:
		return 0, f.completeRefund(ctx, rf, a, res)
	case stepFailed:
		return 0, f.failRefund(ctx, rf, refundError(res, err))
	}
	msg := refundError(res, err)
	status := rf.Status
	if step == stepPending {
		status = RefundPending
	}
	last := rf.Tries+1 >= f.cfg.RefundMaxTries
	switch {
	case last && status == RefundRequested:
		return 0, f.failRefund(ctx, rf, fmt.Sprintf("no final answer after %d tries: %s", rf.Tries+1, msg))
	case last:
		// The gateway has the refund and may still pay it out: it stays
		// pending (its amount reserved) for treasury to settle.
		msg = fmt.Sprintf("still in progress at the gateway after %d tries; no more checks: %s", rf.Tries+1, msg)
		delay = 0
	}
	if err := noteRefundTry(ctx, f.pool, rf.ID, status, msg, f.now()); err != nil {
		return 0, err
	}
	return delay, nil
}

// callRefund sends the refund, or asks about it once the gateway has it pending.
func (f *Paying) callRefund(ctx context.Context, rf Refund, a Attempt) (gateways.RefundResult, error) {
	gw, err := f.router.Get(a.Gateway)
	if err != nil {
		return gateways.RefundResult{}, fmt.Errorf("%w: %v", gateways.ErrUnsupported, err)
	}
	req := gateways.RefundRequest{
		RefundRef: attemptRef(rf.ID), GatewayRef: a.GatewayRef, GatewayTxnID: a.GatewayTxnID, Amount: rf.Amount,
		OriginalAmount: a.Amount, Full: rf.Amount.Equal(a.Amount), Reason: rf.Reason, CreatedAt: rf.CreatedAt,
		OriginalCreatedAt: a.CreatedAt,
	}
	callCtx, cancel := context.WithTimeout(ctx, f.cfg.CallTimeout)
	defer cancel()
	if q, ok := gw.(gateways.RefundQuerier); ok && rf.Status == RefundPending {
		res, err := q.QueryRefund(callCtx, req)
		if !errors.Is(err, gateways.ErrUnsupported) {
			return res, err
		}
	}
	return gw.Refund(callCtx, req)
}

func refundError(res gateways.RefundResult, err error) string {
	if err != nil {
		return err.Error()
	}
	if res.Code == "" && res.Message == "" {
		return string(res.Status)
	}
	return fmt.Sprintf("%s: code %s: %s", res.Status, res.Code, res.Message)
}

// completeRefund records the gateway's confirmation: the refund succeeded,
// and in one transaction with the order locked, the order's amounts and
// status, the ledger entry and the event. A refund asked for by staff posts
// "refund:<id>" (shares pro rata across the order's lines) and publishes
// "order.refunded"; an overpayment's refund posts "overpayment-refund:<id>".
func (f *Paying) completeRefund(ctx context.Context, rf Refund, a Attempt, res gateways.RefundResult) error {
	return f.settleRefund(ctx, rf.ID, func(tx pgx.Tx, o Order, rf Refund, now time.Time) error {
		if err := finishRefund(ctx, tx, rf.ID, RefundSucceeded, res.GatewayRefundID, "", now); err != nil {
			return err
		}
		if rf.Kind == RefundKindOverpayment {
			if _, err := ledger.PostOverpaymentRefund(ctx, tx, ledger.OverpaymentRefund{
				Key: "overpayment-refund:" + rf.ID.String(), OrderID: o.ID, AttemptID: a.ID, RefundID: rf.ID,
				Gateway: a.Gateway, Currency: rf.Currency, Amount: rf.Amount, EffectiveAt: now, Now: now,
			}); err != nil {
				return fmt.Errorf("ledger: %w", err)
			}
			return InsertEvent(ctx, tx, o.ID, "overpayment.refunded", "system:refunds", map[string]any{
				"refund_id": rf.ID, "attempt_id": a.ID, "amount": rf.Amount})
		}
		shares := rf.shares(o)
		o, err := applyRefund(ctx, tx, o, rf, now)
		if err != nil {
			return err
		}
		if _, err := ledger.PostRefund(ctx, tx, ledger.Refund{
			Key: "refund:" + rf.ID.String(), OrderID: o.ID, RefundID: rf.ID, Gateway: a.Gateway,
			Channel: string(a.Method), Currency: rf.Currency, Shares: shares, EffectiveAt: now, Now: now,
		}); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		return f.orders.publish(ctx, tx, o, "order.refunded", "system:refunds", map[string]any{
			"refund_id": rf.ID, "amount": rf.Amount, "gateway_refund_id": res.GatewayRefundID, "lines": rf.Lines})
	})
}

// failRefund ends a refund that will not happen: its reservation on the order
// is released and "refund.failed" published.
func (f *Paying) failRefund(ctx context.Context, rf Refund, reason string) error {
	return f.settleRefund(ctx, rf.ID, func(tx pgx.Tx, o Order, rf Refund, now time.Time) error {
		if err := finishRefund(ctx, tx, rf.ID, RefundFailed, "", reason, now); err != nil {
			return err
		}
		if rf.Kind == RefundKindRefund {
			var err error
			if o, err = releaseRefund(ctx, tx, o, rf, now); err != nil {
				return err
			}
		}
		f.log.WarnContext(ctx, "refund failed", "refund", rf.ID, "order", o.ID, "reason", reason)
		return f.orders.publish(ctx, tx, o, "refund.failed", "system:refunds", map[string]any{
			"refund_id": rf.ID, "kind": rf.Kind, "amount": rf.Amount, "error": reason})
	})
}

// settleRefund runs fn on a refund that is not final yet, with its order and
// the refund locked in that order, in one transaction. It is idempotent (a
// final refund is left alone; the ledger entry has its key), so it runs
// again where PostgreSQL says it may (db.IdempotentTx).
func (f *Paying) settleRefund(ctx context.Context, id uuid.UUID, fn func(tx pgx.Tx, o Order, rf Refund, now time.Time) error) error {
	err := db.IdempotentTx(ctx, f.pool, "payments.settle_refund", func(tx pgx.Tx) error {
		o, err := getOrder(ctx, tx, "o.id = (SELECT order_id FROM payment_refunds WHERE id = $1)", id, true)
		if err != nil {
			return err
		}
		rf, err := getRefund(ctx, tx, id, true)
		if err != nil || rf.Final() {
			return err
		}
		return fn(tx, o, rf, f.now())
	})
	if err != nil {
		return fmt.Errorf("refund %s: %w", id, err)
	}
	return nil
}

// refundConstraint reports whether err is the database refusing a refund
// beyond what was paid, or beyond a line's amount.
func refundConstraint(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.ConstraintName == "orders_refunds_within_paid" ||
		pgErr.ConstraintName == "order_lines_refunds_within_amount")
}

// RefundArgs is the River job that takes a refund to the gateway and follows
// it until the gateway's final answer.
type RefundArgs struct {
	RefundID uuid.UUID `json:"refund_id"`
}

// Kind names the job in River.
func (RefundArgs) Kind() string { return "payments.refund" }

// InsertOpts put refunds on the payments queue.
func (RefundArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue} }
