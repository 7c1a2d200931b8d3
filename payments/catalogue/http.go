package catalogue

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/problem"
)

// HTTPErrors maps catalogue errors to HTTP.
var HTTPErrors = []problem.Mapping{
	{Err: ErrAgencyNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: ErrServiceNotFound, Status: http.StatusNotFound, Title: "Not found"},
	// A *ValidationError is made a field problem by problemFor; one that
	// reached the server's handler another way is still a 422.
	{Err: ErrInvalid, Status: http.StatusUnprocessableEntity, Title: "Invalid field"},
}

// problemFor is err as the API answers it: a *ValidationError is a 422
// "Invalid field" naming the field; any other error is left to HTTPErrors.
func problemFor(err error) error {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return problem.Invalid(ve.Field, "%s", ve.Reason)
	}
	return err
}

// answer is h with its error passed through problemFor.
func answer(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error { return problemFor(h(c)) }
}

// Handler serves the catalogue: anyone authenticated reads it, admins change it.
type Handler struct{ store *Store }

// NewHandler returns the catalogue API.
func NewHandler(store *Store) *Handler { return &Handler{store: store} }

// Routes mounts the catalogue on the /v1 group.
func (h *Handler) Routes(r fiber.Router) {
	r.Get("/agencies", answer(h.listAgencies))
	r.Get("/agencies/:code", answer(h.getAgency))
	r.Put("/agencies/:code", auth.Require(auth.RoleAdmin), answer(h.putAgency))
	r.Get("/services", answer(h.listServices))
	r.Put("/services/:code", auth.Require(auth.RoleAdmin), answer(h.putService))
}

func (h *Handler) listAgencies(c *fiber.Ctx) error {
	list, err := h.store.Agencies(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"data": list})
}

func (h *Handler) getAgency(c *fiber.Ctx) error {
	a, err := h.store.Agency(c.UserContext(), strings.ToUpper(c.Params("code")))
	if err != nil {
		return err
	}
	return c.JSON(a)
}

type agencyRequest struct {
	Name            string `json:"name"`
	TreasuryAccount string `json:"treasury_account"`
}

func (h *Handler) putAgency(c *fiber.Ctx) error {
	var req agencyRequest
	if err := problem.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	a, err := h.store.UpsertAgency(c.UserContext(), Agency{Code: strings.Clone(c.Params("code")), Name: req.Name, TreasuryAccount: req.TreasuryAccount})
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (h *Handler) listServices(c *fiber.Ctx) error {
	list, err := h.store.Services(c.UserContext(), strings.ToUpper(c.Query("agency")))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"data": list})
}

type serviceRequest struct {
	AgencyCode  string       `json:"agency_code"`
	Name        string       `json:"name"`
	Kind        Kind         `json:"kind"`
	Currency    string       `json:"currency"`
	FixedAmount *jsonDecimal `json:"fixed_amount"`
	MinAmount   *jsonDecimal `json:"min_amount"`
	MaxAmount   *jsonDecimal `json:"max_amount"`
	Active      *bool        `json:"active"`
	Sensitive   bool         `json:"sensitive"` // default false
}

func (h *Handler) putService(c *fiber.Ctx) error {
	var req serviceRequest
	if err := problem.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	svc := Service{Code: strings.Clone(c.Params("code")), AgencyCode: strings.ToUpper(req.AgencyCode), Name: req.Name,
		Kind: req.Kind, Currency: req.Currency, FixedAmount: req.FixedAmount.ptr(), MinAmount: req.MinAmount.ptr(),
		MaxAmount: req.MaxAmount.ptr(), Active: req.Active == nil || *req.Active,
		Sensitive: req.Sensitive}
	saved, err := h.store.UpsertService(c.UserContext(), svc)
	if err != nil {
		return err
	}
	return c.JSON(saved)
}
