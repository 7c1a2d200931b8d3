package console

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/civicpay/civicpay/internal/domain/audit"
)

// JobsPrefix is where River's job UI is mounted: it must be the prefix the
// UI's handler is built with (riverui.HandlerOpts.Prefix).
const JobsPrefix = basePath + "/jobs"

// jobsUI holds River's UI once the composition root has built it (after the
// River client, which comes after the console's routes).
type jobsUI struct{ h atomic.Pointer[fiber.Handler] }

// SetJobs mounts ui (River's UI, an http.Handler serving under JobsPrefix)
// at /console/jobs. Until it is called the page is a 404.
func (h *Handler) SetJobs(ui http.Handler) {
	f := adaptor.HTTPHandler(ui)
	h.jobs.h.Store(&f)
}

// isJobsPath says whether path is served by River's UI.
func isJobsPath(path string) bool {
	return path == JobsPrefix || strings.HasPrefix(path, JobsPrefix+"/")
}

// jobsRoutes mounts River's UI on the signed-in group: admins only.
//
// The UI's own API changes jobs and queues with JSON POST, PUT and PATCH
// requests from its script, which cannot carry the console's form token.
// Those are instead accepted only from the console's own origin
// (sameOrigin), on top of the session cookie being SameSite=Lax (a
// cross-site request carries no session), and each one is recorded in the
// audit log (who, method, path) before it reaches the UI; a request that
// cannot be recorded is not served.
func (h *Handler) jobsRoutes(in fiber.Router) {
	in.All("/jobs", h.serveJobs)
	in.All("/jobs/*", h.serveJobs)
}

func (h *Handler) serveJobs(c *fiber.Ctx) error {
	cu := cur(c)
	if cu.user.Role != RoleAdmin {
		return h.errorPage(c, http.StatusForbidden, "e403.title", "e403.role")
	}
	ui := h.jobs.h.Load()
	if ui == nil {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "")
	}
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead:
	default:
		if !h.sameOrigin(c) {
			return h.refuseCrossOrigin(c)
		}
		ctx := audit.WithActor(c.UserContext(), actorFor(cu.user, h.client(c)))
		err := audit.Record(ctx, h.pool, audit.Event{Action: "staff.jobs.request", ResourceType: "river_ui",
			ResourceID: strings.Clone(c.Path()),
			After:      map[string]string{"method": c.Method(), "path": strings.Clone(c.Path())}})
		if err != nil {
			return h.fail(c, err)
		}
	}
	return (*ui)(c)
}

func (h *Handler) refuseCrossOrigin(c *fiber.Ctx) error {
	h.log.WarnContext(c.UserContext(), "console: cross-origin request refused", "method", c.Method(),
		"path", c.Path(), "origin", c.Get(fiber.HeaderOrigin), "sec_fetch_site", c.Get("Sec-Fetch-Site"), "ip", c.IP())
	return h.errorPage(c, http.StatusForbidden, "e403.title", "e403.body")
}

// sameOrigin says whether a state-changing request comes from the console's
// own pages: the browser's Sec-Fetch-Site, when sent, must say
// same-origin, and its Origin, when sent, must be the host the request was
// sent to or the configured public URL's origin. A request with neither
// header is refused too: every browser this console supports sends Origin
// on a POST, PUT or PATCH from a script.
func (h *Handler) sameOrigin(c *fiber.Ctx) bool {
	site := c.Get("Sec-Fetch-Site")
	origin := c.Get(fiber.HeaderOrigin)
	if site == "" && origin == "" {
		return false
	}
	if site != "" && site != "same-origin" {
		return false
	}
	if origin == "" {
		return true
	}
	if public, err := url.Parse(h.cfg.PublicURL); err == nil && public.Host != "" &&
		strings.EqualFold(origin, public.Scheme+"://"+public.Host) {
		return true
	}
	o, err := url.Parse(origin)
	if err != nil || o.Host == "" || (o.Scheme != "http" && o.Scheme != "https") {
		return false
	}
	return strings.EqualFold(o.Host, string(c.Request().Host()))
}
