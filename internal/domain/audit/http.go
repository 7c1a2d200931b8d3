package audit

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/foundation/csvsafe"
	"github.com/civicpay/civicpay/internal/foundation/problem"
)

// Page sizes of GET /v1/audit.
const (
	DefaultLimit = 100
	MaxLimit     = 500
)

// Handler serves GET /v1/audit to the roles its guard lets through.
type Handler struct {
	pool  *pgxpool.Pool
	guard fiber.Handler
}

// NewHandler returns the audit log's read API; guard decides who may read it
// (the composition root passes the role check: this package knows no roles).
func NewHandler(pool *pgxpool.Pool, guard fiber.Handler) *Handler {
	return &Handler{pool: pool, guard: guard}
}

// Routes mounts GET /audit on the authenticated /v1 group.
func (h *Handler) Routes(r fiber.Router) {
	r.Get("/audit", h.guard, h.list)
}

// GET /audit?actor=&action=&resource_type=&resource_id=&from=&to=&cursor=&limit=
// JSON by default, CSV with `Accept: text/csv` (same page, same cursor in the
// X-Next-Cursor header).
func (h *Handler) list(c *fiber.Ctx) error {
	f, err := filterOf(c)
	if err != nil {
		return err
	}
	want := f
	want.Limit++ // one more row says whether there is a next page
	entries, err := List(c.UserContext(), h.pool, want)
	if err != nil {
		return err
	}
	next := ""
	if len(entries) > f.Limit {
		entries = entries[:f.Limit]
		next = cursor(entries[f.Limit-1].ID)
	}
	if entries == nil {
		entries = []Entry{}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	switch c.Accepts(fiber.MIMEApplicationJSON, "text/csv") {
	case fiber.MIMEApplicationJSON:
		return c.JSON(struct {
			Data       []Entry `json:"data"`
			NextCursor string  `json:"next_cursor,omitempty"`
		}{entries, next})
	case "text/csv":
		if next != "" {
			c.Set("X-Next-Cursor", next)
		}
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="audit.csv"`)
		return writeCSV(c.Response().BodyWriter(), entries)
	}
	return fiber.ErrNotAcceptable
}

// filterOf reads and checks the query; a bad parameter is a 422 naming it.
func filterOf(c *fiber.Ctx) (Filter, error) {
	f := Filter{Limit: DefaultLimit, Actor: strings.Clone(c.Query("actor")), Action: strings.Clone(c.Query("action")),
		ResourceType: strings.Clone(c.Query("resource_type")), ResourceID: strings.Clone(c.Query("resource_id"))}
	for name, v := range map[string]string{"actor": f.Actor, "action": f.Action, "resource_type": f.ResourceType, "resource_id": f.ResourceID} {
		if len(v) > 200 {
			return f, problem.Invalid("query."+name, "at most 200 characters")
		}
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return f, problem.Invalid("query.limit", "an integer from 1 to %d", MaxLimit)
		}
		f.Limit = n
	}
	if s := c.Query("cursor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return f, problem.Invalid("query.cursor", "not a cursor returned by this API")
		}
		f.Before = n
	}
	var err error
	if f.From, err = queryTime(c, "from"); err != nil {
		return f, err
	}
	if f.To, err = queryTime(c, "to"); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, problem.Invalid("query.to", "must be after from")
	}
	return f, nil
}

func queryTime(c *fiber.Ctx, name string) (time.Time, error) {
	s := c.Query(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, problem.Invalid("query."+name, "an RFC 3339 time such as 2026-01-31T00:00:00Z")
	}
	return t, nil
}

var csvHeader = []string{"id", "at", "actor", "actor_role", "action", "resource_type", "resource_id",
	"source_ip", "request_id", "route", "before", "after"}

// CSVHeader is the header row of the log's CSV (GET /v1/audit's and the
// console's download share it).
func CSVHeader() []string { return append([]string(nil), csvHeader...) }

// CSVRow is e as a CSV row under CSVHeader; write it with a csvsafe.Writer.
func CSVRow(e Entry) []string {
	return []string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.ActorRole, e.Action,
		e.ResourceType, e.ResourceID, e.SourceIP, e.RequestID, e.Route, string(e.Before), string(e.After)}
}

func writeCSV(w interface{ Write([]byte) (int, error) }, entries []Entry) error {
	out := csvsafe.NewWriter(w) // cells a spreadsheet would run as formulas get a leading '

	if err := out.Write(csvHeader); err != nil {
		return err
	}
	for _, e := range entries {
		if err := out.Write(CSVRow(e)); err != nil {
			return err
		}
	}
	out.Flush()
	return out.Error()
}
