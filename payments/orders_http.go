package payments

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/problem"
	"github.com/civicpay/civicpay/payments/reference"
)

// Handler serves the orders API.
type Handler struct {
	orders     *Orders
	payBaseURL string
}

// NewHandler returns the orders API; payBaseURL is the public base of citizen pages.
func NewHandler(orders *Orders, payBaseURL string) *Handler {
	return &Handler{orders: orders, payBaseURL: strings.TrimRight(payBaseURL, "/")}
}

// Routes mounts the orders API on r (the /v1 group, behind authentication).
func (h *Handler) Routes(r fiber.Router) {
	r.Post("/orders", auth.Require(auth.RolePortal), answer(h.create))
	r.Get("/orders", answer(h.list))
	r.Get("/orders/by-reference/:ref", answer(h.getByReference))
	r.Get("/orders/:id", answer(h.get))
	r.Get("/orders/:id/events", answer(h.events))
	r.Post("/orders/:id/cancel", auth.Require(auth.RolePortal, auth.RoleAgency), answer(h.cancel))
}

// OrderView is an order as the API returns it. A single order (GET
// /v1/orders/{id}) also lists its payment attempts and refunds.
type OrderView struct {
	Order
	// Lines shadows Order.Lines: each line as the viewer may see it.
	Lines  []LineView `json:"lines"`
	PayURL string     `json:"pay_url"`
	// Refundable is what a refund may still take: the expected_refundable of
	// POST /v1/orders/{id}/refunds — for an agency, what its own lines may
	// still refund; for anyone else, the order's.
	Refundable *decimal.Decimal `json:"refundable,omitempty"`
	Attempts   []Attempt        `json:"attempts,omitempty"`
	Refunds    []Refund         `json:"refunds,omitempty"`
}

// LineView is an order line as a viewer sees it. An agency sees its own
// lines in full and another agency's lines as number, agency and amount
// only: the service, its kind and the line's refunds are left out.
type LineView struct {
	No                  int              `json:"line_no"`
	ServiceCode         string           `json:"service,omitempty"`
	AgencyCode          string           `json:"agency"`
	Kind                string           `json:"kind,omitempty"`
	Amount              decimal.Decimal  `json:"amount"`
	AmountRefunded      *decimal.Decimal `json:"amount_refunded,omitempty"`
	AmountRefundPending *decimal.Decimal `json:"amount_refund_pending,omitempty"`
	// Refundable is what a refund naming this line may still take of it.
	Refundable *decimal.Decimal `json:"refundable,omitempty"`
}

// NewOrderView is o as the API shows it to treasury, admin and the portal
// that created it (national ID as o has it), with its citizen pay page under
// payBaseURL.
func NewOrderView(o Order, payBaseURL string) OrderView {
	return newView(o, "", payBaseURL)
}

// NewAgencyView is o as agency sees it: its own lines in full, the other
// agencies' lines as agency and amount, and what its own lines may still
// refund.
func NewAgencyView(o Order, agency, payBaseURL string) OrderView {
	return newView(o, agency, payBaseURL)
}

func newView(o Order, agency, payBaseURL string) OrderView {
	refundable := o.RefundableBy(agency)
	v := OrderView{Order: o, Lines: make([]LineView, len(o.Lines)),
		PayURL: strings.TrimRight(payBaseURL, "/") + "/pay/" + o.Reference, Refundable: &refundable}
	for i, l := range o.Lines {
		lv := LineView{No: l.No, AgencyCode: l.AgencyCode, Amount: l.Amount}
		if agency == "" || l.AgencyCode == agency {
			r := o.LineRefundable(l)
			lv.ServiceCode, lv.Kind, lv.Refundable = l.ServiceCode, l.Kind, &r
			lv.AmountRefunded, lv.AmountRefundPending = &o.Lines[i].AmountRefunded, &o.Lines[i].AmountRefundPending
		}
		v.Lines[i] = lv
	}
	return v
}

// View renders o for p.
func (h *Handler) View(p auth.Principal, o Order) OrderView {
	if p.Role == auth.RoleAgency {
		return NewAgencyView(h.orders.ForViewer(p, o), p.AgencyCode, h.payBaseURL)
	}
	return NewOrderView(h.orders.ForViewer(p, o), h.payBaseURL)
}

// RefundsFor is the refunds p may see of an order p may see: an agency sees
// the refunds of its own lines, with only those lines; anyone else all.
func RefundsFor(p auth.Principal, rs []Refund) []Refund {
	if p.Role != auth.RoleAgency {
		return rs
	}
	out := make([]Refund, 0, len(rs))
	for _, rf := range rs {
		var own []RefundLine
		for _, l := range rf.Lines {
			if l.AgencyCode == p.AgencyCode {
				own = append(own, l)
			}
		}
		if len(own) > 0 {
			rf.Lines = own
			out = append(out, rf)
		}
	}
	return out
}

func (h *Handler) create(c *fiber.Ctx) error {
	key := strings.TrimSpace(c.Get("Idempotency-Key"))
	if key == "" {
		return problem.BadRequest("header.Idempotency-Key", "required: a unique key per order, reused only to retry the same request")
	}
	if len(key) > MaxIdemKeyLen || strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
		return problem.BadRequest("header.Idempotency-Key", "at most %d printable ASCII characters", MaxIdemKeyLen)
	}
	var req CreateRequest
	if err := problem.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	p := auth.FromCtx(c)
	o, created, err := h.orders.Create(c.UserContext(), p, strings.Clone(key), req)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Location("/v1/orders/" + o.ID.String())
	}
	return c.Status(status).JSON(h.View(p, o))
}

func (h *Handler) get(c *fiber.Ctx) error {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return err
	}
	p := auth.FromCtx(c)
	o, err := h.orders.Get(c.UserContext(), p, id)
	if err != nil {
		return err
	}
	v := h.View(p, o)
	if v.Attempts, err = listAttempts(c.UserContext(), h.orders.pool, o.ID); err != nil {
		return err
	}
	if v.Refunds, err = listRefunds(c.UserContext(), h.orders.pool, o.ID); err != nil {
		return err
	}
	v.Refunds = RefundsFor(p, v.Refunds)
	return c.JSON(v)
}

func (h *Handler) getByReference(c *fiber.Ctx) error {
	ref, err := reference.Parse(c.Params("ref"))
	if err != nil {
		return problem.BadRequest("path.ref", "%v", err)
	}
	p := auth.FromCtx(c)
	o, err := h.orders.GetByReference(c.UserContext(), p, ref)
	if err != nil {
		return err
	}
	return c.JSON(h.View(p, o))
}

func (h *Handler) events(c *fiber.Ctx) error {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return err
	}
	evs, err := h.orders.Events(c.UserContext(), auth.FromCtx(c), id)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"data": evs})
}

type cancelRequest struct {
	Reason string `json:"reason"`
}

func (h *Handler) cancel(c *fiber.Ctx) error {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return err
	}
	var req cancelRequest
	if len(c.Body()) > 0 {
		if err := problem.DecodeJSON(c.Body(), &req); err != nil {
			return err
		}
	}
	if len(req.Reason) > 500 {
		return problem.Invalid("reason", "at most 500 characters")
	}
	p := auth.FromCtx(c)
	o, err := h.orders.Cancel(c.UserContext(), p, id, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(h.View(p, o))
}

// Page is a keyset-paginated list.
type Page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func (h *Handler) list(c *fiber.Ctx) error {
	f, err := parseListFilter(c)
	if err != nil {
		return err
	}
	p := auth.FromCtx(c)
	orders, err := h.orders.List(c.UserContext(), p, f)
	if err != nil {
		return err
	}
	page := Page[OrderView]{Data: make([]OrderView, 0, len(orders))}
	for _, o := range orders { // already masked: lists never show a national ID in full
		if p.Role == auth.RoleAgency {
			page.Data = append(page.Data, NewAgencyView(o, p.AgencyCode, h.payBaseURL))
		} else {
			page.Data = append(page.Data, NewOrderView(o, h.payBaseURL))
		}
	}
	if len(orders) == f.Limit {
		last := orders[len(orders)-1]
		page.NextCursor = Cursor{CreatedAt: last.CreatedAt, ID: last.ID}.Encode()
	}
	return c.JSON(page)
}

func parseListFilter(c *fiber.Ctx) (ListFilter, error) {
	f := ListFilter{
		AgencyCode:  strings.ToUpper(c.Query("agency")),
		ServiceCode: strings.ToUpper(c.Query("service")),
		Limit:       50,
	}
	if s := c.Query("status"); s != "" {
		st, ok := ParseStatus(s)
		if !ok {
			return f, problem.BadRequest("query.status", "unknown status %q", s)
		}
		f.Status = st
	}
	for _, q := range []struct {
		name string
		dst  **time.Time
	}{{"created_from", &f.From}, {"created_to", &f.To}} {
		if s := c.Query(q.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return f, problem.BadRequest("query."+q.name, "an RFC 3339 time such as 2026-11-24T00:00:00+07:00")
			}
			*q.dst = &t
		}
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return f, problem.BadRequest("query.limit", "a whole number from 1 to 500")
		}
		f.Limit = n
	}
	if s := c.Query("cursor"); s != "" {
		cur, err := ParseCursor(s)
		if err != nil {
			return f, problem.BadRequest("query.cursor", "%v", err)
		}
		f.After = &cur
	}
	return f, nil
}

func parseID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, problem.BadRequest("path.id", "not a valid order id (UUID)")
	}
	return id, nil
}
