package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/webhooks"
)

// The settings of an agency (/console/settings): its webhook endpoints and
// its API keys, with the API's rules, through the same domain functions
// (webhooks.Service, auth.Store) and so the same audit rows.
//
// An agency user manages its own agency's endpoints (those its staff made
// here, which belong to the agency, and those of its agency keys) and sees
// its agency's keys, read-only; an admin chooses the agency, and alone
// creates and revokes keys (as POST /v1/keys is admin-only). Secrets (an
// endpoint's signing secret, a key) are shown once, in the answer to the
// POST that made them, and never again.

// settingsRoles see the section.
var settingsRoles = []Role{RoleAgency, RoleAdmin}

// settingsPageSize is the endpoints and the delivery log's rows per page.
const settingsPageSize = 50

// keyExpiries are the key form's choices ("": the configured default).
var keyExpiries = []struct{ Value, Key string }{
	{"", "settings.key.expires.default"},
	{"720h", "settings.key.expires.30"},
	{"2160h", "settings.key.expires.90"},
	{"8760h", "settings.key.expires.365"},
	{"0", "settings.key.expires.never"},
}

// settingsDone are the notices a redirect after a change may ask for.
var settingsDone = map[string]string{
	"deleted":  "settings.done.deleted",
	"revoked":  "settings.done.revoked",
	"enabled":  "settings.done.enabled",
	"disabled": "settings.done.disabled",
	"retried":  "settings.done.retried",
	"resent":   "settings.done.resent",
	"resent0":  "settings.done.resent0",
}

func init() {
	for _, name := range []string{"settings", "webhook"} {
		templates[name] = template.Must(template.ParseFS(files, "templates/layout.html", "templates/"+name+".html"))
	}
}

func (h *Handler) settingsRoutes(in fiber.Router) {
	in.Get("/settings", h.settingsOnly(h.settingsPage))
	in.Post("/settings/webhooks", h.settingsOnly(h.createEndpoint))
	in.Get("/settings/webhooks/:id", h.settingsOnly(h.endpointPage))
	in.Post("/settings/webhooks/:id/rotate", h.settingsOnly(h.rotateEndpoint))
	in.Post("/settings/webhooks/:id/enabled", h.settingsOnly(h.enableEndpoint))
	in.Post("/settings/webhooks/:id/delete", h.settingsOnly(h.deleteEndpoint))
	in.Post("/settings/webhooks/:id/resend", h.settingsOnly(h.resendEvent))
	in.Post("/settings/webhooks/:id/deliveries/:delivery/retry", h.settingsOnly(h.retryDelivery))
	in.Post("/settings/keys", h.settingsOnly(h.createKey))
	in.Post("/settings/keys/:id/revoke", h.settingsOnly(h.revokeKey))
}

// settingsOnly lets through the roles of the section, when the console has
// the domains the pages act through (503 otherwise).
func (h *Handler) settingsOnly(next fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !slices.Contains(settingsRoles, cur(c).user.Role) {
			return h.errorPage(c, http.StatusForbidden, "e403.title", "e403.role")
		}
		if h.deps.Webhooks == nil || h.deps.Keys == nil {
			return h.errorPage(c, http.StatusServiceUnavailable, "settings.unavailable", "settings.unavailable.body")
		}
		return next(c)
	}
}

// agencyOf is the agency a request works on: an agency user's own, whatever
// the request says; for an admin, the one it names.
func agencyOf(u User, named string) string {
	if u.Role == RoleAgency {
		return u.AgencyCode
	}
	return strings.ToUpper(strings.TrimSpace(named))
}

// The settings page.

// agencyOption is an agency offered in a choice (settings, admin's user forms).
type agencyOption struct {
	Code, Name string
	Selected   bool
}

type eventOption struct {
	Type, ID, Label string
	Checked         bool
}

type endpointRow struct {
	URL, Href, Events, State, Owner, Created string
}

type keyRow struct {
	ID, Prefix, Name, Role, CreatedBy, Created, LastUsed, Expires, State string
	Active                                                               bool
}

type endpointForm struct {
	URL, Description string
	Events           []string
}

type keyForm struct{ Name, Expires string }

type expiryOption struct {
	Value, Label string
	Selected     bool
}

type settingsData struct {
	Agency        string // "" while an admin has chosen none
	Admin         bool   // chooses the agency; creates and revokes keys
	Agencies      []agencyOption
	Endpoints     []endpointRow
	NextEndpoints string
	Keys          []keyRow
	EventTypes    []eventOption
	Expiries      []expiryOption
	Form          endpointForm
	KeyForm       keyForm
	Errs          map[string]string // form field → translated message
	// NewKey is a key just created: its full secret, shown this once.
	NewKey, NewKeyPrefix string
}

func (h *Handler) settingsPage(c *fiber.Ctx) error {
	cu := cur(c)
	agency := agencyOf(cu.user, c.Query("agency"))
	v := h.newView(c, "settings.title")
	if k, ok := settingsDone[c.Query("done")]; ok {
		v.Notice = v.T(k)
	}
	after := uuid.Nil
	if s := c.Query("after"); s != "" {
		id, err := uuid.Parse(s)
		if err != nil {
			return h.errorPage(c, http.StatusNotFound, "e404.title", "")
		}
		after = id
	}
	d := &settingsData{}
	status, err := h.fillSettings(c, v, d, agency, after)
	if err != nil {
		return h.fail(c, err)
	}
	return h.render(c, status, "settings", v)
}

// fillSettings fills the page of agency for the signed-in user: the agency
// choice (admin), the agency's endpoints from after and its keys. It says
// the status to answer: 404 for an agency that does not exist.
func (h *Handler) fillSettings(c *fiber.Ctx, v *view, d *settingsData, agency string, after uuid.UUID) (int, error) {
	cu := cur(c)
	ctx, p := h.acting(c)
	v.Nav = nav(cu.user, "settings")
	v.Data = d
	d.Admin = cu.user.Role == RoleAdmin
	d.Agency = agency
	if d.Form.Events == nil && d.Errs["events"] == "" {
		d.Form.Events = []string{webhooks.EventOrderPaid} // a new form's default
	}
	for i, t := range webhooks.EventTypes() {
		d.EventTypes = append(d.EventTypes, eventOption{Type: t, ID: strconv.Itoa(i), Label: v.T("settings.event." + t),
			Checked: slices.Contains(d.Form.Events, t)})
	}
	for _, x := range keyExpiries {
		label := v.T(x.Key)
		if x.Value == "" {
			label = v.T(x.Key, expiryName(v, h.cfg.KeyDefaultTTL))
		}
		d.Expiries = append(d.Expiries, expiryOption{Value: x.Value, Label: label, Selected: x.Value == d.KeyForm.Expires})
	}
	status := http.StatusOK
	if d.Admin && h.deps.Catalog != nil {
		list, err := h.deps.Catalog.Agencies(ctx)
		if err != nil {
			return 0, err
		}
		known := agency == ""
		for _, a := range list {
			d.Agencies = append(d.Agencies, agencyOption{Code: a.Code, Name: a.Name, Selected: a.Code == agency})
			known = known || a.Code == agency
		}
		if !known {
			v.Error = v.T("settings.unknown_agency", agency)
			d.Agency, status = "", http.StatusNotFound
		}
	}
	if d.Agency == "" {
		return status, nil
	}
	keys, err := h.deps.Keys.AgencyKeys(ctx, d.Agency)
	if err != nil {
		return 0, err
	}
	prefixes := make(map[uuid.UUID]string, len(keys))
	for _, k := range keys {
		prefixes[k.ID] = k.Prefix
	}
	eps, err := h.deps.Webhooks.AgencyEndpoints(ctx, p, d.Agency, after, settingsPageSize)
	if err != nil {
		return 0, err
	}
	for _, e := range eps {
		d.Endpoints = append(d.Endpoints, endpointRow{URL: e.URL, Href: basePath + "/settings/webhooks/" + e.ID.String(),
			Events: strings.Join(e.Events, ", "), State: endpointState(v, e), Owner: ownerName(v, e, prefixes),
			Created: formatTime(e.CreatedAt)})
	}
	if len(eps) == settingsPageSize {
		q := url.Values{"after": {eps[len(eps)-1].ID.String()}}
		if d.Admin {
			q.Set("agency", d.Agency)
		}
		d.NextEndpoints = basePath + "/settings?" + q.Encode()
	}
	emails, err := h.staffEmails(ctx, keys)
	if err != nil {
		return 0, err
	}
	now := time.Now() // as the key store decides expiry
	for _, k := range keys {
		r := keyRow{ID: k.ID.String(), Prefix: k.Prefix, Name: k.Name, Role: string(k.Role),
			CreatedBy: creatorName(v, k.CreatedBy, emails), Created: formatTime(k.CreatedAt),
			LastUsed: v.T("settings.never"), Expires: v.T("settings.never"), Active: k.RevokedAt == nil && !k.Expired(now)}
		if k.LastUsedAt != nil {
			r.LastUsed = formatTime(*k.LastUsedAt)
		}
		if k.ExpiresAt != nil {
			r.Expires = formatTime(*k.ExpiresAt)
		}
		switch {
		case k.RevokedAt != nil:
			r.State = v.T("settings.key.revoked", formatTime(*k.RevokedAt))
		case !r.Active:
			r.State = v.T("settings.key.expired")
		default:
			r.State = v.T("settings.key.active")
		}
		d.Keys = append(d.Keys, r)
	}
	return status, nil
}

// expiryName says a default key lifetime: in days, or never.
func expiryName(v *view, ttl time.Duration) string {
	if ttl <= 0 {
		return v.T("settings.never")
	}
	return v.T("settings.days", int(ttl.Hours()/24))
}

func endpointState(v *view, e webhooks.Endpoint) string {
	if e.Enabled {
		if e.FailingSince != nil {
			return v.T("settings.state.failing", formatTime(*e.FailingSince))
		}
		return v.T("settings.state.enabled")
	}
	if e.DisabledReason != "" {
		return v.T("settings.state.disabled_why", e.DisabledReason)
	}
	return v.T("settings.state.disabled")
}

// ownerName says whose an endpoint is: the agency's own, or an API key's.
func ownerName(v *view, e webhooks.Endpoint, prefixes map[uuid.UUID]string) string {
	if e.OwnerKeyID == uuid.Nil {
		return v.T("settings.owner.agency")
	}
	if p, ok := prefixes[e.OwnerKeyID]; ok {
		return v.T("settings.owner.key", p)
	}
	return v.T("settings.owner.key", e.OwnerKeyID.String())
}

// creatorName says who created a key: a staff user by email, else the audit
// actor as recorded ("key:<prefix>", "cli:<os user>").
func creatorName(v *view, actor string, emails map[string]string) string {
	if e, ok := emails[actor]; ok {
		return e
	}
	if actor == "" {
		return v.T("settings.unknown")
	}
	return actor
}

// staffEmails are the emails of the staff users who created keys, by their
// audit actor ("user:<id>").
func (h *Handler) staffEmails(ctx context.Context, keys []auth.Key) (map[string]string, error) {
	var ids []uuid.UUID
	for _, k := range keys {
		if s, ok := strings.CutPrefix(k.CreatedBy, "user:"); ok {
			if id, err := uuid.Parse(s); err == nil {
				ids = append(ids, id)
			}
		}
	}
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := h.pool.Query(ctx, `SELECT id, email FROM staff_users WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("console: key creators: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var email string
		if err := rows.Scan(&id, &email); err != nil {
			return nil, fmt.Errorf("console: key creators: %w", err)
		}
		out["user:"+id.String()] = email
	}
	return out, rows.Err()
}

// Endpoints.

// fieldOf is the form field a webhooks.ValidationError names.
func fieldOf(domainField string) string {
	switch {
	case strings.HasPrefix(domainField, "events"):
		return "events"
	case domainField == "agency_code":
		return "agency"
	case domainField == "url", domainField == "description":
		return domainField
	}
	return "form"
}

func (h *Handler) createEndpoint(c *fiber.Ctx) error {
	cu := cur(c)
	ctx, p := h.acting(c)
	agency := agencyOf(cu.user, c.FormValue("agency"))
	form := endpointForm{URL: strings.TrimSpace(c.FormValue("url")), Description: strings.TrimSpace(c.FormValue("description"))}
	for _, b := range c.Request().PostArgs().PeekMulti("events") {
		form.Events = append(form.Events, string(b))
	}
	in := webhooks.EndpointInput{URL: form.URL, Events: form.Events, Description: form.Description, AgencyCode: agency}
	v := h.newView(c, "settings.title")
	errs := map[string]string{}
	switch {
	case agency == "":
		errs["agency"] = v.T("settings.err.agency_missing")
	case form.URL == "":
		errs["url"] = v.T("settings.err.url_missing")
	case len(form.Events) == 0:
		errs["events"] = v.T("settings.err.events_missing")
	}
	if len(errs) == 0 {
		ep, err := h.deps.Webhooks.CreateEndpoint(ctx, p, in)
		var ve *webhooks.ValidationError
		switch {
		case err == nil:
			return h.showEndpoint(c, ep.Endpoint, ep.Secret, "settings.secret.created", http.StatusCreated)
		case errors.As(err, &ve):
			f := fieldOf(ve.Field)
			errs[f] = v.T("settings.err."+f, ve.Reason)
		case errors.Is(err, webhooks.ErrTooManyEndpoints):
			errs["form"] = v.T("settings.err.too_many")
		default:
			return h.fail(c, err)
		}
	}
	d := &settingsData{Form: form, Errs: errs}
	if _, err := h.fillSettings(c, v, d, agency, uuid.Nil); err != nil {
		return h.fail(c, err)
	}
	v.Error = v.T("settings.err.summary")
	return h.render(c, http.StatusUnprocessableEntity, "settings", v)
}

type attemptView struct {
	DeliveryID, DeliveryState, EventID, EventType, At, Status, Latency, Outcome, Detail string
}

type webhookData struct {
	ID, URL, Agency, Owner, Events, Description, State, Created, Updated string
	Enabled                                                              bool
	// Secret is the signing secret, after a creation or a rotation only.
	Secret, SecretNote string
	Attempts           []attemptView
	Older, Newest      string
	Back               string
	Event              string // the resend form's value
	Errs               map[string]string
}

// endpoint reads the endpoint of the path as the signed-in user may see it;
// false (and a 404 page sent) if it may not.
func (h *Handler) endpoint(c *fiber.Ctx) (webhooks.Endpoint, bool, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return webhooks.Endpoint{}, false, h.errorPage(c, http.StatusNotFound, "e404.title", "settings.notfound")
	}
	ctx, p := h.acting(c)
	e, err := h.deps.Webhooks.Endpoint(ctx, p, id)
	if errors.Is(err, webhooks.ErrEndpointNotFound) {
		return e, false, h.errorPage(c, http.StatusNotFound, "e404.title", "settings.notfound")
	}
	if err != nil {
		return e, false, h.fail(c, err)
	}
	return e, true, nil
}

func (h *Handler) endpointPage(c *fiber.Ctx) error {
	e, ok, err := h.endpoint(c)
	if !ok {
		return err
	}
	v := h.newView(c, "settings.endpoint")
	if k, ok := settingsDone[c.Query("done")]; ok {
		v.Notice = v.T(k)
	}
	return h.renderEndpoint(c, v, e, &webhookData{}, http.StatusOK)
}

// showEndpoint renders e's page with its new secret, shown this once.
func (h *Handler) showEndpoint(c *fiber.Ctx, e webhooks.Endpoint, secret, note string, status int) error {
	v := h.newView(c, "settings.endpoint")
	v.Notice = v.T(note)
	return h.renderEndpoint(c, v, e, &webhookData{Secret: secret, SecretNote: v.T("settings.secret.once")}, status)
}

// renderEndpoint fills d with e and a page of its delivery log (before the
// query's attempt id) and renders it with status.
func (h *Handler) renderEndpoint(c *fiber.Ctx, v *view, e webhooks.Endpoint, d *webhookData, status int) error {
	cu := cur(c)
	ctx, p := h.acting(c)
	v.Nav = nav(cu.user, "settings")
	v.Data = d
	d.ID, d.URL, d.Agency, d.Events, d.Description = e.ID.String(), e.URL, e.AgencyCode, strings.Join(e.Events, ", "), e.Description
	d.State, d.Enabled, d.Created, d.Updated = endpointState(v, e), e.Enabled, formatTime(e.CreatedAt), formatTime(e.UpdatedAt)
	prefixes := map[uuid.UUID]string{}
	if e.AgencyCode != "" && e.OwnerKeyID != uuid.Nil {
		keys, err := h.deps.Keys.AgencyKeys(ctx, e.AgencyCode)
		if err != nil {
			return h.fail(c, err)
		}
		for _, k := range keys {
			prefixes[k.ID] = k.Prefix
		}
	}
	d.Owner = ownerName(v, e, prefixes)
	d.Back = basePath + "/settings"
	if cu.user.Role == RoleAdmin && e.AgencyCode != "" {
		d.Back += "?" + url.Values{"agency": {e.AgencyCode}}.Encode()
	}
	self := basePath + "/settings/webhooks/" + d.ID
	var before int64
	if s := c.Query("before"); s != "" && c.Method() == fiber.MethodGet {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return h.errorPage(c, http.StatusNotFound, "e404.title", "")
		}
		before, d.Newest = n, self
	}
	attempts, err := h.deps.Webhooks.Attempts(ctx, p, e.ID, before, settingsPageSize)
	if err != nil {
		return h.fail(c, err)
	}
	for _, a := range attempts {
		r := attemptView{DeliveryID: a.DeliveryID.String(), DeliveryState: a.DeliveryState, EventID: a.EventID, EventType: a.EventType,
			At: a.AttemptedAt.In(bizday.Zone).Format("2006-01-02 15:04:05"), Outcome: a.Outcome,
			Latency: strconv.FormatInt(a.LatencyMS, 10), Detail: a.Error}
		if a.StatusCode != nil {
			r.Status = strconv.Itoa(*a.StatusCode)
		}
		if r.Detail == "" {
			r.Detail = a.ResponseBody
		}
		d.Attempts = append(d.Attempts, r)
	}
	if len(attempts) == settingsPageSize {
		d.Older = self + "?before=" + strconv.FormatInt(attempts[len(attempts)-1].ID, 10)
	}
	return h.render(c, status, "webhook", v)
}

func (h *Handler) rotateEndpoint(c *fiber.Ctx) error {
	e, ok, err := h.endpoint(c)
	if !ok {
		return err
	}
	ctx, p := h.acting(c)
	out, err := h.deps.Webhooks.RotateSecret(ctx, p, e.ID)
	if errors.Is(err, webhooks.ErrEndpointNotFound) {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "settings.notfound")
	}
	if err != nil {
		return h.fail(c, err)
	}
	return h.showEndpoint(c, out.Endpoint, out.Secret, "settings.secret.rotated", http.StatusOK)
}

func (h *Handler) enableEndpoint(c *fiber.Ctx) error {
	e, ok, err := h.endpoint(c)
	if !ok {
		return err
	}
	ctx, p := h.acting(c)
	on := c.FormValue("enabled") == "true"
	_, err = h.deps.Webhooks.UpdateEndpoint(ctx, p, e.ID, webhooks.EndpointPatch{Enabled: &on})
	if errors.Is(err, webhooks.ErrEndpointNotFound) {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "settings.notfound")
	}
	if err != nil {
		return h.fail(c, err)
	}
	done := "disabled"
	if on {
		done = "enabled"
	}
	return c.Redirect(basePath+"/settings/webhooks/"+e.ID.String()+"?done="+done, http.StatusSeeOther)
}

func (h *Handler) deleteEndpoint(c *fiber.Ctx) error {
	e, ok, err := h.endpoint(c)
	if !ok {
		return err
	}
	if c.FormValue("confirm") != "yes" {
		v := h.newView(c, "settings.endpoint")
		v.Error = v.T("settings.err.summary")
		return h.renderEndpoint(c, v, e, &webhookData{Errs: map[string]string{"confirm": v.T("settings.err.confirm")}},
			http.StatusUnprocessableEntity)
	}
	ctx, p := h.acting(c)
	err = h.deps.Webhooks.DeleteEndpoint(ctx, p, e.ID)
	if errors.Is(err, webhooks.ErrEndpointNotFound) {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "settings.notfound")
	}
	if err != nil {
		return h.fail(c, err)
	}
	q := url.Values{"done": {"deleted"}}
	if cur(c).user.Role == RoleAdmin && e.AgencyCode != "" {
		q.Set("agency", e.AgencyCode)
	}
	return c.Redirect(basePath+"/settings?"+q.Encode(), http.StatusSeeOther)
}

func (h *Handler) retryDelivery(c *fiber.Ctx) error {
	e, ok, err := h.endpoint(c)
	if !ok {
		return err
	}
	id, err := uuid.Parse(c.Params("delivery"))
	if err != nil {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "")
	}
	ctx, p := h.acting(c)
	err = h.deps.Webhooks.RetryDelivery(ctx, p, id)
	if errors.Is(err, webhooks.ErrDeliveryNotFound) {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "")
	}
	if err != nil {
		return h.fail(c, err)
	}
	return c.Redirect(basePath+"/settings/webhooks/"+e.ID.String()+"?done=retried", http.StatusSeeOther)
}

func (h *Handler) resendEvent(c *fiber.Ctx) error {
	e, ok, err := h.endpoint(c)
	if !ok {
		return err
	}
	event := strings.TrimSpace(c.FormValue("event"))
	ctx, p := h.acting(c)
	ids, err := h.deps.Webhooks.ResendEvent(ctx, p, event, &e.ID)
	switch {
	case errors.Is(err, webhooks.ErrEventNotFound):
		v := h.newView(c, "settings.endpoint")
		v.Error = v.T("settings.err.summary")
		return h.renderEndpoint(c, v, e, &webhookData{Event: event, Errs: map[string]string{"event": v.T("settings.err.event")}},
			http.StatusUnprocessableEntity)
	case errors.Is(err, webhooks.ErrEndpointNotFound):
		return h.errorPage(c, http.StatusNotFound, "e404.title", "settings.notfound")
	case err != nil:
		return h.fail(c, err)
	}
	done := "resent"
	if len(ids) == 0 {
		done = "resent0"
	}
	return c.Redirect(basePath+"/settings/webhooks/"+e.ID.String()+"?done="+done, http.StatusSeeOther)
}

// Keys.

func (h *Handler) createKey(c *fiber.Ctx) error {
	cu := cur(c)
	if cu.user.Role != RoleAdmin {
		return h.errorPage(c, http.StatusForbidden, "e403.title", "settings.keys.admin_only")
	}
	ctx, _ := h.acting(c)
	agency := agencyOf(cu.user, c.FormValue("agency"))
	form := keyForm{Name: strings.TrimSpace(c.FormValue("name")), Expires: c.FormValue("expires")}
	v := h.newView(c, "settings.title")
	errs := map[string]string{}
	known := slices.ContainsFunc(keyExpiries, func(x struct{ Value, Key string }) bool { return x.Value == form.Expires })
	exp, _, expErr := auth.ExpiryFor(time.Now(), nil, form.Expires, h.cfg.KeyDefaultTTL)
	switch {
	case agency == "":
		errs["agency"] = v.T("settings.err.agency_missing")
	case len(form.Name) > 200:
		errs["name"] = v.T("settings.err.name")
	case !known || expErr != nil:
		errs["expires"] = v.T("settings.err.expires")
	}
	if len(errs) == 0 {
		k, secret, err := h.deps.Keys.CreateKey(ctx, auth.NewKey{Role: auth.RoleAgency, AgencyCode: agency, Name: form.Name, ExpiresAt: exp})
		switch {
		case err == nil:
			d := &settingsData{NewKey: secret, NewKeyPrefix: k.Prefix}
			if _, err := h.fillSettings(c, v, d, agency, uuid.Nil); err != nil {
				return h.fail(c, err)
			}
			v.Notice = v.T("settings.key.created", k.Prefix)
			return h.render(c, http.StatusCreated, "settings", v)
		case errors.Is(err, auth.ErrUnknownAgency):
			errs["agency"] = v.T("settings.err.agency", "unknown agency "+agency)
		default:
			return h.fail(c, err)
		}
	}
	d := &settingsData{KeyForm: form, Errs: errs}
	if _, err := h.fillSettings(c, v, d, agency, uuid.Nil); err != nil {
		return h.fail(c, err)
	}
	v.Error = v.T("settings.err.summary")
	return h.render(c, http.StatusUnprocessableEntity, "settings", v)
}

func (h *Handler) revokeKey(c *fiber.Ctx) error {
	cu := cur(c)
	if cu.user.Role != RoleAdmin {
		return h.errorPage(c, http.StatusForbidden, "e403.title", "settings.keys.admin_only")
	}
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "")
	}
	ctx, _ := h.acting(c)
	k, err := h.deps.Keys.Revoke(ctx, id.String())
	if errors.Is(err, auth.ErrKeyNotFound) {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "")
	}
	if err != nil {
		return h.fail(c, err)
	}
	q := url.Values{"done": {"revoked"}}
	if k.AgencyCode != "" {
		q.Set("agency", k.AgencyCode)
	}
	return c.Redirect(basePath+"/settings?"+q.Encode(), http.StatusSeeOther)
}
