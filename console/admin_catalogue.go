package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/civicpay/civicpay/payments/catalogue"
)

// The catalogue's pages: agencies and services (their fees), listed and
// edited through the catalogue's store (h.deps.Catalog), with the rules and
// the audit rows of PUT /v1/agencies/:code and PUT /v1/services/:code.

func (h *Handler) catalogueRoutes(a fiber.Router) {
	a.Get("/catalogue", h.needCatalog(h.adminCatalogue))
	// The new entries' forms are apart from the entries' own paths, which a
	// code could take (paths are not case-sensitive: "NEW" is a code).
	a.Get("/catalogue/new-agency", h.needCatalog(h.agencyPage(true)))
	a.Post("/catalogue/new-agency", h.needCatalog(h.saveAgency(true)))
	a.Get("/catalogue/agencies/:code", h.needCatalog(h.agencyPage(false)))
	a.Post("/catalogue/agencies/:code", h.needCatalog(h.saveAgency(false)))
	a.Get("/catalogue/new-service", h.needCatalog(h.servicePage(true)))
	a.Post("/catalogue/new-service", h.needCatalog(h.saveService(true)))
	a.Get("/catalogue/services/:code", h.needCatalog(h.servicePage(false)))
	a.Post("/catalogue/services/:code", h.needCatalog(h.saveService(false)))
}

func (h *Handler) needCatalog(next fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if h.deps.Catalog == nil {
			return h.unavailable(c)
		}
		return next(c)
	}
}

// serviceRow is a service as the catalogue's list shows it.
type serviceRow struct {
	Code, Agency, Name, Kind, Currency, Fee string
	Active, Sensitive                       bool
}

// feeOf says a service's amount rule: its fixed amount, or its range.
func feeOf(s catalogue.Service) string {
	switch {
	case s.FixedAmount != nil:
		return s.FixedAmount.String()
	case s.MinAmount != nil && s.MaxAmount != nil:
		return s.MinAmount.String() + " – " + s.MaxAmount.String()
	}
	return ""
}

type catalogueData struct {
	Agencies []catalogue.Agency
	Services []serviceRow
}

func (h *Handler) adminCatalogue(c *fiber.Ctx) error {
	agencies, err := h.deps.Catalog.Agencies(c.UserContext())
	if err != nil {
		return h.fail(c, err)
	}
	services, err := h.deps.Catalog.Services(c.UserContext(), "")
	if err != nil {
		return h.fail(c, err)
	}
	v := h.adminView(c, "admin.cat.title")
	d := catalogueData{Agencies: agencies}
	for _, s := range services {
		d.Services = append(d.Services, serviceRow{Code: s.Code, Agency: s.AgencyCode, Name: s.Name, Kind: v.T("admin.kind." + string(s.Kind)),
			Currency: s.Currency, Fee: feeOf(s), Active: s.Active, Sensitive: s.Sensitive})
	}
	v.Data = d
	switch c.Query("saved") {
	case "agency", "service":
		v.Notice = v.T("admin.cat.saved." + c.Query("saved"))
	}
	return h.render(c, http.StatusOK, "admin_catalogue", v)
}

// catalogueField is the message of a catalogue field the domain refused.
var catalogueField = map[string]string{
	"code": "admin.cat.err.code", "name": "admin.cat.err.name", "treasury_account": "admin.cat.err.treasury",
	"agency_code": "admin.cat.err.agency", "kind": "admin.cat.err.kind", "currency": "admin.cat.err.currency",
	"fixed_amount": "admin.cat.err.fixed", "min_amount": "admin.cat.err.min", "max_amount": "admin.cat.err.max",
}

// catalogueErrors is err as the form's field messages, if the catalogue
// refused a field (false otherwise).
func catalogueErrors(v *view, err error) (map[string]string, bool) {
	var ve *catalogue.ValidationError
	if !errors.As(err, &ve) {
		return nil, false
	}
	key, ok := catalogueField[ve.Field]
	if !ok {
		key = "admin.cat.err.other"
	}
	return map[string]string{ve.Field: v.T(key)}, true
}

// agencyForm is an agency's form as posted.
type agencyForm struct{ Code, Name, TreasuryAccount string }

type agencyData struct {
	New    bool
	Action string
	Form   agencyForm
	Errors map[string]string
}

func (h *Handler) agencyPage(isNew bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if isNew {
			return h.renderAgency(c, http.StatusOK, true, agencyForm{}, nil)
		}
		a, err := h.deps.Catalog.Agency(c.UserContext(), strings.ToUpper(c.Params("code")))
		if errors.Is(err, catalogue.ErrAgencyNotFound) {
			return h.errorPage(c, http.StatusNotFound, "e404.title", "admin.cat.notfound")
		} else if err != nil {
			return h.fail(c, err)
		}
		return h.renderAgency(c, http.StatusOK, false, agencyForm{Code: a.Code, Name: a.Name, TreasuryAccount: a.TreasuryAccount}, nil)
	}
}

func (h *Handler) renderAgency(c *fiber.Ctx, status int, isNew bool, f agencyForm, errs map[string]string) error {
	title := "admin.cat.agency.edit"
	action := adminPath + "/catalogue/agencies/" + f.Code
	if isNew {
		title, action = "admin.cat.agency.new", adminPath+"/catalogue/new-agency"
	}
	v := h.adminView(c, title)
	if errs != nil {
		v.Error = v.T("admin.err.form")
	}
	v.Data = agencyData{New: isNew, Action: action, Form: f, Errors: errs}
	return h.render(c, status, "admin_agency", v)
}

func (h *Handler) saveAgency(isNew bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		f := agencyForm{Code: strings.Clone(c.FormValue("code")), Name: strings.Clone(c.FormValue("name")),
			TreasuryAccount: strings.Clone(c.FormValue("treasury_account"))}
		if !isNew {
			// The code is the path's: an agency's code does not change.
			f.Code = strings.Clone(strings.ToUpper(c.Params("code")))
			if _, err := h.deps.Catalog.Agency(c.UserContext(), f.Code); errors.Is(err, catalogue.ErrAgencyNotFound) {
				return h.errorPage(c, http.StatusNotFound, "e404.title", "admin.cat.notfound")
			} else if err != nil {
				return h.fail(c, err)
			}
		} else {
			code := strings.ToUpper(strings.TrimSpace(f.Code))
			if _, err := h.deps.Catalog.Agency(c.UserContext(), code); err == nil {
				return h.renderAgency(c, http.StatusUnprocessableEntity, true, f, map[string]string{"code": tr(h.pickLang(c), "admin.cat.err.exists")})
			} else if !errors.Is(err, catalogue.ErrAgencyNotFound) {
				return h.fail(c, err)
			}
		}
		ctx, _ := h.acting(c)
		_, err := h.deps.Catalog.UpsertAgency(ctx, catalogue.Agency{Code: f.Code, Name: f.Name, TreasuryAccount: f.TreasuryAccount})
		if err != nil {
			if errs, ok := catalogueErrors(&view{Lang: h.pickLang(c)}, err); ok {
				return h.renderAgency(c, http.StatusUnprocessableEntity, isNew, f, errs)
			}
			return h.fail(c, err)
		}
		return c.Redirect(adminPath+"/catalogue?saved=agency", http.StatusSeeOther)
	}
}

// serviceForm is a service's form as posted.
type serviceForm struct {
	Code, AgencyCode, Name, Kind, Currency, Fixed, Min, Max string
	Active, Sensitive                                       bool
}

type serviceData struct {
	New        bool
	Action     string
	Form       serviceForm
	Errors     map[string]string
	Agencies   []catalogue.Agency
	Kinds      []catalogue.Kind
	Currencies []string
}

func amountText(d *decimal.Decimal) string {
	if d == nil {
		return ""
	}
	return d.String()
}

func (h *Handler) servicePage(isNew bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if isNew {
			return h.renderService(c, http.StatusOK, true, serviceForm{Kind: string(catalogue.KindFee), Currency: money.VND, Active: true}, nil)
		}
		s, err := h.service(c, c.Params("code"))
		if errors.Is(err, catalogue.ErrServiceNotFound) {
			return h.errorPage(c, http.StatusNotFound, "e404.title", "admin.cat.notfound")
		} else if err != nil {
			return h.fail(c, err)
		}
		return h.renderService(c, http.StatusOK, false, serviceForm{Code: s.Code, AgencyCode: s.AgencyCode, Name: s.Name,
			Kind: string(s.Kind), Currency: s.Currency, Fixed: amountText(s.FixedAmount), Min: amountText(s.MinAmount),
			Max: amountText(s.MaxAmount), Active: s.Active, Sensitive: s.Sensitive}, nil)
	}
}

// service reads the service code from the database (the catalogue has no
// read of one service, and its pricing snapshot may be a few seconds old;
// the catalogue is small).
func (h *Handler) service(c *fiber.Ctx, code string) (catalogue.Service, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	list, err := h.deps.Catalog.Services(c.UserContext(), "")
	if err != nil {
		return catalogue.Service{}, err
	}
	for _, s := range list {
		if s.Code == code {
			return s, nil
		}
	}
	return catalogue.Service{}, catalogue.ErrServiceNotFound
}

func (h *Handler) renderService(c *fiber.Ctx, status int, isNew bool, f serviceForm, errs map[string]string) error {
	title := "admin.cat.service.edit"
	action := adminPath + "/catalogue/services/" + f.Code
	if isNew {
		title, action = "admin.cat.service.new", adminPath+"/catalogue/new-service"
	}
	agencies, err := h.deps.Catalog.Agencies(c.UserContext())
	if err != nil {
		return h.fail(c, err)
	}
	v := h.adminView(c, title)
	if errs != nil {
		v.Error = v.T("admin.err.form")
	}
	d := serviceData{New: isNew, Action: action, Form: f, Errors: errs, Agencies: agencies,
		Kinds: []catalogue.Kind{catalogue.KindFee, catalogue.KindCharge, catalogue.KindTax, catalogue.KindFine}}
	for _, cur := range money.Currencies() {
		if cur.Collected {
			d.Currencies = append(d.Currencies, cur.Code)
		}
	}
	v.Data = d
	return h.render(c, status, "admin_service", v)
}

func (h *Handler) saveService(isNew bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		val := func(k string) string { return strings.Clone(strings.TrimSpace(c.FormValue(k))) }
		f := serviceForm{Code: val("code"), AgencyCode: strings.ToUpper(val("agency_code")), Name: val("name"), Kind: val("kind"),
			Currency: strings.ToUpper(val("currency")), Fixed: val("fixed_amount"), Min: val("min_amount"), Max: val("max_amount"),
			Active: c.FormValue("active") != "", Sensitive: c.FormValue("sensitive") != ""}
		lang := h.pickLang(c)
		if !isNew {
			f.Code = strings.Clone(strings.ToUpper(c.Params("code")))
			if _, err := h.service(c, f.Code); errors.Is(err, catalogue.ErrServiceNotFound) {
				return h.errorPage(c, http.StatusNotFound, "e404.title", "admin.cat.notfound")
			} else if err != nil {
				return h.fail(c, err)
			}
		} else if _, err := h.service(c, f.Code); err == nil {
			return h.renderService(c, http.StatusUnprocessableEntity, true, f, map[string]string{"code": tr(lang, "admin.cat.err.exists")})
		} else if !errors.Is(err, catalogue.ErrServiceNotFound) {
			return h.fail(c, err)
		}
		svc := catalogue.Service{Code: f.Code, AgencyCode: f.AgencyCode, Name: f.Name, Kind: catalogue.Kind(f.Kind),
			Currency: f.Currency, Active: f.Active, Sensitive: f.Sensitive}
		errs := map[string]string{}
		for _, a := range []struct {
			field, s string
			dst      **decimal.Decimal
		}{{"fixed_amount", f.Fixed, &svc.FixedAmount}, {"min_amount", f.Min, &svc.MinAmount}, {"max_amount", f.Max, &svc.MaxAmount}} {
			if a.s == "" {
				continue
			}
			d, err := decimal.NewFromString(strings.ReplaceAll(a.s, " ", ""))
			if err != nil {
				errs[a.field] = tr(lang, "admin.cat.err.number")
				continue
			}
			*a.dst = &d
		}
		if len(errs) > 0 {
			return h.renderService(c, http.StatusUnprocessableEntity, isNew, f, errs)
		}
		ctx, _ := h.acting(c)
		if _, err := h.deps.Catalog.UpsertService(ctx, svc); err != nil {
			if errs, ok := catalogueErrors(&view{Lang: lang}, err); ok {
				return h.renderService(c, http.StatusUnprocessableEntity, isNew, f, errs)
			}
			return h.fail(c, err)
		}
		return c.Redirect(adminPath+"/catalogue?saved=service", http.StatusSeeOther)
	}
}
