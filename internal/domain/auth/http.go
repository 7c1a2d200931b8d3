package auth

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/foundation/problem"
)

// Handler is the admin API for keys.
type Handler struct {
	store      *Store
	defaultTTL time.Duration
}

// NewHandler returns the keys API; a key created without an expiry expires
// after defaultTTL (0: never).
func NewHandler(store *Store, defaultTTL time.Duration) *Handler {
	return &Handler{store: store, defaultTTL: defaultTTL}
}

// Routes mounts the keys API (admin only) on the /v1 group.
func (h *Handler) Routes(r fiber.Router) {
	g := r.Group("/keys", Require(RoleAdmin))
	g.Get("", h.list)
	g.Post("", h.create)
	g.Post("/:id/revoke", h.revoke)
}

type createRequest struct {
	Role       string     `json:"role"`
	Also       []string   `json:"also"` // extra roles: ["treasury"] on an admin key that moves money
	AgencyCode string     `json:"agency_code"`
	Name       string     `json:"name"`
	ExpiresAt  *time.Time `json:"expires_at"` // RFC 3339, in the future
	ExpiresIn  string     `json:"expires_in"` // a Go duration such as "720h"
}

// ExpiryFor is when a key asked for at now expires: at (if given), else now +
// in (if given, "0" for never), else now + defaultTTL (never when 0). field
// names the offending input of an error.
func ExpiryFor(now time.Time, at *time.Time, in string, defaultTTL time.Duration) (exp *time.Time, field string, err error) {
	switch {
	case at != nil && in != "":
		return nil, "expires_in", errors.New("give expires_at or expires_in, not both")
	case at != nil:
		if !at.After(now) {
			return nil, "expires_at", ErrExpiryInPast
		}
		return at, "", nil
	case in != "":
		d, err := time.ParseDuration(in)
		if err != nil || d < 0 {
			return nil, "expires_in", errors.New(`a non-negative duration such as "720h" ("0" for no expiry)`)
		}
		if d == 0 {
			return nil, "", nil
		}
		t := now.Add(d)
		return &t, "", nil
	case defaultTTL > 0:
		t := now.Add(defaultTTL)
		return &t, "", nil
	}
	return nil, "", nil
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
	exp, field, err := ExpiryFor(time.Now(), req.ExpiresAt, req.ExpiresIn, h.defaultTTL)
	if err != nil {
		return problem.Invalid(field, "%v", err)
	}
	k, secret, err := h.store.CreateKey(c.UserContext(), NewKey{Role: role, Also: also,
		AgencyCode: strings.ToUpper(req.AgencyCode), Name: req.Name, ExpiresAt: exp})
	if err != nil {
		if errors.Is(err, ErrAgencyRequired) || errors.Is(err, ErrUnknownAgency) {
			return problem.Invalid("agency_code", "%v", err)
		}
		if errors.Is(err, ErrExpiryInPast) {
			return problem.Invalid("expires_at", "%v", err)
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
