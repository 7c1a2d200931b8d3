package console

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// The admin section, /console/admin (admins only): staff users (admin.go),
// the catalogue (admin_catalogue.go) and the gateways' breakers
// (admin_gateways.go), with links to the API keys' settings, the audit log
// and River's UI. Every change goes through a store or domain function that
// writes it and its audit row (the signed-in admin as actor) in one
// transaction.

func init() {
	for _, name := range []string{"admin", "admin_users", "admin_user", "admin_link", "admin_catalogue", "admin_agency",
		"admin_service", "admin_gateways"} {
		templates[name] = template.Must(template.ParseFS(files, "templates/layout.html", "templates/"+name+".html",
			"templates/admin_fields.html"))
	}
}

const adminPath = basePath + "/admin"

func (h *Handler) adminRoutes(in fiber.Router) {
	a := in.Group("/admin", h.adminOnly)
	a.Get("/", h.adminIndex)
	a.Get("/users", h.adminUsers)
	a.Post("/users", h.adminInvite)
	a.Get("/users/:id", h.adminUser)
	a.Post("/users/:id", h.adminUpdateUser)
	a.Post("/users/:id/disable", h.adminSetDisabled(true))
	a.Post("/users/:id/enable", h.adminSetDisabled(false))
	a.Post("/users/:id/reset-2fa", h.adminResetTOTP)
	a.Post("/users/:id/link", h.adminResendLink)
	h.catalogueRoutes(a)
	a.Get("/gateways", h.adminGateways)
}

// adminOnly refuses the admin section to every other role.
func (h *Handler) adminOnly(c *fiber.Ctx) error {
	if cur(c).user.Role != RoleAdmin {
		return h.errorPage(c, http.StatusForbidden, "e403.title", "e403.role")
	}
	return c.Next()
}

// adminView is a page of the admin section.
func (h *Handler) adminView(c *fiber.Ctx, title string) *view {
	v := h.newView(c, title)
	v.Nav = nav(cur(c).user, "admin")
	return v
}

// unavailable is the page of an admin page whose domain the console was
// built without.
func (h *Handler) unavailable(c *fiber.Ctx) error {
	return h.errorPage(c, http.StatusServiceUnavailable, "admin.unavailable.title", "admin.unavailable.body")
}

func (h *Handler) adminIndex(c *fiber.Ctx) error {
	return h.render(c, http.StatusOK, "admin", h.adminView(c, "admin.title"))
}

// userRow is a user as the admin pages show it.
type userRow struct {
	ID, Email, Role, Agency string
	CanRefund, Disabled     bool
	TOTP                    bool
	State, LastSignIn       string
}

func (h *Handler) userRowOf(v *view, i UserInfo) userRow {
	r := userRow{ID: i.ID.String(), Email: i.Email, Role: v.T("role." + string(i.Role)), Agency: i.AgencyCode,
		CanRefund: i.CanRefund, Disabled: i.Disabled, TOTP: i.TOTPConfirmed, LastSignIn: v.T("admin.never")}
	if i.Role == RoleAgency {
		r.Role = v.T("role.agency", i.AgencyCode)
	}
	switch {
	case i.Disabled:
		r.State = v.T("admin.state.disabled")
	case i.LockedUntil != nil && i.LockedUntil.After(h.clock.Now()):
		r.State = v.T("admin.state.locked", formatTime(*i.LockedUntil))
	case !i.PasswordSet:
		r.State = v.T("admin.state.invited")
	case !i.TOTPConfirmed:
		r.State = v.T("admin.state.setup")
	default:
		r.State = v.T("admin.state.active")
	}
	if i.LastSignIn != nil {
		r.LastSignIn = formatTime(*i.LastSignIn)
	}
	return r
}

// userForm is the invitation's or a user's change's form, as posted.
type userForm struct {
	Email, Role, Agency string
	CanRefund           bool
}

func userFormOf(c *fiber.Ctx) userForm {
	return userForm{Email: strings.Clone(strings.TrimSpace(c.FormValue("email"))), Role: strings.Clone(c.FormValue("role")),
		Agency: strings.Clone(strings.ToUpper(strings.TrimSpace(c.FormValue("agency")))), CanRefund: c.FormValue("can_refund") != ""}
}

// userFormData is what the invitation and the change forms need.
type userFormData struct {
	Lang   string
	Form   userForm
	Errors map[string]string // field → message
	Roles  []Role
	// Agencies for a choice (nil without the catalogue: a text field).
	Agencies []agencyOption
}

// T translates a message key (for the form's fields, admin_fields.html).
func (d userFormData) T(key string, args ...any) string { return tr(d.Lang, key, args...) }

func (h *Handler) userFormData(c *fiber.Ctx, v *view, f userForm) (userFormData, error) {
	d := userFormData{Lang: v.Lang, Form: f, Roles: []Role{RoleAgency, RoleTreasury, RoleAdmin}}
	if h.deps.Catalog == nil {
		return d, nil
	}
	list, err := h.deps.Catalog.Agencies(c.UserContext())
	if err != nil {
		return d, err
	}
	d.Agencies = make([]agencyOption, 0, len(list))
	for _, a := range list {
		d.Agencies = append(d.Agencies, agencyOption{Code: a.Code, Name: a.Name})
	}
	return d, nil
}

// fieldErrors turns err into the form's field messages, if it is a
// FieldError (false otherwise).
func fieldErrors(v *view, err error) (map[string]string, bool) {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return nil, false
	}
	return map[string]string{fe.Field: v.T("admin.err." + fe.Field + "." + fe.Code)}, true
}

type usersData struct {
	Users []userRow
	userFormData
}

func (h *Handler) adminUsers(c *fiber.Ctx) error {
	return h.usersPage(c, http.StatusOK, userForm{Role: string(RoleAgency)}, nil)
}

// usersPage is the list of users with the invitation form (f, with err's
// field messages).
func (h *Handler) usersPage(c *fiber.Ctx, status int, f userForm, err error) error {
	v := h.adminView(c, "admin.users.title")
	fd, e := h.userFormData(c, v, f)
	if e != nil {
		return h.fail(c, e)
	}
	if err != nil {
		fd.Errors, _ = fieldErrors(v, err)
		v.Error = v.T("admin.err.form")
	}
	list, e := h.store.Users(c.UserContext())
	if e != nil {
		return h.fail(c, e)
	}
	d := usersData{userFormData: fd}
	for _, i := range list {
		d.Users = append(d.Users, h.userRowOf(v, i))
	}
	v.Data = d
	return h.render(c, status, "admin_users", v)
}

func (h *Handler) adminInvite(c *fiber.Ctx) error {
	f := userFormOf(c)
	role, err := ParseRole(f.Role)
	if err != nil {
		return h.usersPage(c, http.StatusUnprocessableEntity, f, &FieldError{Field: "role", Code: "invalid", Err: err})
	}
	ctx, _ := h.acting(c)
	u, token, err := h.store.CreateUser(ctx, NewUser{Email: f.Email, Role: role, AgencyCode: f.Agency, CanRefund: f.CanRefund},
		h.cfg.SetupLinkTTL)
	var fe *FieldError
	if errors.As(err, &fe) {
		return h.usersPage(c, http.StatusUnprocessableEntity, f, err)
	} else if err != nil {
		return h.fail(c, err)
	}
	return h.linkPage(c, http.StatusCreated, u, token, "admin.link.invited")
}

// linkData is the page that shows a set-password link, once.
type linkData struct {
	ID, Email, Link, Expires, Intro string
}

func (h *Handler) linkPage(c *fiber.Ctx, status int, u User, token, intro string) error {
	v := h.adminView(c, "admin.link.title")
	v.Data = linkData{ID: u.ID.String(), Email: u.Email, Intro: v.T(intro, u.Email),
		Link:    strings.TrimRight(h.cfg.PublicURL, "/") + basePath + "/setup/" + token,
		Expires: formatTime(h.clock.Now().Add(h.cfg.SetupLinkTTL))}
	return h.render(c, status, "admin_link", v)
}

type userPageData struct {
	User      userRow
	Self      bool
	AuditHref string
	userFormData
}

// userID is the :id of the path (false: not a user id).
func userID(c *fiber.Ctx) (uuid.UUID, bool) {
	id, err := uuid.Parse(c.Params("id"))
	return id, err == nil
}

func (h *Handler) notFound(c *fiber.Ctx) error {
	return h.errorPage(c, http.StatusNotFound, "e404.title", "admin.users.notfound")
}

func (h *Handler) adminUser(c *fiber.Ctx) error {
	id, ok := userID(c)
	if !ok {
		return h.notFound(c)
	}
	return h.userPage(c, http.StatusOK, id, nil, nil)
}

// userPage shows the user id, its change form (f, or the user as it is when
// nil) and, for err, a field's message or the page's error.
func (h *Handler) userPage(c *fiber.Ctx, status int, id uuid.UUID, f *userForm, err error) error {
	i, e := h.store.UserInfo(c.UserContext(), id)
	if errors.Is(e, ErrUserNotFound) {
		return h.notFound(c)
	} else if e != nil {
		return h.fail(c, e)
	}
	v := h.adminView(c, "admin.user.title")
	if f == nil {
		f = &userForm{Email: i.Email, Role: string(i.Role), Agency: i.AgencyCode, CanRefund: i.CanRefund}
	}
	fd, e := h.userFormData(c, v, *f)
	if e != nil {
		return h.fail(c, e)
	}
	if err != nil {
		var ok bool
		if fd.Errors, ok = fieldErrors(v, err); ok {
			v.Error = v.T("admin.err.form")
		} else {
			v.Error = v.T(adminErrorKey(err))
		}
	}
	switch c.Query("done") {
	case "updated", "disabled", "enabled":
		v.Notice = v.T("admin.done." + c.Query("done"))
	}
	q := url.Values{"resource_type": {"staff_user"}, "resource_id": {id.String()}}
	v.Data = userPageData{User: h.userRowOf(v, i), Self: id == cur(c).user.ID, userFormData: fd,
		AuditHref: basePath + "/audit?" + q.Encode()}
	return h.render(c, status, "admin_user", v)
}

// adminErrorKey is the message of a refused change that is no field's.
func adminErrorKey(err error) string {
	switch {
	case errors.Is(err, ErrLastAdmin):
		return "admin.err.lastadmin"
	case errors.Is(err, ErrUserDisabled):
		return "admin.err.disabled"
	}
	return "e500.body"
}

// adminRefused answers a change the store refused: the user's page with
// the reason (422 for a field, 409 for the last admin or a disabled user),
// or false when err is no such refusal.
func (h *Handler) adminRefused(c *fiber.Ctx, id uuid.UUID, f *userForm, err error) (bool, error) {
	var fe *FieldError
	switch {
	case errors.Is(err, ErrUserNotFound):
		return true, h.notFound(c)
	case errors.As(err, &fe):
		return true, h.userPage(c, http.StatusUnprocessableEntity, id, f, err)
	case errors.Is(err, ErrLastAdmin), errors.Is(err, ErrUserDisabled):
		return true, h.userPage(c, http.StatusConflict, id, f, err)
	}
	return false, nil
}

func (h *Handler) userDone(c *fiber.Ctx, id uuid.UUID, done string) error {
	return c.Redirect(adminPath+"/users/"+id.String()+"?done="+done, http.StatusSeeOther)
}

func (h *Handler) adminUpdateUser(c *fiber.Ctx) error {
	id, ok := userID(c)
	if !ok {
		return h.notFound(c)
	}
	f := userFormOf(c)
	role, err := ParseRole(f.Role)
	if err != nil {
		return h.userPage(c, http.StatusUnprocessableEntity, id, &f, &FieldError{Field: "role", Code: "invalid", Err: err})
	}
	ctx, _ := h.acting(c)
	_, err = h.store.UpdateUser(ctx, id, UserChange{Role: role, AgencyCode: f.Agency, CanRefund: f.CanRefund})
	if refused, ans := h.adminRefused(c, id, &f, err); refused {
		return ans
	} else if err != nil {
		return h.fail(c, err)
	}
	return h.userDone(c, id, "updated")
}

func (h *Handler) adminSetDisabled(disabled bool) fiber.Handler {
	done := "enabled"
	if disabled {
		done = "disabled"
	}
	return func(c *fiber.Ctx) error {
		id, ok := userID(c)
		if !ok {
			return h.notFound(c)
		}
		ctx, _ := h.acting(c)
		_, err := h.store.SetDisabled(ctx, id, disabled)
		if refused, ans := h.adminRefused(c, id, nil, err); refused {
			return ans
		} else if err != nil {
			return h.fail(c, err)
		}
		// An admin who disabled itself has no session now: the redirect
		// lands on the sign-in page.
		return h.userDone(c, id, done)
	}
}

func (h *Handler) adminResetTOTP(c *fiber.Ctx) error {
	id, ok := userID(c)
	if !ok {
		return h.notFound(c)
	}
	ctx, _ := h.acting(c)
	u, token, err := h.store.ResetTOTP(ctx, id, h.cfg.SetupLinkTTL)
	if refused, ans := h.adminRefused(c, id, nil, err); refused {
		return ans
	} else if err != nil {
		return h.fail(c, err)
	}
	return h.linkPage(c, http.StatusOK, u, token, "admin.link.reset")
}

func (h *Handler) adminResendLink(c *fiber.Ctx) error {
	id, ok := userID(c)
	if !ok {
		return h.notFound(c)
	}
	ctx, _ := h.acting(c)
	u, token, err := h.store.ResendLink(ctx, id, h.cfg.SetupLinkTTL)
	if refused, ans := h.adminRefused(c, id, nil, err); refused {
		return ans
	} else if err != nil {
		return h.fail(c, err)
	}
	return h.linkPage(c, http.StatusOK, u, token, "admin.link.new")
}
