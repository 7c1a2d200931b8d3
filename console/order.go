package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/receipt"
	"github.com/civicpay/civicpay/webhooks"
)

// An order's page (/console/payments/:id): its lines, attempts, refunds,
// ledger entries, webhook deliveries and history, and what staff do to it —
// cancel it, refund it, download its PDF receipt. Every change goes through
// the domain function the API calls (payments.Orders.Cancel,
// payments.Paying.RequestRefund) with the signed-in user as the actor, so
// the domain's rules and audit rows are the API's; the console only decides
// which forms a user is shown and refuses the roles the API refuses.
//
// Who may do what, as the API's roles (internal/app/duties_test.go):
//
//	cancel   agency staff of the order's leading agency (the API: portal or
//	         agency; the domain: only the agency whose line comes first)
//	refund   treasury staff, and agency staff allowed to refund (can_refund),
//	         their own lines only; admin moves no money
//	ledger   treasury and admin (the API's ledger readers)
//	receipt  everyone who sees the order
//
// A refund form carries the refundable amount it showed (the API's
// expected_refundable): a second submission of the same form, or a refund
// made by someone else meanwhile, finds the amount changed and is refused
// with a 409, so a form sent twice refunds once.

// Receipts draws a paid order's receipt as the citizen's receipt page does
// ((*pages.Handler).PDFReceipt): false when the order was never paid.
type Receipts interface {
	PDFReceipt(ctx context.Context, o payments.Order, lang string) (receipt.Receipt, bool)
}

// orderRoutes adds the order page's actions and its PDF receipt.
func (h *Handler) orderRoutes(in fiber.Router) {
	in.Post("/payments/:id/cancel", h.orderCancel)
	in.Post("/payments/:id/refund", h.orderRefund)
	in.Get("/payments/:id/receipt.pdf", h.orderReceipt)
}

// mayRefund: treasury, and agency staff allowed to refund.
func mayRefund(u User) bool {
	return u.Role == RoleTreasury || (u.Role == RoleAgency && u.CanRefund)
}

// refundScope is the agency whose lines u refunds, "" for every line.
func refundScope(u User) string {
	if u.Role == RoleAgency {
		return u.AgencyCode
	}
	return ""
}

// mayCancel: agency staff of the order's leading agency, while it is open.
func mayCancel(u User, o payments.Order) bool {
	return u.Role == RoleAgency && o.AgencyCode == u.AgencyCode && o.Status == payments.StatusOpen
}

// readsLedger: the API's ledger readers.
func readsLedger(u User) bool { return u.Role == RoleTreasury || u.Role == RoleAdmin }

// orderPage is an order's page, formatted.
type orderPage struct {
	ID         string
	Row        orderRow
	Order      payments.Order
	Refundable string // what the user may still refund, formatted ("" if the user refunds nothing)
	Lines      []lineRow
	Attempts   []attemptRow
	Events     []eventRow
	Refunds    []refundRow
	ShowLedger bool
	Ledger     []ledgerRow
	// Deliveries are the webhook deliveries of the order's events; NoHooks
	// says the webhooks service is not there to ask.
	Deliveries []deliveryRow
	NoHooks    bool
	Receipt    string      // the PDF receipt's link, "" when the order has none
	Cancel     *cancelForm // nil: no cancel form for this user and order
	Refund     *refundForm // nil: no refund form
}

type lineRow struct{ No, Service, Agency, Kind, Amount, Refunded, Refundable string }
type attemptRow struct{ ID, Gateway, Method, Status, Amount, Created, Paid, Result string }
type eventRow struct{ At, Type, Actor, Data string }
type refundRow struct{ ID, Status, Amount, Reason, Created, Error, By, Lines string }
type ledgerRow struct {
	ID, Kind, Effective, Recorded, Description, By, Reverses string
	Postings                                                 []string
}
type deliveryRow struct{ ID, Event, EventAt, Endpoint, State, Attempts, Last, Answer string }

type cancelForm struct{ Reason, Err string }

type refundForm struct {
	Expected   string // the refundable amount shown, as the hidden field carries it
	Refundable string // the same, formatted
	Currency   string
	Mode       string // "full" or "lines"
	Reason     string
	ModeErr    string
	ReasonErr  string
	Lines      []refundLine
}

type refundLine struct {
	No                     int
	Service, Agency        string
	Refundable, Value, Err string
	Field                  string // the input's name and id
}

// visibleOrder reads the order of the path for the signed-in user: a 404
// page (ok false) for an id that is not one, no order, or an order of
// another agency, as the list hides it.
func (h *Handler) visibleOrder(c *fiber.Ctx) (payments.OrderRecord, bool, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return payments.OrderRecord{}, false, h.errorPage(c, http.StatusNotFound, "e404.title", "pay.notfound")
	}
	rec, err := payments.ReadOrder(c.UserContext(), h.pool, id)
	if errors.Is(err, payments.ErrOrderNotFound) {
		return rec, false, h.errorPage(c, http.StatusNotFound, "e404.title", "pay.notfound")
	}
	if err != nil {
		return rec, false, h.fail(c, fmt.Errorf("console: order %s: %w", id, err))
	}
	if u := cur(c).user; u.Role == RoleAgency && !rec.Order.HasAgency(u.AgencyCode) {
		return rec, false, h.errorPage(c, http.StatusNotFound, "e404.title", "pay.notfound")
	}
	return rec, true, nil
}

func (h *Handler) paymentPage(c *fiber.Ctx) error {
	rec, ok, err := h.visibleOrder(c)
	if !ok {
		return err
	}
	v, _, err := h.orderView(c, rec)
	if err != nil {
		return h.fail(c, err)
	}
	switch c.Query("done") {
	case "refund":
		v.Notice = v.T("ord.refund.done")
	case "cancel":
		v.Notice = v.T("ord.cancel.done")
	}
	return h.render(c, http.StatusOK, "payment", v)
}

// orderView is the page of rec for the signed-in user, with the forms the
// user may use empty.
func (h *Handler) orderView(c *fiber.Ctx, rec payments.OrderRecord) (*view, *orderPage, error) {
	ctx := c.UserContext()
	u := cur(c).user
	v := h.newView(c, "pay.order")
	v.Nav = nav(u, "payments")
	v.Path = c.Path()
	lang := v.Lang
	o := rec.Order
	p := &orderPage{ID: o.ID.String(), Row: rowOf(o, lang), Order: o}
	v.Data = p
	// An agency sees its own lines in full, another agency's as agency and
	// amount (the API's agency view), and the refunds of its own lines.
	own := func(l payments.Line) bool { return u.Role != RoleAgency || l.AgencyCode == u.AgencyCode }
	scope := refundScope(u)
	for _, l := range o.Lines {
		r := lineRow{No: strconv.Itoa(l.No), Agency: l.AgencyCode, Amount: formatAmount(l.Amount, o.Currency, lang)}
		if own(l) {
			r.Service, r.Kind = l.ServiceCode, l.Kind
			r.Refunded = formatAmount(l.AmountRefunded, o.Currency, lang)
			if mayRefund(u) && (scope == "" || l.AgencyCode == scope) {
				r.Refundable = formatAmount(o.LineRefundable(l), o.Currency, lang)
			}
		}
		p.Lines = append(p.Lines, r)
	}
	for _, a := range rec.Attempts {
		r := attemptRow{ID: a.ID.String(), Gateway: a.Gateway, Method: string(a.Method), Status: string(a.Status),
			Amount: formatAmount(a.Amount, a.Currency, lang), Created: formatTime(a.CreatedAt),
			Result: strings.TrimSpace(a.ResultCode + " " + a.ResultMessage)}
		if a.PaidAt != nil {
			r.Paid = formatTime(*a.PaidAt)
		}
		p.Attempts = append(p.Attempts, r)
	}
	for _, e := range rec.Events {
		p.Events = append(p.Events, eventRow{At: formatTime(e.CreatedAt), Type: e.Type, Actor: e.Actor, Data: string(e.Data)})
	}
	for _, r := range payments.RefundsFor(principal(u), rec.Refunds) {
		var lines []string
		for _, l := range r.Lines {
			lines = append(lines, fmt.Sprintf("#%d %s %s", l.LineNo, l.AgencyCode, formatAmount(l.Amount, r.Currency, lang)))
		}
		p.Refunds = append(p.Refunds, refundRow{ID: r.ID.String(), Status: string(r.Status),
			Amount: formatAmount(r.Amount, r.Currency, lang), Reason: r.Reason, Created: formatTime(r.CreatedAt),
			Error: r.LastError, By: r.RequestedBy, Lines: strings.Join(lines, " · ")})
	}
	if readsLedger(u) {
		p.ShowLedger = true
		entries, err := ledger.OrderEntries(ctx, h.pool, o.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("console: ledger entries of order %s: %w", o.ID, err)
		}
		for _, e := range entries {
			p.Ledger = append(p.Ledger, ledgerEntryRow(e, lang, v))
		}
	}
	if h.deps.Webhooks == nil {
		p.NoHooks = true
	} else {
		ds, err := h.deps.Webhooks.SubjectDeliveries(ctx, principal(u), o.ID.String(), maxDeliveriesShown)
		if err != nil {
			return nil, nil, fmt.Errorf("console: webhook deliveries of order %s: %w", o.ID, err)
		}
		for _, d := range ds {
			p.Deliveries = append(p.Deliveries, deliveryRowOf(d, v))
		}
	}
	if paidOnce(o) {
		p.Receipt = basePath + "/payments/" + o.ID.String() + "/receipt.pdf"
	}
	if mayCancel(u, o) {
		p.Cancel = &cancelForm{}
	}
	if mayRefund(u) {
		p.Refundable = formatAmount(o.RefundableBy(scope), o.Currency, lang)
		p.Refund = newRefundForm(o, scope, lang)
	}
	return v, p, nil
}

// maxDeliveriesShown bounds the webhook deliveries an order's page lists.
const maxDeliveriesShown = 200

// paidOnce: the order was paid (it has a receipt, refunded or not).
func paidOnce(o payments.Order) bool {
	switch o.Status {
	case payments.StatusPaid, payments.StatusPartiallyRefunded, payments.StatusRefunded:
		return o.PaidAt != nil
	}
	return false
}

// newRefundForm is the empty refund form of o for a user refunding the
// lines of scope ("" for all), or nil when nothing is left to refund.
func newRefundForm(o payments.Order, scope, lang string) *refundForm {
	if o.Status != payments.StatusPaid && o.Status != payments.StatusPartiallyRefunded {
		return nil
	}
	refundable := o.RefundableBy(scope)
	if !refundable.IsPositive() {
		return nil
	}
	f := &refundForm{Expected: refundable.String(), Refundable: formatAmount(refundable, o.Currency, lang), Currency: o.Currency}
	for _, l := range o.Lines {
		r := o.LineRefundable(l)
		if (scope == "" || l.AgencyCode == scope) && r.IsPositive() {
			f.Lines = append(f.Lines, refundLine{No: l.No, Service: l.ServiceCode, Agency: l.AgencyCode,
				Refundable: formatAmount(r, o.Currency, lang), Field: "line_" + strconv.Itoa(l.No)})
		}
	}
	return f
}

func ledgerEntryRow(e ledger.Entry, lang string, v *view) ledgerRow {
	r := ledgerRow{ID: strconv.FormatInt(e.ID, 10), Kind: string(e.Kind), Effective: formatTime(e.EffectiveAt),
		Recorded: formatTime(e.RecordedAt), Description: e.Description, By: e.RecordedBy}
	if e.Reverses != 0 {
		r.Reverses = strconv.FormatInt(e.Reverses, 10)
	}
	for _, p := range e.Postings {
		side := v.T("ord.ledger.dr")
		if p.Direction == ledger.Credit {
			side = v.T("ord.ledger.cr")
		}
		s := side + " " + p.Account + " " + formatAmount(p.Amount, p.Currency, lang)
		if p.ServiceCode != "" {
			s += " (" + p.ServiceCode + ", " + p.Channel + ")"
		}
		r.Postings = append(r.Postings, s)
	}
	return r
}

func deliveryRowOf(d webhooks.SubjectDelivery, v *view) deliveryRow {
	r := deliveryRow{ID: d.ID.String(), Event: d.EventType, EventAt: formatTime(d.EventAt), Endpoint: endpointShown(d.URL),
		State: v.T("ord.hook." + d.State), Attempts: strconv.Itoa(d.Attempts)}
	if d.LastAttemptAt != nil {
		r.Last = formatTime(*d.LastAttemptAt)
	}
	switch {
	case d.LastStatus != nil && d.LastError != "":
		r.Answer = fmt.Sprintf("HTTP %d · %s", *d.LastStatus, d.LastError)
	case d.LastStatus != nil:
		r.Answer = fmt.Sprintf("HTTP %d", *d.LastStatus)
	default:
		r.Answer = d.LastError
	}
	return r
}

// endpointShown is an endpoint's URL without its query, which may carry a
// receiver's token.
func endpointShown(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// orderUnavailable is the page of an action whose domain the console was not given.
func (h *Handler) orderUnavailable(c *fiber.Ctx) error {
	return h.errorPage(c, http.StatusServiceUnavailable, "ord.unavailable.title", "ord.unavailable")
}

// maxReason is the longest reason a cancel or refund takes (the API's).
const maxReason = 500

func (h *Handler) orderCancel(c *fiber.Ctx) error {
	u := cur(c).user
	if u.Role != RoleAgency {
		// The API's cancel is the portal's or an agency's: treasury and admin do not cancel.
		return h.errorPage(c, http.StatusForbidden, "e403.title", "ord.cancel.denied")
	}
	rec, ok, err := h.visibleOrder(c)
	if !ok {
		return err
	}
	if h.deps.Orders == nil {
		return h.orderUnavailable(c)
	}
	reason := strings.TrimSpace(c.FormValue("reason"))
	fail := func(status int, general, field string) error {
		if rec, err = payments.ReadOrder(c.UserContext(), h.pool, rec.Order.ID); err != nil {
			return h.fail(c, err)
		}
		v, p, err := h.orderView(c, rec)
		if err != nil {
			return h.fail(c, err)
		}
		switch {
		case general != "":
			v.Error = v.T(general)
		case p.Cancel != nil:
			v.Error = v.T("ord.form.fix")
		default:
			v.Error = v.T(field)
		}
		if p.Cancel != nil {
			p.Cancel.Reason = reason
			if field != "" {
				p.Cancel.Err = v.T(field)
			}
		}
		return h.render(c, status, "payment", v)
	}
	switch {
	case reason == "":
		return fail(http.StatusUnprocessableEntity, "", "ord.reason.required")
	case utf8.RuneCountInString(reason) > maxReason:
		return fail(http.StatusUnprocessableEntity, "", "ord.reason.long")
	}
	ctx, p := h.acting(c)
	_, err = h.deps.Orders.Cancel(ctx, p, rec.Order.ID, reason)
	switch {
	case err == nil:
		return c.Redirect(basePath+"/payments/"+rec.Order.ID.String()+"?done=cancel", http.StatusSeeOther)
	case errors.Is(err, payments.ErrOrderNotFound):
		return h.errorPage(c, http.StatusNotFound, "e404.title", "pay.notfound")
	case errors.Is(err, payments.ErrNotOpen):
		return fail(http.StatusConflict, "ord.cancel.notopen", "")
	case errors.Is(err, payments.ErrNotOrderAgency):
		return fail(http.StatusForbidden, "ord.cancel.notlead", "")
	case errors.Is(err, payments.ErrInvalid):
		return fail(http.StatusUnprocessableEntity, "ord.form.fix", "ord.reason.long")
	}
	return h.fail(c, fmt.Errorf("console: cancel order %s: %w", rec.Order.ID, err))
}

// refundInput is the refund form as posted.
type refundInput struct {
	mode, reason string
	expected     string
	lines        map[int]string // line number → amount as typed
}

func refundInputOf(c *fiber.Ctx, o payments.Order) refundInput {
	in := refundInput{mode: c.FormValue("mode"), reason: strings.TrimSpace(c.FormValue("reason")),
		expected: strings.TrimSpace(c.FormValue("expected")), lines: map[int]string{}}
	for _, l := range o.Lines {
		if s := strings.TrimSpace(c.FormValue("line_" + strconv.Itoa(l.No))); s != "" {
			in.lines[l.No] = s
		}
	}
	return in
}

// parseAmount reads an amount as staff type it: spaces anywhere, and for a
// currency without decimals (VND) dots or commas grouping thousands.
func parseAmount(s, currency string) (decimal.Decimal, error) {
	s = strings.Join(strings.Fields(s), "")
	if c, err := money.Lookup(currency); err == nil && c.Decimals == 0 {
		s = strings.NewReplacer(".", "", ",", "").Replace(s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil || !d.IsPositive() {
		return decimal.Decimal{}, errors.New("not a positive amount")
	}
	return d, nil
}

// refundProblem is what the refund form shows after a refusal.
type refundProblem struct {
	status       int
	general      string // message key for the whole form
	mode, reason string // message keys next to those fields
	lines        map[int]string
	generalText  string // or the domain's own words
}

func (h *Handler) orderRefund(c *fiber.Ctx) error {
	u := cur(c).user
	if !mayRefund(u) {
		// View-only agency staff and admin (who moves no money) see no form;
		// a post from them is refused before anything is read or reserved.
		return h.errorPage(c, http.StatusForbidden, "e403.title", "ord.refund.denied")
	}
	rec, ok, err := h.visibleOrder(c)
	if !ok {
		return err
	}
	if h.deps.Paying == nil {
		return h.orderUnavailable(c)
	}
	o := rec.Order
	in := refundInputOf(c, o)
	req, prob := buildRefund(in, o)
	if prob == nil {
		ctx, p := h.acting(c)
		_, err = h.deps.Paying.RequestRefund(ctx, p, o.ID, req)
		if err == nil {
			return c.Redirect(basePath+"/payments/"+o.ID.String()+"?done=refund", http.StatusSeeOther)
		}
		if errors.Is(err, payments.ErrOrderNotFound) {
			return h.errorPage(c, http.StatusNotFound, "e404.title", "pay.notfound")
		}
		if prob = refundRefusal(err, req); prob == nil {
			return h.fail(c, fmt.Errorf("console: refund of order %s: %w", o.ID, err))
		}
	}
	// The page again, as it is now (another refund may have changed it),
	// with what was typed and why it was refused.
	if rec, err = payments.ReadOrder(c.UserContext(), h.pool, o.ID); err != nil {
		return h.fail(c, err)
	}
	v, p, err := h.orderView(c, rec)
	if err != nil {
		return h.fail(c, err)
	}
	switch {
	case prob.generalText != "":
		v.Error = prob.generalText
	case prob.general != "":
		v.Error = v.T(prob.general)
	default:
		v.Error = v.T("ord.form.fix")
	}
	if f := p.Refund; f != nil {
		f.Mode, f.Reason = in.mode, in.reason
		if prob.mode != "" {
			f.ModeErr = v.T(prob.mode)
		}
		if prob.reason != "" {
			f.ReasonErr = v.T(prob.reason)
		}
		for i := range f.Lines {
			f.Lines[i].Value = in.lines[f.Lines[i].No]
			if k := prob.lines[f.Lines[i].No]; k != "" {
				f.Lines[i].Err = v.T(k)
			}
		}
	}
	return h.render(c, prob.status, "payment", v)
}

// buildRefund turns the form into the API's refund request, or says what is
// wrong with it before the domain is asked.
func buildRefund(in refundInput, o payments.Order) (payments.RefundRequest, *refundProblem) {
	prob := &refundProblem{status: http.StatusUnprocessableEntity, lines: map[int]string{}}
	expected, err := decimal.NewFromString(in.expected)
	if err != nil {
		prob.general = "ord.refund.stale"
		return payments.RefundRequest{}, prob
	}
	req := payments.RefundRequest{ExpectedRefundable: &expected, Reason: in.reason}
	switch {
	case in.reason == "":
		prob.reason = "ord.reason.required"
	case utf8.RuneCountInString(in.reason) > maxReason:
		prob.reason = "ord.reason.long"
	}
	switch in.mode {
	case "full":
		// Everything the form showed as refundable: the domain refuses it
		// if that is no longer the amount.
		req.Amount = expected
	case "lines":
		for _, l := range o.Lines {
			s, ok := in.lines[l.No]
			if !ok {
				continue
			}
			amount, err := parseAmount(s, o.Currency)
			if err != nil {
				prob.lines[l.No] = "ord.refund.amount"
				continue
			}
			req.Lines = append(req.Lines, payments.RefundLineRequest{LineNo: l.No, Amount: amount})
		}
		if len(req.Lines) == 0 && len(prob.lines) == 0 {
			prob.mode = "ord.refund.nolines"
		}
	default:
		prob.mode = "ord.refund.mode"
	}
	if prob.reason != "" || prob.mode != "" || len(prob.lines) > 0 {
		return req, prob
	}
	return req, nil
}

// refundRefusal is the form's answer to the domain's refusal of req, nil for
// an error that is not a refusal (a 500).
func refundRefusal(err error, req payments.RefundRequest) *refundProblem {
	prob := &refundProblem{lines: map[int]string{}}
	var ve *payments.ValidationError
	switch {
	case errors.Is(err, payments.ErrRefundableChanged):
		prob.status, prob.general = http.StatusConflict, "ord.refund.changed"
	case errors.Is(err, payments.ErrNotRefundable):
		prob.status, prob.general = http.StatusConflict, "ord.refund.notpaid"
	case errors.Is(err, payments.ErrAttemptNotFound):
		prob.status, prob.general = http.StatusConflict, "ord.refund.noattempt"
	case errors.Is(err, payments.ErrNotOrderAgency):
		prob.status, prob.general = http.StatusForbidden, "ord.refund.notyours"
	case errors.As(err, &ve):
		prob.status = http.StatusUnprocessableEntity
		switch {
		case ve.Field == "reason":
			prob.reason = "ord.reason.long"
		case strings.HasPrefix(ve.Field, "lines["):
			// lines[i].amount: the i-th line of the request.
			i, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(ve.Field, "]", 2)[0], "lines["))
			if i >= 0 && i < len(req.Lines) {
				prob.lines[req.Lines[i].LineNo] = "ord.refund.toomuch"
			} else {
				prob.generalText = ve.Error()
			}
		case ve.Field == "amount":
			prob.general = "ord.refund.toomuch.all"
		default:
			prob.generalText = ve.Error()
		}
	default:
		return nil
	}
	return prob
}

// receiptSlots bounds the PDF receipts drawn at once (each takes tens of
// milliseconds of CPU and some megabytes).
var receiptSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

// orderReceipt is a paid order's PDF receipt, the document the citizen
// downloads, for a user who sees the order; the download is audited.
func (h *Handler) orderReceipt(c *fiber.Ctx) error {
	rec, ok, err := h.visibleOrder(c)
	if !ok {
		return err
	}
	if h.deps.Receipts == nil {
		return h.orderUnavailable(c)
	}
	lang := h.pickLang(c)
	o := rec.Order
	rc, ok := h.deps.Receipts.PDFReceipt(c.UserContext(), o, lang)
	if !ok {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "ord.receipt.none")
	}
	select {
	case receiptSlots <- struct{}{}:
		defer func() { <-receiptSlots }()
	case <-c.UserContext().Done():
		return h.fail(c, c.UserContext().Err())
	}
	var buf bytes.Buffer
	if err := receipt.Render(&buf, rc, lang); err != nil {
		return h.fail(c, fmt.Errorf("console: receipt of order %s: %w", o.ID, err))
	}
	ctx := audit.WithActor(c.UserContext(), actorFor(cur(c).user, h.client(c)))
	if err := audit.Record(ctx, h.pool, audit.Event{Action: "payments.receipt", ResourceType: "order", ResourceID: o.ID.String(),
		After: map[string]any{"reference": o.Reference, "lang": lang}}); err != nil {
		return h.fail(c, fmt.Errorf("console: audit receipt: %w", err))
	}
	name := "receipt-" + o.Reference + ".pdf"
	if lang == langVI {
		name = "bien-lai-" + o.Reference + ".pdf"
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.Status(http.StatusOK).Send(buf.Bytes())
}
