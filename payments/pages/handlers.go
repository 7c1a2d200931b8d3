package pages

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/reference"
)

// Errors that choose an error page.
var (
	errBadReference = errors.New("pages: malformed payment reference")
	errNoReceipt    = errors.New("pages: order has no receipt")
	errBusy         = errors.New("pages: too busy")
)

// request is one page request: the Fiber context, a deadline for the calls the
// page makes, and the view it fills in (its language chosen first).
type request struct {
	c      *fiber.Ctx
	ctx    context.Context
	v      *view
	cancel context.CancelFunc
	names  names // the catalogue's names for the order loaded
}

func (h *Handler) begin(c *fiber.Ctx, title string) *request {
	ctx, cancel := context.WithTimeout(c.UserContext(), h.cfg.Timeout)
	return &request{c: c, ctx: ctx, cancel: cancel,
		v: &view{Lang: h.pickLang(c), Title: title, Path: strings.Clone(c.Path())}}
}

// order loads the order the path names and puts it on the page.
func (h *Handler) order(r *request) (payments.Order, error) {
	raw, err := url.PathUnescape(r.c.Params("ref")) // "RF18%201234…": typed with spaces
	if err != nil {
		return payments.Order{}, fmt.Errorf("%w: %w", errBadReference, err)
	}
	ref, err := reference.Parse(raw)
	if err != nil {
		return payments.Order{}, fmt.Errorf("%w: %w", errBadReference, err)
	}
	o, err := h.deps.Orders.Lookup(r.ctx, strings.Clone(ref))
	if err != nil {
		return payments.Order{}, err
	}
	r.names = h.lookupNames(r.ctx, o)
	r.v.Order = newOrderView(o, r.names, r.v.Lang, false)
	return o, nil
}

// fail writes the error page err calls for: 400 for a malformed reference, 404
// for an unknown order or a missing receipt, 503 with Retry-After when the
// page waited too long for its turn, 500 (logged) for anything else.
func (h *Handler) fail(r *request, err error) error {
	v := &view{Lang: r.v.Lang, Path: r.v.Path, Title: "e500.title", ErrTitle: "e500.title", ErrBody: "e500.body"}
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, errBadReference):
		status, v.Title, v.ErrTitle, v.ErrBody = http.StatusBadRequest, "e400.title", "e400.title", "e400.body"
	case errors.Is(err, payments.ErrOrderNotFound):
		status, v.Title, v.ErrTitle, v.ErrBody = http.StatusNotFound, "e404.title", "e404.title", "e404.body"
	case errors.Is(err, errNoReceipt):
		status, v.Title, v.ErrTitle, v.ErrBody = http.StatusNotFound, "e404.title", "e404.title", "e404.receipt"
	case errors.Is(err, errBusy):
		status = http.StatusServiceUnavailable
		r.c.Set(fiber.HeaderRetryAfter, "5")
		h.cfg.Log.WarnContext(r.ctx, "pages: busy", "path", r.v.Path, "error", err)
	default:
		h.cfg.Log.ErrorContext(r.ctx, "pages: request failed", "path", r.v.Path, "error", err)
	}
	return h.render(r.c, status, "error", v)
}

// pay shows the order and, while it can be paid, the methods on offer.
func (h *Handler) pay(c *fiber.Ctx) error {
	r := h.begin(c, "pay.title")
	defer r.cancel()
	o, err := h.order(r)
	if err != nil {
		return h.fail(r, err)
	}
	r.v.ProofAction = "/pay/" + o.Reference + "/reveal"
	return h.payForm(r, o, http.StatusOK, "")
}

// revealPay is the pay page again, with the full name and service detail when
// the form carries a proof of possession of the order.
func (h *Handler) revealPay(c *fiber.Ctx) error {
	r := h.begin(c, "pay.title")
	defer r.cancel()
	o, err := h.order(r)
	if err != nil {
		return h.fail(r, err)
	}
	r.v.ProofAction = "/pay/" + o.Reference + "/reveal"
	return h.payForm(r, o, h.prove(r, o), "")
}

// prove checks the proof of possession posted in the form field "proof"
// (privacy.go) and returns the page's status: 200 and the full detail on the
// page when it matches; 403 when it does not (the failure is counted against
// the reference) or the order has nothing to prove it with; 429 with
// Retry-After once the reference has had too many failures. The typed value is
// never logged.
func (h *Handler) prove(r *request, o payments.Order) int {
	if kind, _ := proofFor(o.Payer); kind == "" {
		r.v.ProofError = r.v.T("proof.none")
		return http.StatusForbidden
	}
	if ok, wait := h.proofs.allow(o.Reference); !ok {
		minutes := max(1, int((wait+time.Minute-1)/time.Minute))
		r.c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second))))
		r.v.ProofError = r.v.T("proof.limited", minutes)
		h.cfg.Log.WarnContext(r.ctx, "pages: proofs of possession refused: too many failures", "reference", o.Reference)
		return http.StatusTooManyRequests
	}
	if !proofMatches(o.Payer, r.c.FormValue("proof")) {
		h.proofs.fail(o.Reference)
		r.v.ProofError = r.v.T("proof.wrong")
		h.cfg.Log.InfoContext(r.ctx, "pages: wrong proof of possession", "reference", o.Reference)
		return http.StatusForbidden
	}
	refundedAt := r.v.Order.RefundedAt
	r.v.Order = newOrderView(o, r.names, r.v.Lang, true)
	r.v.Order.RefundedAt = refundedAt
	r.v.Revealed = true
	return http.StatusOK
}

// payForm renders the pay page with an optional problem (a message key). While
// a payment is waiting for its gateway's confirmation the page says so and
// links the status page, so that nobody pays twice by mistake; the methods
// stay on offer (the citizen may have given up on that payment).
func (h *Handler) payForm(r *request, o payments.Order, status int, problem string) error {
	r.v.Title, r.v.Error = "pay.title", problem
	if r.v.Closed = closedText(o, h.cfg.Clock.Now(), r.v.Lang); r.v.Closed != "" {
		return h.render(r.c, status, "pay", r.v)
	}
	a, found, err := h.deps.Attempts.Latest(r.ctx, o)
	if err != nil {
		return h.fail(r, fmt.Errorf("latest attempt of %s: %w", o.Reference, err))
	}
	if found && a.Status == gateways.StatusPending {
		r.v.State = "pending"
	}
	r.v.Options = optionViews(offered(h.deps.Breakers.Stats()), r.v.Lang)
	return h.render(r.c, status, "pay", r.v)
}

// start takes the pay form: it starts an attempt with the chosen method and
// sends the browser to the gateway, or shows the VietQR code to scan.
func (h *Handler) start(c *fiber.Ctx) error {
	r := h.begin(c, "pay.title")
	defer r.cancel()
	o, err := h.order(r)
	if err != nil {
		return h.fail(r, err)
	}
	if closedText(o, h.cfg.Clock.Now(), r.v.Lang) != "" {
		return h.payForm(r, o, http.StatusConflict, "")
	}
	choice, ok := parseChoice(c.FormValue("method"))
	stats := h.deps.Breakers.Stats()
	switch {
	case !ok || !known(stats, choice):
		return h.payForm(r, o, http.StatusBadRequest, "err.choose")
	case !slices.Contains(offered(stats), choice):
		return h.payForm(r, o, http.StatusServiceUnavailable, "err.unavailable")
	}
	started, err := h.deps.Attempts.Start(r.ctx, o, StartRequest{Choice: choice, ClientIP: c.IP(), Locale: r.v.Lang})
	var tooMany *payments.TooManyAttemptsError
	switch {
	case errors.Is(err, payments.ErrNotOpen):
		if fresh, lerr := h.order(r); lerr == nil {
			o = fresh
		}
		return h.payForm(r, o, http.StatusConflict, "")
	case errors.As(err, &tooMany):
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(tooMany.RetryAfter().Seconds()))))
		return h.payForm(r, o, http.StatusTooManyRequests, "err.attempts")
	case errors.Is(err, gateways.ErrNoGateway) || gateways.IsUnavailable(err):
		return h.payForm(r, o, http.StatusServiceUnavailable, "err.unavailable")
	case err != nil:
		h.cfg.Log.ErrorContext(r.ctx, "pages: start attempt", "reference", o.Reference,
			"method", choice.Method, "gateway", choice.Gateway, "error", err)
		return h.payForm(r, o, http.StatusBadGateway, "err.start")
	case started.RedirectURL != "" && isWebURL(started.RedirectURL):
		return c.Redirect(started.RedirectURL, http.StatusSeeOther)
	case started.RedirectURL == "" && started.QRPayload != "":
		return h.qr(r, o, started.QRPayload)
	}
	h.cfg.Log.ErrorContext(r.ctx, "pages: start attempt: unusable answer from the flow", "reference", o.Reference,
		"gateway", choice.Gateway, "has_redirect", started.RedirectURL != "", "has_qr", started.QRPayload != "")
	return h.payForm(r, o, http.StatusBadGateway, "err.start")
}

// isWebURL: only an absolute http(s) URL is a place to send a citizen.
func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// qr shows a VietQR payload as a code to scan, with the amount and the transfer
// message for those who type them in.
func (h *Handler) qr(r *request, o payments.Order, payload string) error {
	label := r.v.T("qr.label", r.v.Order.Total, o.Reference)
	svg, err := qrSVG(payload, label)
	if err != nil {
		return h.fail(r, err)
	}
	r.v.Title, r.v.QR = "qr.title", svg
	return h.render(r.c, http.StatusOK, "qr", r.v)
}

// returnPage is where the browser comes back from the gateway. It only reads:
// the order's status and its newest attempt as the database has them. Whatever
// the gateway put in the query string is ignored — only its signed callback or
// a status query moves money.
func (h *Handler) returnPage(c *fiber.Ctx) error {
	r := h.begin(c, "return.title")
	defer r.cancel()
	o, err := h.order(r)
	if err != nil {
		return h.fail(r, err)
	}
	switch {
	case isPaid(o):
		r.v.State = "paid"
	case o.Status != payments.StatusOpen:
		r.v.State, r.v.Closed = "closed", closedText(o, h.cfg.Clock.Now(), r.v.Lang)
	default:
		a, found, err := h.deps.Attempts.Latest(r.ctx, o)
		if err != nil {
			return h.fail(r, fmt.Errorf("latest attempt of %s: %w", o.Reference, err))
		}
		r.v.State = returnState(o, a, found, h.cfg.Clock.Now())
		if r.v.State == "pending" {
			r.v.Refresh = h.refresh
		} else if r.v.State == "closed" {
			r.v.Closed = closedText(o, h.cfg.Clock.Now(), r.v.Lang)
		}
	}
	return h.render(c, http.StatusOK, "return", r.v)
}

// returnState reads an open order's newest attempt. An attempt the gateway
// reported as succeeded whose order is not yet paid is still pending for the
// citizen: the order's status is the truth.
func returnState(o payments.Order, a Attempt, found bool, now time.Time) string {
	switch {
	case found && a.Status != gateways.StatusFailed:
		return "pending"
	case !now.Before(o.ExpiresAt):
		return "closed"
	case found:
		return "failed"
	}
	return "none"
}

// receipt shows a paid order's receipt and its verification code.
func (h *Handler) receipt(c *fiber.Ctx) error {
	r := h.begin(c, "receipt.title")
	defer r.cancel()
	o, err := h.paidOrder(r)
	if err != nil {
		return h.fail(r, err)
	}
	r.v.Code, _ = h.ReceiptCode(o)
	r.v.ProofAction = "/receipts/" + o.Reference + "/reveal"
	return h.render(c, http.StatusOK, "receipt", r.v)
}

// revealReceipt is the receipt again, with the full name and service detail
// when the form carries a proof of possession of the order.
func (h *Handler) revealReceipt(c *fiber.Ctx) error {
	r := h.begin(c, "receipt.title")
	defer r.cancel()
	o, err := h.paidOrder(r)
	if err != nil {
		return h.fail(r, err)
	}
	r.v.Code, _ = h.ReceiptCode(o)
	r.v.ProofAction = "/receipts/" + o.Reference + "/reveal"
	return h.render(c, h.prove(r, o), "receipt", r.v)
}

// verify checks a verification code typed by whoever holds the receipt.
func (h *Handler) verify(c *fiber.Ctx) error {
	r := h.begin(c, "verify.title")
	defer r.cancel()
	o, err := h.paidOrder(r)
	if err != nil {
		return h.fail(r, err)
	}
	status := http.StatusOK
	if typed := c.Query("code"); typed != "" {
		r.v.Typed = strings.Clone(typed)
		ok, err := h.codes.Verify(receiptOf(o), typed)
		switch {
		case err != nil:
			status, r.v.Result = http.StatusBadRequest, "malformed"
		case ok && o.Status == payments.StatusRefunded:
			r.v.Result = "refunded"
		case ok && o.AmountRefunded.IsPositive():
			r.v.Result = "partially_refunded"
		case ok:
			r.v.Result = "ok"
		default:
			r.v.Result = "bad"
		}
	}
	return h.render(c, status, "verify", r.v)
}

// paidOrder loads the path's order; one that was never paid has no receipt.
func (h *Handler) paidOrder(r *request) (payments.Order, error) {
	o, err := h.order(r)
	if err != nil {
		return o, err
	}
	if !isPaid(o) {
		return o, fmt.Errorf("%s is %s: %w", o.Reference, o.Status, errNoReceipt)
	}
	r.v.VerifyURL = h.cfg.PublicURL + "/receipts/" + o.Reference + "/verify"
	if o.AmountRefunded.IsPositive() {
		r.v.Order.RefundedAt = formatTime(h.refundedAt(r.ctx, o), r.v.Lang)
	}
	return o, nil
}

// refundedAt is when o's newest confirmed refund completed, as Refunds says;
// without Refunds, or when it fails or knows none, the order's last update
// (which a confirmed refund sets) stands in.
func (h *Handler) refundedAt(ctx context.Context, o payments.Order) time.Time {
	if h.deps.Refunds != nil {
		at, found, err := h.deps.Refunds.LastRefundAt(ctx, o)
		if err == nil && found {
			return at
		}
		if err != nil {
			h.cfg.Log.WarnContext(ctx, "pages: refund date", "reference", o.Reference, "error", err)
		}
	}
	return o.UpdatedAt
}

func receiptOf(o payments.Order) Receipt {
	return Receipt{Reference: o.Reference, Total: o.Total, Currency: o.Currency, PaidAt: *o.PaidAt}
}

// ReceiptCode returns the verification code printed on o's receipt, and false
// when o was never paid (it has no receipt). Portals may show it too.
func (h *Handler) ReceiptCode(o payments.Order) (string, bool) {
	if !isPaid(o) {
		return "", false
	}
	return h.codes.Code(receiptOf(o)), true
}
