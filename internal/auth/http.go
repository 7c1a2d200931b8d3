package auth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/problem"
)

// Handler is the admin API for keys.
type Handler struct{ store *Store }

// NewHandler returns the keys API.
func NewHandler(store *Store) *Handler { return &Handler{store: store} }

// Routes mounts the keys API (admin only) on the /v1 group.
func (h *Handler) Routes(r fiber.Router) {
	g := r.Group("/keys", Require(RoleAdmin))
	g.Get("", h.list)
	g.Post("", h.create)
	g.Post("/:id/revoke", h.revoke)
}

type createRequest struct {
	Role       string   `json:"role"`
	Also       []string `json:"also"` // extra roles: ["treasury"] on an admin key that moves money
	AgencyCode string   `json:"agency_code"`
	Name       string   `json:"name"`
}

// CreatedKey is the one response that carries a secret.
type CreatedKey struct {
	Key
	Secret string `json:"secret"`
}

func (h *Handler) create(c *fiber.Ctx) error {
	var req createRequest
	if err := problem.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	role, err := ParseRole(req.Role)
	if err != nil {
		return problem.Invalid("role", "%v", err)
	}
	if len(req.Name) > 200 {
		return problem.Invalid("name", "at most 200 characters")
	}
	also, err := ParseExtraRoles(role, req.Also)
	if err != nil {
		return problem.Invalid("also", "%v", err)
	}
	k, secret, err := h.store.CreateKey(c.UserContext(), NewKey{Role: role, Also: also,
		AgencyCode: strings.ToUpper(req.AgencyCode), Name: req.Name})
	if err != nil {
		if errors.Is(err, ErrAgencyRequired) || errors.Is(err, ErrUnknownAgency) {
			return problem.Invalid("agency_code", "%v", err)
		}
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(http.StatusCreated).JSON(CreatedKey{Key: k, Secret: secret})
}

func (h *Handler) list(c *fiber.Ctx) error {
	keys, err := h.store.List(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"data": keys})
}

func (h *Handler) revoke(c *fiber.Ctx) error {
	k, err := h.store.Revoke(c.UserContext(), strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	return c.JSON(k)
}
