package payments

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/problem"
)

// PayHandler serves paying's API under /v1: attempts, refunds and the
// gateways' health.
type PayHandler struct {
	orders *Orders
	paying *Paying
}

// NewPayHandler returns paying's API.
func NewPayHandler(orders *Orders, paying *Paying) *PayHandler {
	return &PayHandler{orders: orders, paying: paying}
}

// Routes mounts the API on r (the /v1 group, behind authentication).
func (h *PayHandler) Routes(r fiber.Router) {
	r.Post("/orders/:id/attempts", auth.Require(auth.RolePortal), answer(h.startAttempt))
	r.Get("/orders/:id/attempts", answer(h.attempts))
	r.Post("/orders/:id/refunds", auth.Require(auth.RoleAgency, auth.RoleTreasury), answer(h.refund))
	r.Get("/orders/:id/refunds", answer(h.refunds))
	r.Get("/gateways", answer(h.gateways))
}

// attemptBody is the body of POST /v1/orders/{id}/attempts.
type attemptBody struct {
	AttemptRequest
	ClientIP string `json:"client_ip,omitempty"` // the citizen's address, if the portal knows it
}

func (h *PayHandler) startAttempt(c *fiber.Ctx) error {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return err
	}
	var body attemptBody
	if err := problem.DecodeJSON(c.Body(), &body); err != nil {
		return err
	}
	req := body.AttemptRequest
	req.Gateway = strings.ToLower(strings.TrimSpace(req.Gateway))
	if req.Locale != "" && req.Locale != "vi" && req.Locale != "en" {
		return problem.Invalid("locale", "vi or en")
	}
	req.ClientIP = c.IP()
	if body.ClientIP != "" {
		ip := net.ParseIP(body.ClientIP)
		if ip == nil {
			return problem.Invalid("client_ip", "not an IP address")
		}
		req.ClientIP = ip.String()
	}
	p := auth.FromCtx(c)
	o, err := h.orders.Get(c.UserContext(), p, id)
	if err != nil {
		return err
	}
	a, err := h.paying.StartAttempt(c.UserContext(), o, p.Actor(), req)
	if err != nil {
		return err
	}
	c.Location("/v1/orders/" + o.ID.String() + "/attempts")
	return c.Status(http.StatusCreated).JSON(a)
}

func (h *PayHandler) attempts(c *fiber.Ctx) error {
	o, err := h.visibleOrder(c)
	if err != nil {
		return err
	}
	as, err := h.paying.Attempts(c.UserContext(), o.ID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"data": nonNil(as)})
}

func (h *PayHandler) refund(c *fiber.Ctx) error {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return err
	}
	var req RefundRequest
	if err := problem.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	rf, err := h.paying.RequestRefund(c.UserContext(), auth.FromCtx(c), id, req)
	if err != nil {
		return err
	}
	c.Location("/v1/orders/" + id.String() + "/refunds")
	return c.Status(http.StatusAccepted).JSON(rf)
}

func (h *PayHandler) refunds(c *fiber.Ctx) error {
	o, err := h.visibleOrder(c)
	if err != nil {
		return err
	}
	rs, err := h.paying.Refunds(c.UserContext(), o.ID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"data": nonNil(RefundsFor(auth.FromCtx(c), rs))})
}

func (h *PayHandler) gateways(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"data": h.paying.Router().Stats()})
}

func (h *PayHandler) visibleOrder(c *fiber.Ctx) (Order, error) {
	id, err := parseID(c.Params("id"))
	if err != nil {
		return Order{}, err
	}
	return h.orders.Get(c.UserContext(), auth.FromCtx(c), id)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// CallbackHandler serves the gateways' callbacks and the browser's return,
// at the root with no API key: callbacks carry the gateway's signature.
type CallbackHandler struct {
	orders     *Orders
	paying     *Paying
	payBaseURL string
}

// NewCallbackHandler returns the public paying routes; payBaseURL is the
// public base of the citizen pages.
func NewCallbackHandler(orders *Orders, paying *Paying, payBaseURL string) *CallbackHandler {
	return &CallbackHandler{orders: orders, paying: paying, payBaseURL: strings.TrimRight(payBaseURL, "/")}
}

// Routes mounts /callbacks/{gateway} (GET for VNPAY's IPN, POST for MoMo and
// ZaloPay) and /return/{gateway}/{attempt}.
func (h *CallbackHandler) Routes(r fiber.Router) {
	r.Get("/callbacks/:gateway", answer(h.callback))
	r.Post("/callbacks/:gateway", answer(h.callback))
	r.Get("/return/:gateway/:attempt", answer(h.returned))
}

func (h *CallbackHandler) callback(c *fiber.Ctx) error {
	req := gateways.CallbackRequest{Method: c.Method(), Query: url.Values{}, Header: http.Header{}, Body: bytes.Clone(c.Body())}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) { req.Query.Add(string(k), string(v)) })
	c.Request().Header.VisitAll(func(k, v []byte) { req.Header.Add(string(k), string(v)) })
	status, contentType, body, err := h.paying.Callback(c.UserContext(), strings.Clone(c.Params("gateway")), req)
	if err != nil {
		return err
	}
	if contentType != "" {
		c.Set(fiber.HeaderContentType, contentType)
	}
	return c.Status(status).Send(body)
}

// returned is where the gateway sends the citizen's browser back. What the
// browser brings (a "success" in the query string) proves nothing and is not
// read: this only sends the citizen on to the order's return page
// (/return/{reference}), which shows the order's status as recorded from the
// gateway itself.
func (h *CallbackHandler) returned(c *fiber.Ctx) error {
	id, err := uuid.Parse(c.Params("attempt"))
	if err != nil {
		return problem.New(http.StatusNotFound, "Not found", "no such payment attempt")
	}
	a, err := h.paying.Attempt(c.UserContext(), id)
	if err != nil {
		return err
	}
	if a.Gateway != c.Params("gateway") {
		return problem.New(http.StatusNotFound, "Not found", "no such payment attempt")
	}
	o, err := getOrder(c.UserContext(), h.orders.pool, "o.id = $1", a.OrderID, false)
	if err != nil {
		return err
	}
	return c.Redirect(h.payBaseURL+"/return/"+o.Reference, http.StatusSeeOther)
}

// Callback answers a gateway's callback: the adapter verifies it, the result
// is recorded with RecordResult, and the answer is written in the gateway's
// protocol. A callback whose signature does not verify changes nothing. The
// error is only for an unknown gateway (gateways.ErrUnknownGateway).
func (f *Paying) Callback(ctx context.Context, gateway string, req gateways.CallbackRequest) (status int, contentType string, body []byte, err error) {
	gw, err := f.router.Get(gateway)
	if err != nil {
		return 0, "", nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.CallTimeout)
	defer cancel()
	ack := f.callbackAck(ctx, gw, req)
	if f.cfg.OnCallback != nil {
		f.cfg.OnCallback(gw.Name(), ack)
	}
	status, contentType, body = gw.Reply(ack)
	return status, contentType, body, nil
}

func (f *Paying) callbackAck(ctx context.Context, gw gateways.Gateway, req gateways.CallbackRequest) gateways.Ack {
	r, err := gw.ParseCallback(req)
	switch {
	case errors.Is(err, gateways.ErrBadSignature):
		f.log.WarnContext(ctx, "callback with a bad signature refused", "gateway", gw.Name())
		return gateways.AckBadSignature
	case errors.Is(err, gateways.ErrMalformed):
		f.log.WarnContext(ctx, "malformed callback refused", "gateway", gw.Name(), "err", err)
		return gateways.AckNotFound
	case err != nil:
		return gateways.AckError
	}
	ack, err := f.RecordResult(ctx, gw.Name(), r, "gateway:"+gw.Name())
	if err != nil {
		f.log.ErrorContext(ctx, "callback not recorded; the gateway will retry", "gateway", gw.Name(), "err", err)
	}
	return ack
}
