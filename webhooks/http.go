package webhooks

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/problem"
)

// Handler serves the webhook API; every authenticated key may use it for its
// own endpoints.
type Handler struct{ svc *Service }

// NewHandler returns the HTTP handler over svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Routes mounts the handlers on the authenticated /v1 group.
func (h *Handler) Routes(r fiber.Router) {
	r.Post("/webhook-endpoints", problems(h.createEndpoint))
	r.Get("/webhook-endpoints", problems(h.listEndpoints))
	r.Get("/webhook-endpoints/:id", problems(h.getEndpoint))
	r.Patch("/webhook-endpoints/:id", problems(h.updateEndpoint))
	r.Delete("/webhook-endpoints/:id", problems(h.deleteEndpoint))
	r.Post("/webhook-endpoints/:id/rotate-secret", problems(h.rotateSecret))
	r.Get("/webhook-endpoints/:id/deliveries", problems(h.listAttempts))
	r.Post("/webhook-deliveries/:id/retry", problems(h.retryDelivery))
	r.Get("/events", problems(h.listEvents))
	r.Get("/events/:id", problems(h.getEvent))
	r.Post("/events/:id/resend", problems(h.resendEvent))
}

const (
	defaultLimit = 50
	maxLimit     = 200
)

// list is the envelope of every list response.
type list[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
	HasMore    bool   `json:"has_more"`
}

func newList[T any](items []T, limit int, cursor func(T) string) list[T] {
	l := list[T]{Data: items, HasMore: len(items) == limit}
	if l.Data == nil {
		l.Data = []T{}
	}
	if l.HasMore {
		l.NextCursor = cursor(items[len(items)-1])
	}
	return l
}

func (h *Handler) createEndpoint(c *fiber.Ctx) error {
	var in EndpointInput
	if err := problem.DecodeJSON(c.Body(), &in); err != nil {
		return err
	}
	e, err := h.svc.CreateEndpoint(c.UserContext(), auth.FromCtx(c), in)
	if err != nil {
		return err
	}
	c.Location("/v1/webhook-endpoints/" + e.ID.String())
	return c.Status(http.StatusCreated).JSON(e)
}

func (h *Handler) listEndpoints(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	var after uuid.UUID
	if s := c.Query("after"); s != "" {
		if after, err = uuid.Parse(s); err != nil {
			return problem.BadRequest("query.after", "not a cursor returned by this API")
		}
	}
	es, err := h.svc.Endpoints(c.UserContext(), auth.FromCtx(c), after, limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(es, limit, func(e Endpoint) string { return e.ID.String() }))
}

func (h *Handler) getEndpoint(c *fiber.Ctx) error {
	id, err := pathUUID(c, ErrEndpointNotFound)
	if err != nil {
		return err
	}
	e, err := h.svc.Endpoint(c.UserContext(), auth.FromCtx(c), id)
	if err != nil {
		return err
	}
	return c.JSON(e)
}

func (h *Handler) updateEndpoint(c *fiber.Ctx) error {
	id, err := pathUUID(c, ErrEndpointNotFound)
	if err != nil {
		return err
	}
	var patch EndpointPatch
	if err := problem.DecodeJSON(c.Body(), &patch); err != nil {
		return err
	}
	e, err := h.svc.UpdateEndpoint(c.UserContext(), auth.FromCtx(c), id, patch)
	if err != nil {
		return err
	}
	return c.JSON(e)
}

func (h *Handler) deleteEndpoint(c *fiber.Ctx) error {
	id, err := pathUUID(c, ErrEndpointNotFound)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteEndpoint(c.UserContext(), auth.FromCtx(c), id); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (h *Handler) rotateSecret(c *fiber.Ctx) error {
	id, err := pathUUID(c, ErrEndpointNotFound)
	if err != nil {
		return err
	}
	e, err := h.svc.RotateSecret(c.UserContext(), auth.FromCtx(c), id)
	if err != nil {
		return err
	}
	return c.JSON(e)
}

func (h *Handler) listAttempts(c *fiber.Ctx) error {
	id, err := pathUUID(c, ErrEndpointNotFound)
	if err != nil {
		return err
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	var before int64
	if s := c.Query("before"); s != "" {
		if before, err = strconv.ParseInt(s, 10, 64); err != nil || before <= 0 {
			return problem.BadRequest("query.before", "not a cursor returned by this API")
		}
	}
	as, err := h.svc.Attempts(c.UserContext(), auth.FromCtx(c), id, before, limit)
	if err != nil {
		return err
	}
	return c.JSON(newList(as, limit, func(a Attempt) string { return strconv.FormatInt(a.ID, 10) }))
}

func (h *Handler) retryDelivery(c *fiber.Ctx) error {
	id, err := pathUUID(c, ErrDeliveryNotFound)
	if err != nil {
		return err
	}
	if err := h.svc.RetryDelivery(c.UserContext(), auth.FromCtx(c), id); err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(fiber.Map{"delivery_id": id, "state": statePending})
}

func (h *Handler) listEvents(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	q := EventQuery{Type: c.Query("type"), Subject: c.Query("subject"), After: c.Query("after"), Limit: limit}
	if s := c.Query("since"); s != "" {
		if q.Since, err = time.Parse(time.RFC3339, s); err != nil {
			return problem.BadRequest("query.since", "want an RFC 3339 time such as 2025-01-31T00:00:00Z")
		}
	}
	page, err := h.svc.Events(c.UserContext(), auth.FromCtx(c), q)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (h *Handler) getEvent(c *fiber.Ctx) error {
	ev, err := h.svc.Event(c.UserContext(), auth.FromCtx(c), c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(ev)
}

// resendRequest optionally narrows a resend to one endpoint.
type resendRequest struct {
	EndpointID *uuid.UUID `json:"endpoint_id"`
}

func (h *Handler) resendEvent(c *fiber.Ctx) error {
	var req resendRequest
	if len(c.Body()) > 0 {
		if err := problem.DecodeJSON(c.Body(), &req); err != nil {
			return err
		}
	}
	ids, err := h.svc.ResendEvent(c.UserContext(), auth.FromCtx(c), c.Params("id"), req.EndpointID)
	if err != nil {
		return err
	}
	if ids == nil {
		ids = []uuid.UUID{}
	}
	return c.Status(http.StatusAccepted).JSON(fiber.Map{"deliveries": ids})
}

// pathUUID reads :id; a malformed one names nothing that exists.
func pathUUID(c *fiber.Ctx, notFound error) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return uuid.UUID{}, fmt.Errorf("%w: %q", notFound, c.Params("id"))
	}
	return id, nil
}

func queryLimit(c *fiber.Ctx) (int, error) {
	s := c.Query("limit")
	if s == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, problem.BadRequest("query.limit", "an integer from 1 to %d", maxLimit)
	}
	return n, nil
}
