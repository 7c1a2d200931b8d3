// Package console is the staff console at /console: server-rendered pages
// (html/template, Vietnamese and English, no JavaScript needed) for agency,
// treasury and admin staff, signed in with a password and a TOTP code.
//
// Staff accounts are people, apart from the API keys of internal/domain/auth:
// created by `civicpay users create`, which prints a one-time link to set a
// password and enrol TOTP. Sessions live in PostgreSQL (only a hash of the
// cookie's token), with an idle and an absolute timeout. Every form carries a
// synchronizer token derived from the session's own token (or, before
// sign-in, from a random cookie), and a POST without the right one is a 403.
// Sign-ins are throttled per client IP and per email in each process, and
// counted per account in the database, which locks the account after
// repeated failures whichever instance saw them. Every sign-in, failure,
// sign-out and session revocation is in the audit log.
package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/problem"
	"github.com/civicpay/civicpay/internal/foundation/ratelimit"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
)

const (
	basePath = "/console"
	// sessionCookie holds the session's token; preCookie, before sign-in,
	// the random value the forms' tokens are derived from.
	sessionCookie = "civicpay_console"
	preCookie     = "civicpay_console_pre"
	csrfField     = "csrf"
)

// Config configures the console.
type Config struct {
	// PublicURL decides whether cookies are Secure (an https URL).
	PublicURL string
	Policy    Policy
	// LoginPerIP and LoginPerAccount bound failed sign-in requests per
	// minute per client IP and per email (0: no limit).
	LoginPerIP, LoginPerAccount int
	Log                         *slog.Logger
	Clock                       clock.Clock
	// PageSize is the number of orders on a page of the payments list
	// (0: 50); ExportBatch the number an export reads per query (0: 500).
	PageSize, ExportBatch int
	// SetupLinkTTL is how long a set-password link made in the admin pages
	// works (0: 72 hours, as `civicpay users create`).
	SetupLinkTTL time.Duration
	// KeyDefaultTTL is the lifetime of an API key created in the settings
	// without a chosen expiry, as for POST /v1/keys (0: never expires).
	KeyDefaultTTL time.Duration
}

// Handler serves /console.
type Handler struct {
	store  *Store
	pool   *pgxpool.Pool
	cfg    Config
	log    *slog.Logger
	clock  clock.Clock
	secure bool
	jobs   jobsUI // River's UI (jobs.go)
	deps   Deps   // the domains the pages act through (deps.go)
}

// New builds the console on pool; keys seal the TOTP secrets.
func New(pool *pgxpool.Pool, keys *secretbox.Keyring, cfg Config) *Handler {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Policy.IdleTimeout <= 0 {
		cfg.Policy.IdleTimeout = DefaultPolicy.IdleTimeout
	}
	if cfg.Policy.AbsoluteTimeout <= 0 {
		cfg.Policy.AbsoluteTimeout = DefaultPolicy.AbsoluteTimeout
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 50
	}
	if cfg.ExportBatch <= 0 {
		cfg.ExportBatch = 500
	}
	if cfg.SetupLinkTTL <= 0 {
		cfg.SetupLinkTTL = 72 * time.Hour
	}
	clk := clock.Or(cfg.Clock)
	return &Handler{store: NewStore(pool, keys, clk, cfg.Policy), pool: pool, cfg: cfg, log: cfg.Log, clock: clk,
		secure: strings.HasPrefix(cfg.PublicURL, "https://")}
}

// Store is the console's store of staff users and sessions.
func (h *Handler) Store() *Store { return h.store }

// Routes mounts the console under /console.
func (h *Handler) Routes(r fiber.Router) {
	g := r.Group(basePath, h.headers, h.loadSession, h.checkCSRF)
	throttle := []fiber.Handler{h.throttled,
		ratelimit.New(ratelimit.Rule{Name: "failed sign-ins per client IP", Max: h.cfg.LoginPerIP, Key: ratelimit.ClientIP, OnlyFailures: true})}
	perAccount := ratelimit.New(ratelimit.Rule{Name: "failed sign-ins per account", Max: h.cfg.LoginPerAccount, OnlyFailures: true,
		Key: func(c *fiber.Ctx) string { return strings.ToLower(strings.TrimSpace(c.FormValue("email"))) }})

	g.Get("/login", h.loginPage)
	g.Post("/login", append(throttle, perAccount, h.login)...)
	g.Get("/login/code", h.codePage)
	g.Post("/login/code", append(throttle, h.code)...)
	g.Get("/setup/:token", h.setupPage)
	g.Post("/setup/:token", append(throttle, h.setup)...)
	g.Get("/enrol", h.enrolPage)
	g.Get("/enrol/qr.png", h.enrolQR)
	g.Post("/enrol", append(throttle, h.enrol)...)
	g.Post("/logout", h.logout)

	in := g.Group("", h.requireActive)
	in.Get("/", h.dashboard)
	in.Get("/sessions", h.sessions)
	in.Post("/sessions/:id/revoke", h.revoke)
	// Before the sections' placeholders, which they replace.
	h.jobsRoutes(in)
	h.auditRoutes(in)
	h.revenueRoutes(in)
	h.adminRoutes(in)
	h.settingsRoutes(in)
	h.reconDayRoutes(in)
	h.reconExceptionRoutes(in)
	in.Get("/payments", h.paymentsList)
	in.Get("/payments/export.csv", h.export("csv", "text/csv; charset=utf-8", h.writeCSV))
	in.Get("/payments/export.xlsx", h.export("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", h.writeXLSX))
	in.Get("/payments/:id", h.paymentPage)
	h.orderRoutes(in)
	// A "not built yet" page for each section that has no pages of its own.
	for _, s := range sections {
		if !s.built {
			in.Get("/"+s.key, h.section(s))
		}
	}
}

// section is an entry of the navigation and the roles that see it.
type section struct {
	key   string
	roles []Role
	built bool // has its own pages; otherwise a "not built yet" page
}

var everyone = []Role{RoleAgency, RoleTreasury, RoleAdmin}

// sections are the navigation's entries after the dashboard. The
// dashboard, the payments and the sessions page are built; the others say so.
var sections = []section{
	{"payments", everyone, true},                              // payments.go
	{"revenue", everyone, true},                               // revenue.go
	{"reconciliation", []Role{RoleTreasury, RoleAdmin}, true}, // the calendar and the days (recon_day.go), the exception queue (recon_exceptions.go)
	{"settings", settingsRoles, true},                         // settings.go
	{"admin", []Role{RoleAdmin}, true},                        // admin.go
	{"audit", auditRoles, true},                               // audit.go
	{"jobs", []Role{RoleAdmin}, true},                         // River's UI, jobs.go
}

func (s section) allows(r Role) bool {
	for _, x := range s.roles {
		if x == r {
			return true
		}
	}
	return false
}

// nav is the navigation u's role sees, current marking the page shown.
func nav(u User, current string) []navItem {
	out := []navItem{{Key: "dashboard", Href: basePath, Current: current == "dashboard"}}
	for _, s := range sections {
		if s.allows(u.Role) {
			out = append(out, navItem{Key: s.key, Href: basePath + "/" + s.key, Current: current == s.key})
		}
	}
	return out
}

func (h *Handler) headers(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer") // the set-up link's token never leaves in a Referer
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	return c.Next()
}

// The request's session, as loadSession found it.
type current struct {
	raw  string
	sess Session
	user User
}

const currentKey = "console.current"

func cur(c *fiber.Ctx) *current {
	v, _ := c.Locals(currentKey).(*current)
	return v
}

// loadSession resumes the session of the cookie, if live (extending its idle
// expiry), and forgets a cookie whose session is not.
func (h *Handler) loadSession(c *fiber.Ctx) error {
	raw := c.Cookies(sessionCookie)
	if raw == "" {
		return c.Next()
	}
	sess, u, err := h.store.Resume(c.UserContext(), raw)
	switch {
	case errors.Is(err, ErrNoSession):
		h.clearCookie(c, sessionCookie)
		c.Locals("console.ended", true)
	case err != nil:
		return h.fail(c, err)
	default:
		c.Locals(currentKey, &current{raw: strings.Clone(raw), sess: sess, user: u})
	}
	return c.Next()
}

// requireActive sends a request without a signed-in session to the sign-in page.
func (h *Handler) requireActive(c *fiber.Ctx) error {
	if cu := cur(c); cu == nil || !cu.sess.Active() {
		to := basePath + "/login"
		if c.Locals("console.ended") != nil {
			to += "?ended=1"
		}
		return c.Redirect(to, http.StatusSeeOther)
	}
	return c.Next()
}

// csrfSecret is what the request's form tokens derive from: the session's
// token, or before sign-in the pre-session cookie (made when missing).
func (h *Handler) csrfSecret(c *fiber.Ctx, create bool) string {
	if cu := cur(c); cu != nil {
		return cu.raw
	}
	if v := c.Cookies(preCookie); len(v) >= 32 {
		return v
	}
	if !create {
		return ""
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	c.Cookie(&fiber.Cookie{Name: preCookie, Value: v, Path: basePath, HTTPOnly: true, Secure: h.secure,
		SameSite: fiber.CookieSameSiteLaxMode})
	// Later reads in this request see it.
	c.Request().Header.SetCookie(preCookie, v)
	return v
}

func csrfToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("civicpay console form"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF refuses, with a 403, a POST whose form token is missing or not
// the one of the request's session (or pre-session cookie).
func (h *Handler) checkCSRF(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodPost {
		return c.Next()
	}
	if isJobsPath(c.Path()) {
		// River's UI posts JSON from its script: no form token, but only
		// from the console's own origin (jobs.go).
		if !h.sameOrigin(c) {
			return h.refuseCrossOrigin(c)
		}
		return c.Next()
	}
	secret := h.csrfSecret(c, false)
	got := c.FormValue(csrfField)
	if secret == "" || got == "" || !hmac.Equal([]byte(got), []byte(csrfToken(secret))) {
		// The route pattern, never the path: a set-up link's path holds its token.
		h.log.WarnContext(c.UserContext(), "console: form refused: missing or wrong CSRF token", "route", c.Route().Path, "ip", c.IP())
		return h.errorPage(c, http.StatusForbidden, "e403.title", "e403.body")
	}
	return c.Next()
}

// throttled renders a rate limit's 429 as a page (the limiter answers with a
// problem).
func (h *Handler) throttled(c *fiber.Ctx) error {
	err := c.Next()
	var p *problem.Problem
	if errors.As(err, &p) && p.Status == http.StatusTooManyRequests {
		secs := 60
		if ra := string(c.Response().Header.Peek(fiber.HeaderRetryAfter)); ra != "" {
			if n, e := time.ParseDuration(ra + "s"); e == nil {
				secs = int(n.Seconds())
			}
		}
		v := h.newView(c, "login.title")
		v.Error = v.T("login.throttled", secs)
		return h.render(c, http.StatusTooManyRequests, "error", v)
	}
	return err
}

func (h *Handler) newView(c *fiber.Ctx, title string) *view {
	v := &view{Lang: h.pickLang(c), Title: title, CSRF: csrfToken(h.csrfSecret(c, true))}
	if cu := cur(c); cu != nil && cu.sess.Active() {
		u := cu.user
		v.User = &u
	}
	return v
}

func (h *Handler) errorPage(c *fiber.Ctx, status int, title, body string) error {
	v := h.newView(c, title)
	if v.User != nil {
		v.Nav = nav(*v.User, "")
	}
	if body != "" {
		v.Data = v.T(body)
	}
	return h.render(c, status, "error", v)
}

func (h *Handler) fail(c *fiber.Ctx, err error) error {
	h.log.ErrorContext(c.UserContext(), "console: request failed", "path", c.Route().Path, "err", err,
		"request_id", c.Locals("request_id"))
	return h.errorPage(c, http.StatusInternalServerError, "e500.title", "e500.body")
}

func (h *Handler) client(c *fiber.Ctx) Client {
	rid, _ := c.Locals("request_id").(string)
	return Client{IP: c.IP(), UserAgent: string(c.Request().Header.UserAgent()), RequestID: rid,
		Route: c.Method() + " " + c.Route().Path}
}

func (h *Handler) setSession(c *fiber.Ctx, raw string) {
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: raw, Path: basePath, HTTPOnly: true, Secure: h.secure,
		SameSite: fiber.CookieSameSiteLaxMode})
}

func (h *Handler) clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: basePath, HTTPOnly: true, Secure: h.secure,
		SameSite: fiber.CookieSameSiteLaxMode, Expires: time.Unix(1, 0), MaxAge: -1})
}

func (h *Handler) loginPage(c *fiber.Ctx) error {
	if cu := cur(c); cu != nil && cu.sess.Active() {
		return c.Redirect(basePath, http.StatusSeeOther)
	}
	v := h.newView(c, "login.title")
	if c.Query("ended") != "" {
		v.Notice = v.T("login.expired")
	}
	return h.render(c, http.StatusOK, "login", v)
}

func (h *Handler) login(c *fiber.Ctx) error {
	email := strings.Clone(strings.TrimSpace(c.FormValue("email")))
	raw, err := h.store.Login(c.UserContext(), email, c.FormValue("password"), h.client(c))
	if err == nil {
		h.setSession(c, raw)
		return c.Redirect(basePath+"/login/code", http.StatusSeeOther)
	}
	v := h.newView(c, "login.title")
	v.Data = email
	switch {
	case errors.Is(err, ErrBadCredentials):
		v.Error = v.T("login.bad")
	case errors.Is(err, ErrLocked):
		v.Error = v.T("login.locked")
	case errors.Is(err, ErrSetupIncomplete):
		v.Error = v.T("login.incomplete")
	default:
		return h.fail(c, err)
	}
	// 401, a failure the per-IP and per-account limits count.
	return h.render(c, http.StatusUnauthorized, "login", v)
}

func (h *Handler) codePage(c *fiber.Ctx) error {
	cu := cur(c)
	if cu == nil || cu.sess.Stage != stageMFA {
		return c.Redirect(basePath+"/login", http.StatusSeeOther)
	}
	return h.render(c, http.StatusOK, "code", h.newView(c, "code.title"))
}

func (h *Handler) code(c *fiber.Ctx) error {
	cu := cur(c)
	if cu == nil || cu.sess.Stage != stageMFA {
		return c.Redirect(basePath+"/login?ended=1", http.StatusSeeOther)
	}
	err := h.store.SecondFactor(c.UserContext(), cu.sess, c.FormValue("code"), h.client(c))
	if err == nil {
		return c.Redirect(basePath, http.StatusSeeOther)
	}
	v := h.newView(c, "code.title")
	switch {
	case errors.Is(err, ErrBadCode):
		v.Error = v.T("code.bad")
	case errors.Is(err, ErrLocked):
		v.Error = v.T("login.locked")
	default:
		return h.fail(c, err)
	}
	return h.render(c, http.StatusUnauthorized, "code", v)
}

type setupData struct {
	Email string
	Min   int
}

func (h *Handler) setupPage(c *fiber.Ctx) error {
	u, err := h.store.LinkUser(c.UserContext(), c.Params("token"))
	if errors.Is(err, ErrTokenInvalid) {
		return h.errorPage(c, http.StatusNotFound, "setup.title", "setup.invalid")
	} else if err != nil {
		return h.fail(c, err)
	}
	v := h.newView(c, "setup.title")
	v.Data = setupData{Email: u.Email, Min: MinPasswordLen}
	return h.render(c, http.StatusOK, "setup", v)
}

func (h *Handler) setup(c *fiber.Ctx) error {
	token := strings.Clone(c.Params("token"))
	u, err := h.store.LinkUser(c.UserContext(), token)
	if errors.Is(err, ErrTokenInvalid) {
		return h.errorPage(c, http.StatusNotFound, "setup.title", "setup.invalid")
	} else if err != nil {
		return h.fail(c, err)
	}
	pw := c.FormValue("password")
	v := h.newView(c, "setup.title")
	v.Data = setupData{Email: u.Email, Min: MinPasswordLen}
	switch err := CheckPasswordPolicy(pw); {
	case errors.Is(err, ErrPasswordTooShort):
		v.Error = v.T("setup.short", MinPasswordLen)
	case err != nil:
		v.Error = v.T("setup.long")
	case pw != c.FormValue("confirm"):
		v.Error = v.T("setup.mismatch")
	}
	if v.Error != "" {
		return h.render(c, http.StatusBadRequest, "setup", v)
	}
	_, raw, err := h.store.SetPassword(c.UserContext(), token, pw, h.client(c))
	if errors.Is(err, ErrTokenInvalid) {
		return h.errorPage(c, http.StatusNotFound, "setup.title", "setup.invalid")
	} else if err != nil {
		return h.fail(c, err)
	}
	h.setSession(c, raw)
	return c.Redirect(basePath+"/enrol", http.StatusSeeOther)
}

type enrolData struct{ Email, Secret, URI string }

func (h *Handler) enrolling(c *fiber.Ctx) (*current, enrolData, bool, error) {
	cu := cur(c)
	if cu == nil || cu.sess.Stage != stageEnrol {
		return nil, enrolData{}, false, nil
	}
	email, secret, err := h.store.EnrolSecret(c.UserContext(), cu.sess)
	if errors.Is(err, errEnrolNotPending) {
		return nil, enrolData{}, false, nil
	}
	return cu, enrolData{Email: email, Secret: secret, URI: TOTPURI(email, secret)}, err == nil, err
}

func (h *Handler) enrolPage(c *fiber.Ctx) error {
	_, d, ok, err := h.enrolling(c)
	if err != nil {
		return h.fail(c, err)
	}
	if !ok {
		return c.Redirect(basePath+"/login", http.StatusSeeOther)
	}
	v := h.newView(c, "enrol.title")
	v.Data = d
	return h.render(c, http.StatusOK, "enrol", v)
}

func (h *Handler) enrolQR(c *fiber.Ctx) error {
	_, d, ok, err := h.enrolling(c)
	if err != nil {
		return h.fail(c, err)
	}
	if !ok {
		return c.SendStatus(http.StatusNotFound)
	}
	png, err := qrcode.Encode(d.URI, qrcode.Medium, 256)
	if err != nil {
		return h.fail(c, err)
	}
	c.Set(fiber.HeaderContentType, "image/png")
	return c.Send(png)
}

func (h *Handler) enrol(c *fiber.Ctx) error {
	cu, d, ok, err := h.enrolling(c)
	if err != nil {
		return h.fail(c, err)
	}
	if !ok {
		return c.Redirect(basePath+"/login", http.StatusSeeOther)
	}
	codes, err := h.store.ConfirmEnrolment(c.UserContext(), cu.sess, c.FormValue("code"), h.client(c))
	if err == nil {
		// The session is signed in now: the page shows the codes once.
		cu.sess.Stage = stageActive
		v := h.newView(c, "recovery.title")
		v.Nav = nav(cu.user, "")
		v.Data = codes
		return h.render(c, http.StatusOK, "recovery", v)
	}
	v := h.newView(c, "enrol.title")
	v.Data = d
	switch {
	case errors.Is(err, ErrBadCode):
		v.Error = v.T("code.bad")
	default:
		return h.fail(c, err)
	}
	return h.render(c, http.StatusUnauthorized, "enrol", v)
}

func (h *Handler) logout(c *fiber.Ctx) error {
	if cu := cur(c); cu != nil {
		err := h.store.Revoke(c.UserContext(), cu.user, cu.sess.ID, "staff.logout", h.client(c))
		if err != nil && !errors.Is(err, ErrSessionNotFound) {
			return h.fail(c, err)
		}
	}
	h.clearCookie(c, sessionCookie)
	return c.Redirect(basePath+"/login", http.StatusSeeOther)
}

type sessionRow struct {
	ID                    string
	Created, Seen, IP, UA string
	Current               bool
}

func (h *Handler) sessions(c *fiber.Ctx) error {
	cu := cur(c)
	list, err := h.store.Sessions(c.UserContext(), cu.user.ID)
	if err != nil {
		return h.fail(c, err)
	}
	v := h.newView(c, "sessions.title")
	v.Nav = nav(cu.user, "")
	if c.Query("revoked") != "" {
		v.Notice = v.T("sessions.revoked")
	}
	rows := make([]sessionRow, 0, len(list))
	for _, s := range list {
		rows = append(rows, sessionRow{ID: s.ID.String(), Created: formatTime(s.CreatedAt), Seen: formatTime(s.LastSeenAt),
			IP: s.IP, UA: s.UserAgent, Current: s.ID == cu.sess.ID})
	}
	v.Data = rows
	return h.render(c, http.StatusOK, "sessions", v)
}

func formatTime(t time.Time) string { return t.In(bizday.Zone).Format("2006-01-02 15:04") }

func (h *Handler) revoke(c *fiber.Ctx) error {
	cu := cur(c)
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "")
	}
	action := "staff.session.revoke"
	if id == cu.sess.ID {
		action = "staff.logout"
	}
	switch err := h.store.Revoke(c.UserContext(), cu.user, id, action, h.client(c)); {
	case errors.Is(err, ErrSessionNotFound):
		return h.errorPage(c, http.StatusNotFound, "e404.title", "")
	case err != nil:
		return h.fail(c, err)
	}
	if id == cu.sess.ID {
		h.clearCookie(c, sessionCookie)
		return c.Redirect(basePath+"/login", http.StatusSeeOther)
	}
	return c.Redirect(basePath+"/sessions?revoked=1", http.StatusSeeOther)
}

func (h *Handler) section(s section) fiber.Handler {
	return func(c *fiber.Ctx) error {
		cu := cur(c)
		if !s.allows(cu.user.Role) {
			return h.errorPage(c, http.StatusForbidden, "e403.title", "e403.role")
		}
		v := h.newView(c, "nav."+s.key)
		v.Nav = nav(cu.user, s.key)
		return h.render(c, http.StatusOK, "section", v)
	}
}
