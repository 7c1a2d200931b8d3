package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/payments/reference"
)

// PayingConfig tunes paying. It has no defaults of its own: the service's
// come from internal/app/config, and NewPaying panics on a configuration
// Check refuses.
type PayingConfig struct {
	// PublicURL is the service's public base: gateways call back to
	// <PublicURL>/callbacks/<gateway> and browsers return to
	// <PublicURL>/return/<gateway>/<attempt id>.
	PublicURL string
	// AttemptTTL is how long an attempt may stay pending before the status
	// job gives up on it (never past the order's expiry). ZaloPay wants at
	// least 5 minutes.
	AttemptTTL time.Duration
	// StatusPollDelay is when the status job first asks the gateway (after
	// the attempt, plus up to a quarter of that until the next sweep of
	// FollowPending); it then waits twice as long each time, up to
	// StatusPollMax, and asks a last time at expiry.
	StatusPollDelay time.Duration
	StatusPollMax   time.Duration
	// RefundRetry is the first wait before a refund is retried, doubled each
	// time up to RefundRetryMax; RefundMaxTries calls to the gateway without
	// a final answer end the refund.
	RefundRetry    time.Duration
	RefundRetryMax time.Duration
	RefundMaxTries int
	// CallTimeout bounds each call the flow makes to a gateway, on top of the
	// adapter's own timeout.
	CallTimeout time.Duration
	// OnCallback, if set, is told how each callback was answered (metrics).
	OnCallback func(gateway string, ack gateways.Ack)
	// MaxOpenAttempts is how many open (pending, unexpired) attempts an
	// order may have at once; 0 is no cap. One more is ErrTooManyAttempts.
	MaxOpenAttempts int
}

// Check refuses the zero values that would break paying: attempts expired
// at birth, status queries or refund retries in a tight loop, refunds never
// tried, gateway calls with no time to run.
func (c PayingConfig) Check() error {
	var bad []string
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"AttemptTTL", c.AttemptTTL}, {"StatusPollDelay", c.StatusPollDelay}, {"StatusPollMax", c.StatusPollMax},
		{"RefundRetry", c.RefundRetry}, {"RefundRetryMax", c.RefundRetryMax}, {"CallTimeout", c.CallTimeout},
	} {
		if d.v <= 0 {
			bad = append(bad, d.name+" must be positive")
		}
	}
	if c.RefundMaxTries <= 0 {
		bad = append(bad, "RefundMaxTries must be positive")
	}
	if c.MaxOpenAttempts < 0 {
		bad = append(bad, "MaxOpenAttempts must not be negative")
	}
	if len(bad) > 0 {
		return fmt.Errorf("payments: %s", strings.Join(bad, "; "))
	}
	return nil
}

// JobInserter inserts River jobs in the caller's transaction (a *river.Client[pgx.Tx]).
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Paying takes payments: it starts attempts at the gateways through the
// router, records what gateways report (callbacks, status queries,
// reconciliation) exactly once, and runs refunds.
//
// Locks are always taken in one order — the order row, then its attempts,
// then its refunds — by every path that changes them, so concurrent
// callbacks, status jobs and refunds serialise on the order without deadlock.
// The recorder's batches lock many orders, all in one statement in id order,
// and only then their attempts; the status sweep takes attempt locks alone
// but never waits for one.
type Paying struct {
	orders   *Orders
	pool     *pgxpool.Pool
	router   *gateways.Router
	jobs     JobInserter
	rec      *recorder
	attempts *attemptWriter
	cfg      PayingConfig
	log      *slog.Logger
}

// NewPaying returns the paying part of orders and starts its writers (Close
// stops them). Call SetJobs before use. It panics on a cfg Check refuses.
func NewPaying(orders *Orders, router *gateways.Router, cfg PayingConfig) *Paying {
	if err := cfg.Check(); err != nil {
		panic(err)
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	f := &Paying{orders: orders, pool: orders.pool, router: router, cfg: cfg, log: orders.log}
	f.rec = newRecorder(f)
	f.attempts = newAttemptWriter(f.pool, f.log, orders.cfg, f.cfg.MaxOpenAttempts)
	return f
}

// Close stops paying's writers (gateway results, new attempts) once what
// is already queued is written; RecordResult and StartAttempt fail after it.
func (f *Paying) Close() {
	f.rec.queue.Close()
	f.attempts.queue.Close()
}

// SetJobs gives paying its River client, which exists only once the
// workers (which need paying) are registered.
func (f *Paying) SetJobs(j JobInserter) { f.jobs = j }

// Router is the gateways paying pays through.
func (f *Paying) Router() *gateways.Router { return f.router }

func (f *Paying) now() time.Time { return f.orders.now().UTC().Truncate(time.Microsecond) }

func (f *Paying) callbackURL(gateway string) string { return f.cfg.PublicURL + "/callbacks/" + gateway }

func (f *Paying) returnURL(gateway string, attempt uuid.UUID) string {
	return f.cfg.PublicURL + "/return/" + gateway + "/" + attempt.String()
}

// StartAttempt starts paying o (which must be open) with req.Method: the
// router picks the preferred gateway, or the next available one offering the
// method when its breaker is open or it fails to answer. The attempt and its
// first event are written in one statement (shared with the attempts started
// at the same moment: attemptWriter), after the gateway accepted it;
// its status job comes later, from FollowPending, if no callback settled it
// first. actor is who asked (an API key's Actor(), or "citizen" for the pay
// page).
//
// An order with MaxOpenAttempts open attempts gets a *TooManyAttemptsError
// before any gateway is called. The cap holds under concurrency too: the
// attempt is written only if, counted under the order's row lock, there is
// still room (starts racing past the check may each have called a gateway;
// those over the cap are not recorded and their pay links never given out).
func (f *Paying) StartAttempt(ctx context.Context, o Order, actor string, req AttemptRequest) (Attempt, error) {
	if !req.Method.Valid() {
		return Attempt{}, invalid("method", "one of card, internet_banking, qr, ewallet, bank_transfer")
	}
	if _, err := evStartAttempt.next(o.Status); err != nil {
		return Attempt{}, fmt.Errorf("order %s: %w", o.ID, err)
	}
	now := f.now()
	if err := f.roomForAttempt(ctx, o.ID, now); err != nil {
		return Attempt{}, fmt.Errorf("order %s: %w", o.ID, err)
	}
	a := Attempt{
		ID: uuid.Must(uuid.NewV7()), OrderID: o.ID, Method: req.Method, Currency: o.Currency, Amount: o.Total,
		Status: AttemptPending, CreatedBy: actor, CreatedAt: now, UpdatedAt: now,
		ExpiresAt: attemptExpiry(now, f.cfg.AttemptTTL, o),
	}
	gw, res, err := f.create(ctx, o, a, req)
	if err != nil {
		return Attempt{}, fmt.Errorf("order %s: start %s attempt: %w", o.ID, req.Method, err)
	}
	a.Gateway, a.GatewayRef, a.RedirectURL, a.QRPayload = gw, res.GatewayRef, res.RedirectURL, res.QRPayload
	if err := f.attempts.insert(ctx, a, map[string]any{
		"attempt_id": a.ID, "gateway": a.Gateway, "method": a.Method, "amount": a.Amount}); err != nil {
		return Attempt{}, fmt.Errorf("order %s: record attempt: %w", o.ID, err)
	}
	return a, nil
}

// roomForAttempt is nil when the order has fewer than MaxOpenAttempts open
// attempts, and otherwise a *TooManyAttemptsError.
func (f *Paying) roomForAttempt(ctx context.Context, orderID uuid.UUID, now time.Time) error {
	max := f.cfg.MaxOpenAttempts
	if max <= 0 {
		return nil
	}
	var (
		open    int
		freesAt *time.Time
	)
	if err := f.pool.QueryRow(ctx, openAttemptsSQL, orderID, now).Scan(&open, &freesAt); err != nil {
		return fmt.Errorf("count open attempts: %w", err)
	}
	if open < max {
		return nil
	}
	return &TooManyAttemptsError{Max: max, After: freesAt.Sub(now)}
}

// create asks a gateway to start the attempt, failing over to the other
// gateways offering the method when one is unavailable, does not work or
// refuses the payment (an amount outside its limits). It returns the
// gateway's name and answer; when every gateway refused the payment itself,
// ErrGatewayRefused, and otherwise ErrGatewayUnavailable.
func (f *Paying) create(ctx context.Context, o Order, a Attempt, req AttemptRequest) (string, gateways.CreateResult, error) {
	tried := map[string]bool{}
	var failures []error
	refusedAll := true
	for {
		gw, err := f.pick(req.Method, req.Gateway, tried)
		switch {
		case errors.Is(err, gateways.ErrUnsupported):
			return "", gateways.CreateResult{}, fmt.Errorf("%w: %v", ErrMethodUnavailable, err)
		case err != nil && len(failures) > 0 && refusedAll:
			return "", gateways.CreateResult{}, fmt.Errorf("%w: %w", ErrGatewayRefused, errors.Join(failures...))
		case err != nil:
			return "", gateways.CreateResult{}, fmt.Errorf("%w: %w", ErrGatewayUnavailable, errors.Join(append(failures, err)...))
		}
		name := gw.Name()
		callCtx, cancel := context.WithTimeout(ctx, f.cfg.CallTimeout)
		res, err := gw.Create(callCtx, gateways.CreateRequest{
			AttemptRef: a.Ref(), PaymentRef: o.Reference, Amount: a.Amount, Currency: a.Currency,
			Description: o.Description, Method: req.Method, ReturnURL: f.returnURL(name, a.ID),
			CallbackURL: f.callbackURL(name), ClientIP: req.ClientIP, Locale: req.Locale,
			CreatedAt: a.CreatedAt, ExpiresAt: a.ExpiresAt,
		})
		cancel()
		switch {
		case err == nil:
			return name, res, nil
		case ctx.Err() != nil:
			return "", gateways.CreateResult{}, err
		}
		f.log.WarnContext(ctx, "gateway did not start attempt, trying another", "gateway", name, "attempt", a.ID, "err", err)
		tried[name] = true
		failures = append(failures, err)
		refusedAll = refusedAll && errors.Is(err, gateways.ErrInvalidRequest)
	}
}

// pick is the router's choice for method, skipping gateways already tried.
func (f *Paying) pick(method gateways.Method, preferred string, tried map[string]bool) (gateways.Gateway, error) {
	gw, err := f.router.Pick(method, preferred)
	if err != nil || !tried[gw.Name()] {
		return gw, err
	}
	for _, st := range f.router.Stats() {
		if tried[st.Name] || st.State == "open" || !slices.Contains(st.Methods, method) {
			continue
		}
		return f.router.Get(st.Name)
	}
	return nil, fmt.Errorf("gateways: method %q: %w", method, gateways.ErrNoGateway)
}

// RecordResult records what a gateway reports about a payment — from its
// callback, from a status query, or from reconciliation confirming a payment
// of a gateway's settlement file ("missing here") with a status query — and
// returns the acknowledgement to give the gateway. With RecordTransfer it is
// the only way an attempt becomes succeeded or failed.
//
// A result is matched only to an attempt of that gateway: gateway and
// r.GatewayRef, the wire reference the attempt was created with. Nothing
// else — in particular not an order's payment reference, which is public —
// finds an attempt or an order: a result that matches no attempt of the
// gateway is logged, changes nothing, and is answered AckNotFound. A bank
// transfer, matched by the order's payment reference, is recorded by
// RecordTransfer, on the bank statement's word only. r.GatewayTxnID is the
// gateway's transaction id; a success without one is recorded under
// GatewayRef. r.Amount and r.Currency must be the attempt's.
//
// Everything happens in one transaction with the order locked: for a success
// on an open order, the attempt becomes succeeded, the order paid, the ledger
// entry "payment:<attempt id>" is posted (each line's share credited to its
// agency), and the "order.paid" event and notification are written. A success
// on an order that is not open any more (paid by another attempt, cancelled,
// expired) is an overpayment: the ledger entry "overpayment:<attempt id>",
// the "overpayment.detected" event and notification, and an automatic refund
// with its job. A failure marks the attempt failed and leaves the order open.
//
// Acks: AckNotFound (no such attempt), AckAmountMismatch (another amount or
// currency: logged, nothing changes), AckAlreadyConfirmed (the attempt
// already has this outcome), AckOK; AckError with a non-nil error when
// recording failed (the gateway should retry). Safe to call concurrently and
// repeatedly with the same result: it is recorded once. actor names the
// source for the order's history ("gateway:vnpay", "system:status",
// "system:reconciliation").
//
// Results go through the recorder's group commit (attempt_recorder.go).
func (f *Paying) RecordResult(ctx context.Context, gateway string, r gateways.Result, actor string) (gateways.Ack, error) {
	if r.GatewayRef == "" {
		f.logUnmatched(ctx, gateway, r)
		return gateways.AckNotFound, nil
	}
	return f.rec.record(ctx, gateway, r, actor)
}

// TransferGateway is the gateway whose payments are bank transfers to the
// treasury account, matched by the order's payment reference (VietQR).
const TransferGateway = "vietqr"

// RecordTransfer records a bank transfer that the treasury account's bank
// statement shows (camt.053/054, in reconciliation): r.GatewayRef is the
// payment reference the citizen's bank copied from the VietQR code, and
// r.GatewayTxnID the bank's entry reference. It is the only way a payment is
// matched by an order's payment reference, and so must only be given what
// the bank says: no gateway's callback or status answer comes here.
//
// The transfer is recorded as RecordResult records a result, on a VietQR
// attempt of the order: the oldest not yet succeeded for the same amount
// and currency, the one already holding the bank reference, or, when there
// is none, a new one, so that every transfer is counted (a second one is an
// overpayment). A reference no order has is AckNotFound.
func (f *Paying) RecordTransfer(ctx context.Context, r gateways.Result, actor string) (gateways.Ack, error) {
	if !reference.Valid(r.GatewayRef) {
		f.logUnmatched(ctx, TransferGateway, r)
		return gateways.AckNotFound, nil
	}
	return f.recordOne(ctx, TransferGateway, r, actor, true)
}

// recordOne is RecordResult (or, byReference, RecordTransfer) for one
// result, in a transaction of its own. Recording is idempotent (a result
// is recorded once), so the transaction runs again where PostgreSQL says it
// may (db.IdempotentTx): a deadlock, a lost connection.
func (f *Paying) recordOne(ctx context.Context, gateway string, r gateways.Result, actor string, byReference bool) (gateways.Ack, error) {
	var ack gateways.Ack
	err := db.IdempotentTx(ctx, f.pool, "payments.record_result", func(tx pgx.Tx) error {
		var err error
		ack, err = f.record(ctx, tx, gateway, r, actor, byReference)
		return err
	})
	if err != nil {
		return gateways.AckError, fmt.Errorf("record %s result for %s: %w", gateway, r.GatewayRef, err)
	}
	return ack, nil
}

func (f *Paying) record(ctx context.Context, tx pgx.Tx, gateway string, r gateways.Result, actor string, byReference bool) (gateways.Ack, error) {
	o, cands, err := lockForRef(ctx, tx, gateway, r.GatewayRef, byReference)
	if errors.Is(err, ErrOrderNotFound) {
		f.logUnmatched(ctx, gateway, r)
		return gateways.AckNotFound, nil
	}
	if err != nil {
		return gateways.AckError, err
	}
	a, found := pickAttempt(cands, r, byReference)
	if !found && !byReference {
		f.logUnmatched(ctx, gateway, r)
		return gateways.AckNotFound, nil
	}
	if !found {
		now := f.now()
		a = Attempt{ID: uuid.Must(uuid.NewV7()), OrderID: o.ID, Gateway: gateway, Method: f.methodOf(gateway),
			GatewayRef: r.GatewayRef, Currency: o.Currency, Amount: o.Total, Status: AttemptPending,
			CreatedBy: actor, CreatedAt: now, UpdatedAt: now, ExpiresAt: now}
	}
	ack, act := decide(o, a, r)
	b := &pgx.Batch{}
	if !found && (act == actPay || act == actOverpay || act == actFail) {
		queueInsertAttempt(b, a)
	}
	switch act {
	case actMisamount:
		f.logMisamount(ctx, gateway, a, r)
	case actFail:
		err = f.fail(ctx, tx, b, a, r, actor)
	case actPay:
		err = f.pay(ctx, tx, b, o, a, r, actor)
	case actOverpay:
		err = f.overpay(ctx, tx, b, o, a, r, actor)
	}
	if err != nil {
		return gateways.AckError, err
	}
	return ack, nil
}

// logUnmatched reports a result that names no attempt of its gateway: a
// gateway's mistake, or a forgery naming something else (an order's public
// payment reference, another gateway's attempt). Nothing changes. The
// result's own fields are logged, never a signature or a secret.
func (f *Paying) logUnmatched(ctx context.Context, gateway string, r gateways.Result) {
	f.log.WarnContext(ctx, "gateway result matches no attempt of that gateway; nothing recorded", "gateway", gateway,
		"gateway_ref", clip(r.GatewayRef, 64), "gateway_txn_id", clip(r.GatewayTxnID, 64), "status", r.Status,
		"amount", r.Amount, "currency", clip(r.Currency, 8))
}

// clip shortens what a gateway (or whoever posed as one) sent before it is logged.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// logMisamount reports a result whose amount or currency is not the
// attempt's (nothing changes).
func (f *Paying) logMisamount(ctx context.Context, gateway string, a Attempt, r gateways.Result) {
	f.log.WarnContext(ctx, "gateway reports another amount than the attempt's", "gateway", gateway,
		"attempt", a.ID, "reported", r.Amount, "reported_currency", clip(r.Currency, 8), "expected", a.Amount,
		"expected_currency", a.Currency, "status", r.Status)
}

// pickAttempt chooses, among the attempts carrying a reference (oldest
// first), the one a result is about: the one already holding its
// transaction id; otherwise the only one; for references shared by an
// order's attempts, the oldest not yet succeeded with the same amount, or
// none (the result is a new payment).
func pickAttempt(cands []Attempt, r gateways.Result, byReference bool) (Attempt, bool) {
	if r.GatewayTxnID != "" {
		for _, a := range cands {
			if a.GatewayTxnID == r.GatewayTxnID {
				return a, true
			}
		}
	}
	if !byReference {
		if len(cands) == 0 {
			return Attempt{}, false
		}
		return cands[0], true
	}
	for _, a := range cands {
		if a.Status != AttemptSucceeded && a.Amount.Equal(r.Amount) && a.Currency == r.Currency {
			return a, true
		}
	}
	return Attempt{}, false
}

// methodOf is the method recorded for an attempt paying did not start (a
// bank transfer to an order's reference): the gateway's first.
func (f *Paying) methodOf(gateway string) gateways.Method {
	if gw, err := f.router.Get(gateway); err == nil && len(gw.Methods()) > 0 {
		return gw.Methods()[0]
	}
	return gateways.MethodBankTransfer
}

// fail, pay and overpay write what RecordResult decided, each adding its rows
// to b (which may already hold the attempt's insert) and sending it as one
// round trip before what needs its own: the ledger entry, jobs, notifications.
func (f *Paying) fail(ctx context.Context, tx pgx.Tx, b *pgx.Batch, a Attempt, r gateways.Result, actor string) error {
	if err := f.queueFail(b, a, r, actor); err != nil {
		return err
	}
	return sendBatch(ctx, tx, b)
}

// queueFail adds to b marking the attempt failed.
func (f *Paying) queueFail(b *pgx.Batch, a Attempt, r gateways.Result, actor string) error {
	if err := queueFinishAttempt(b, a, AttemptFailed, "", r, nil, f.now()); err != nil {
		return err
	}
	return queueEvent(b, a.OrderID, "attempt.failed", actor, map[string]any{
		"attempt_id": a.ID, "gateway": a.Gateway, "code": r.Code, "message": r.Message})
}

func (f *Paying) pay(ctx context.Context, tx pgx.Tx, b *pgx.Batch, o Order, a Attempt, r gateways.Result, actor string) error {
	o, entry, err := f.queuePay(b, o, a, r, actor)
	if err != nil {
		return err
	}
	if err := sendBatch(ctx, tx, b); err != nil {
		return err
	}
	if _, err := ledger.PostPayment(ctx, tx, entry); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return f.orders.notify(ctx, tx, "order.paid", o)
}

// queuePay adds to b what a payment changes on the attempt and the order, and
// returns the order as it is then and the ledger entry to post with it.
func (f *Paying) queuePay(b *pgx.Batch, o Order, a Attempt, r gateways.Result, actor string) (Order, ledger.Payment, error) {
	to, err := evPay.next(o.Status)
	if err != nil {
		return o, ledger.Payment{}, fmt.Errorf("order %s: %w", o.ID, err)
	}
	now := f.now()
	paidAt := paidTime(r, now)
	if err := queueFinishAttempt(b, a, AttemptSucceeded, OutcomePayment, r, &paidAt, now); err != nil {
		return o, ledger.Payment{}, err
	}
	queueMarkPaid(b, o.ID, paidAt, now)
	if err := queueEvent(b, o.ID, "order.paid", actor, map[string]any{"attempt_id": a.ID, "gateway": a.Gateway,
		"method": a.Method, "amount": a.Amount, "gateway_txn_id": txnID(r)}); err != nil {
		return o, ledger.Payment{}, err
	}
	o.Status, o.AmountPaid, o.PaidAt, o.UpdatedAt = to, o.Total, &paidAt, now
	return o, ledger.Payment{
		Key: "payment:" + a.ID.String(), OrderID: o.ID, AttemptID: a.ID, Gateway: a.Gateway,
		Channel: string(a.Method), Currency: o.Currency, Shares: paymentShares(o), EffectiveAt: paidAt, Now: now,
	}, nil
}

func (f *Paying) overpay(ctx context.Context, tx pgx.Tx, b *pgx.Batch, o Order, a Attempt, r gateways.Result, actor string) error {
	now := f.now()
	paidAt := paidTime(r, now)
	if err := queueFinishAttempt(b, a, AttemptSucceeded, OutcomeOverpayment, r, &paidAt, now); err != nil {
		return err
	}
	rf := Refund{ID: uuid.Must(uuid.NewV7()), OrderID: o.ID, AttemptID: a.ID, Kind: RefundKindOverpayment,
		Currency: a.Currency, Amount: a.Amount, Status: RefundRequested,
		Reason: "automatic refund of an overpayment", RequestedBy: "system:overpayment", CreatedAt: now, UpdatedAt: now}
	if err := queueEvent(b, o.ID, "overpayment.detected", actor, map[string]any{"attempt_id": a.ID,
		"gateway": a.Gateway, "amount": a.Amount, "gateway_txn_id": txnID(r), "refund_id": rf.ID}); err != nil {
		return err
	}
	if err := f.queueRefund(ctx, tx, b, rf); err != nil {
		return err
	}
	if _, err := ledger.PostOverpayment(ctx, tx, ledger.Overpayment{
		Key: "overpayment:" + a.ID.String(), OrderID: o.ID, AttemptID: a.ID, Gateway: a.Gateway,
		Currency: a.Currency, Amount: a.Amount, EffectiveAt: paidAt, Now: now,
	}); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return f.orders.notify(ctx, tx, "overpayment.detected", o)
}

// paidTime is when the gateway says the money moved, or now.
func paidTime(r gateways.Result, now time.Time) time.Time {
	if r.PaidAt.IsZero() {
		return now
	}
	return r.PaidAt.UTC().Truncate(time.Microsecond)
}

// txnID is the gateway's transaction id of a result, or its reference when
// the gateway gave none.
func txnID(r gateways.Result) string {
	if r.GatewayTxnID != "" {
		return r.GatewayTxnID
	}
	return r.GatewayRef
}

// Attempt returns an attempt by id, with no access check.
func (f *Paying) Attempt(ctx context.Context, id uuid.UUID) (Attempt, error) {
	a, err := getAttempt(ctx, f.pool, id, false)
	if err != nil {
		return Attempt{}, fmt.Errorf("attempt %s: %w", id, err)
	}
	return a, nil
}

// Latest returns the order's newest attempt, found=false when there is none,
// with no access check (the citizen's return page).
func (f *Paying) Latest(ctx context.Context, orderID uuid.UUID) (a Attempt, found bool, err error) {
	a, err = scanAttempt(f.pool.QueryRow(ctx, latestAttemptSQL, orderID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Attempt{}, false, nil
	}
	if err != nil {
		return Attempt{}, false, fmt.Errorf("latest attempt of %s: %w", orderID, err)
	}
	return a, true, nil
}

// Attempts lists an order's attempts, oldest first, with no access check.
func (f *Paying) Attempts(ctx context.Context, orderID uuid.UUID) ([]Attempt, error) {
	return listAttempts(ctx, f.pool, orderID)
}
