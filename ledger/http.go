package ledger

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/csvsafe"
	"github.com/civicpay/civicpay/internal/foundation/problem"
)

// HTTPErrors maps this package's errors to HTTP.
var HTTPErrors = []problem.Mapping{
	{Err: ErrUnbalanced, Status: http.StatusUnprocessableEntity, Title: "Unbalanced entry"},
	{Err: ErrInvalidEntry, Status: http.StatusUnprocessableEntity, Title: "Invalid entry"},
	{Err: ErrIdempotencyConflict, Status: http.StatusUnprocessableEntity, Title: "Idempotency key reused"},
	{Err: ErrCurrencyMismatch, Status: http.StatusUnprocessableEntity, Title: "Currency mismatch"},
	{Err: ErrNotReversible, Status: http.StatusUnprocessableEntity, Title: "Not reversible"},
	{Err: ErrAlreadyReversed, Status: http.StatusConflict, Title: "Already reversed"},
	{Err: ErrEntryNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: ErrAccountNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: ErrAgencyNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: ErrRequestNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: ErrDayClosed, Status: http.StatusConflict, Title: "Business day closed"},
	{Err: ErrRequestDecided, Status: http.StatusConflict, Title: "Already decided"},
	{Err: ErrSelfApproval, Status: http.StatusForbidden, Title: "Four eyes"},
	{Err: ErrReopenSelfApproval, Status: http.StatusForbidden, Title: "Four eyes"},
	{Err: ErrDayNotClosed, Status: http.StatusConflict, Title: "Business day not closed"},
	{Err: ErrReopenPending, Status: http.StatusConflict, Title: "Reopen request waiting"},
	{Err: ErrReopenNotFound, Status: http.StatusNotFound, Title: "Not found"},
}

// csvTimeout bounds one streamed CSV export (it runs after the handler returns).
const csvTimeout = 5 * time.Minute

// Handler serves the ledger API (treasury writes; treasury and admin read)
// and revenue (agency, treasury, admin).
type Handler struct {
	pool   *pgxpool.Pool
	log    *slog.Logger
	manual *Manual
	// reports is the pool revenue reads (a replica within its bound).
	reports func() *pgxpool.Pool
}

// NewHandler returns the ledger's HTTP handler, with the zero ManualRules
// (the strictest) until WithRules.
func NewHandler(pool *pgxpool.Pool, log *slog.Logger) *Handler {
	return &Handler{pool: pool, log: log, manual: NewManual(pool, ManualRules{}), reports: func() *pgxpool.Pool { return pool }}
}

// WithReports reads revenue from the pool reports gives at each request
// (db.Reads.ForReports: a replica within its staleness bound).
func (h *Handler) WithReports(reports func() *pgxpool.Pool) *Handler {
	h.reports = reports
	return h
}

// WithRules sets the rules of manual entries.
func (h *Handler) WithRules(r ManualRules) *Handler {
	h.manual = NewManual(h.pool, r).WithClock(h.manual.clock)
	return h
}

// WithClock sets the clock manual entries are checked and recorded by (nil:
// the wall clock).
func (h *Handler) WithClock(c clock.Clock) *Handler {
	h.manual.WithClock(c)
	return h
}

// Routes registers the routes on r, the authenticated /v1 group. Only
// treasury (or an admin key also given treasury) moves money; admin reads.
func (h *Handler) Routes(r fiber.Router) {
	treasury, readers := auth.Require(auth.RoleTreasury), auth.Require(auth.Readers...)
	r.Get("/ledger/accounts", readers, h.listAccounts)
	r.Get("/ledger/accounts/:code/balance", readers, h.accountBalance)
	r.Get("/ledger/balances", readers, h.balances)
	r.Get("/ledger/entries", readers, h.listEntries)
	r.Post("/ledger/entries", treasury, h.postEntry)
	r.Get("/ledger/entries/requests", readers, h.listRequests)
	r.Get("/ledger/entries/requests/:id", readers, h.getRequest)
	r.Post("/ledger/entries/requests/:id/approve", treasury, h.approve)
	r.Post("/ledger/entries/requests/:id/reject", treasury, h.reject)
	r.Get("/ledger/entries/:id", readers, h.getEntry)
	r.Post("/ledger/entries/:id/reversal", treasury, h.reverseEntry)
	r.Get("/revenue", auth.Require(auth.RoleAgency, auth.RoleTreasury, auth.RoleAdmin), h.revenue)
}

// GET /ledger/accounts?match=&cursor=&limit=
func (h *Handler) listAccounts(c *fiber.Ctx) error {
	limit, err := parseLimit(c.Query("limit"))
	if err != nil {
		return err
	}
	after, err := decodeAccountCursor(c.Query("cursor"))
	if err != nil {
		return err
	}
	accounts, err := ListAccounts(c.UserContext(), h.pool, c.Query("match"), after, limit+1)
	if err != nil {
		return fieldError(err, "query.")
	}
	page := struct {
		Accounts   []Account `json:"accounts"`
		NextCursor string    `json:"next_cursor,omitempty"`
	}{Accounts: accounts}
	if len(accounts) > limit {
		page.Accounts = accounts[:limit]
		page.NextCursor = encodeAccountCursor(accounts[limit-1].Code)
	}
	return c.JSON(page)
}

// GET /ledger/accounts/{code}/balance?as_of=
func (h *Handler) accountBalance(c *fiber.Ctx) error {
	code, err := url.PathUnescape(c.Params("code"))
	if _, kindErr := KindOf(code); err != nil || kindErr != nil {
		return ErrAccountNotFound
	}
	asOf, err := parseTime("query.as_of", c.Query("as_of"))
	if err != nil {
		return err
	}
	b, err := AccountBalance(c.UserContext(), h.pool, code, asOf)
	if err != nil {
		return err
	}
	return c.JSON(struct {
		Balance
		AsOf *time.Time `json:"as_of,omitempty"`
	}{b, optionalTime(asOf)})
}

// GET /ledger/balances?match=&as_of=
func (h *Handler) balances(c *fiber.Ctx) error {
	asOf, err := parseTime("query.as_of", c.Query("as_of"))
	if err != nil {
		return err
	}
	match := c.Query("match")
	bs, err := Balances(c.UserContext(), h.pool, match, asOf)
	if err != nil {
		return fieldError(err, "query.")
	}
	return c.JSON(struct {
		Match    string          `json:"match"`
		AsOf     *time.Time      `json:"as_of,omitempty"`
		Accounts []Balance       `json:"accounts"`
		Totals   []CurrencyTotal `json:"totals"`
	}{match, optionalTime(asOf), append([]Balance{}, bs...), Summarize(bs)})
}

// GET /ledger/entries?account=&from=&to=&cursor=&limit=
func (h *Handler) listEntries(c *fiber.Ctx) error {
	var f EntryFilter
	var err error
	if f.Limit, err = parseLimit(c.Query("limit")); err != nil {
		return err
	}
	if f.After, err = decodeEntryCursor(c.Query("cursor")); err != nil {
		return err
	}
	if f.From, err = parseTime("query.from", c.Query("from")); err != nil {
		return err
	}
	if f.To, err = parseTime("query.to", c.Query("to")); err != nil {
		return err
	}
	if f.Account = c.Query("account"); f.Account != "" {
		if _, err := KindOf(f.Account); err != nil {
			return problem.Invalid("query.account", "%v", err)
		}
	}
	more := f
	more.Limit++ // one extra row says whether there is a next page
	entries, err := ListEntries(c.UserContext(), h.pool, more)
	if err != nil {
		return err
	}
	page := struct {
		Entries    []Entry `json:"entries"`
		NextCursor string  `json:"next_cursor,omitempty"`
	}{Entries: entries}
	if len(entries) > f.Limit {
		last := entries[f.Limit-1]
		page.Entries = entries[:f.Limit]
		page.NextCursor = encodeEntryCursor(EntryCursor{EffectiveAt: last.EffectiveAt, ID: last.ID})
	}
	return c.JSON(page)
}

// GET /ledger/entries/{id}
func (h *Handler) getEntry(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return ErrEntryNotFound
	}
	e, err := GetEntry(c.UserContext(), h.pool, id)
	if err != nil {
		return err
	}
	return c.JSON(e)
}

// manualEntryRequest is a manual adjusting entry. The reason is recorded as
// the entry's description, with the API key that posted it.
type manualEntryRequest struct {
	Reason      string     `json:"reason"`
	Reference   string     `json:"reference"`
	EffectiveAt *time.Time `json:"effective_at"`
	Adjustment  bool       `json:"adjustment"`
	Postings    []Posting  `json:"postings"`
}

func requester(c *fiber.Ctx) Requester {
	p := auth.FromCtx(c)
	return Requester{KeyID: p.KeyID, Actor: p.Actor()}
}

// POST /ledger/entries (Idempotency-Key header required). 201 with the entry,
// or 202 with a request waiting for a second approver.
func (h *Handler) postEntry(c *fiber.Ctx) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var req manualEntryRequest
	if err := problem.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return problem.Invalid("reason", "a manual entry needs a reason")
	}
	if req.EffectiveAt == nil {
		return problem.Invalid("effective_at", "required (RFC 3339)")
	}
	out, err := h.manual.Post(c.UserContext(), requester(c), key, ManualEntry{Reason: req.Reason, Reference: req.Reference,
		EffectiveAt: *req.EffectiveAt, Adjustment: req.Adjustment, Postings: req.Postings})
	if err != nil {
		return fieldError(err, "")
	}
	return h.outcome(c, out)
}

// POST /ledger/entries/{id}/reversal (Idempotency-Key header required).
func (h *Handler) reverseEntry(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return ErrEntryNotFound
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var req struct {
		Reason      string     `json:"reason"`
		EffectiveAt *time.Time `json:"effective_at"`
	}
	if err := problem.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return problem.Invalid("reason", "a reversal needs a reason")
	}
	out, err := h.manual.Reverse(c.UserContext(), requester(c), key, ManualReversal{EntryID: id, Reason: req.Reason, EffectiveAt: req.EffectiveAt})
	if err != nil {
		return fieldError(err, "")
	}
	return h.outcome(c, out)
}

func (h *Handler) outcome(c *fiber.Ctx, out ManualOutcome) error {
	if out.Request != nil {
		c.Location("/v1/ledger/entries/requests/" + strconv.FormatInt(out.Request.ID, 10))
		if out.Created {
			c.Status(http.StatusAccepted)
		}
		return c.JSON(out.Request)
	}
	return h.created(c, *out.Entry, out.Created)
}

// GET /ledger/entries/requests?status=&limit=
func (h *Handler) listRequests(c *fiber.Ctx) error {
	limit, err := parseLimit(c.Query("limit"))
	if err != nil {
		return err
	}
	status := c.Query("status")
	switch status {
	case "", RequestPending, RequestPosted, RequestRejected:
	default:
		return problem.Invalid("query.status", "pending, posted or rejected")
	}
	reqs, err := h.manual.ListRequests(c.UserContext(), status, limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"data": append([]EntryRequest{}, reqs...)})
}

func requestID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return 0, ErrRequestNotFound
	}
	return id, nil
}

// GET /ledger/entries/requests/{id}
func (h *Handler) getRequest(c *fiber.Ctx) error {
	id, err := requestID(c)
	if err != nil {
		return err
	}
	req, err := h.manual.GetRequest(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(req)
}

type decision struct {
	Note string `json:"note"`
}

// POST /ledger/entries/requests/{id}/approve: a second treasury key posts it.
func (h *Handler) approve(c *fiber.Ctx) error {
	id, err := requestID(c)
	if err != nil {
		return err
	}
	var d decision
	if len(c.Body()) > 0 {
		if err := problem.DecodeJSON(c.Body(), &d); err != nil {
			return err
		}
	}
	req, entry, err := h.manual.Approve(c.UserContext(), requester(c), id, d.Note)
	if err != nil {
		return fieldError(err, "")
	}
	c.Location("/v1/ledger/entries/" + strconv.FormatInt(entry.ID, 10))
	return c.Status(http.StatusCreated).JSON(fiber.Map{"request": req, "entry": entry})
}

// POST /ledger/entries/requests/{id}/reject
func (h *Handler) reject(c *fiber.Ctx) error {
	id, err := requestID(c)
	if err != nil {
		return err
	}
	var d decision
	if len(c.Body()) > 0 {
		if err := problem.DecodeJSON(c.Body(), &d); err != nil {
			return err
		}
	}
	req, err := h.manual.Reject(c.UserContext(), requester(c), id, d.Note)
	if err != nil {
		return err
	}
	return c.JSON(req)
}

// created answers 201 with the new entry, or 200 with the original on replay.
func (h *Handler) created(c *fiber.Ctx, e Entry, created bool) error {
	c.Location("/v1/ledger/entries/" + strconv.FormatInt(e.ID, 10))
	if created {
		c.Status(http.StatusCreated)
	}
	return c.JSON(e)
}

// idempotencyKey scopes the client's Idempotency-Key to its API key, so
// clients cannot collide with each other or with the posting rules' keys.
func idempotencyKey(c *fiber.Ctx) (string, error) {
	k := c.Get("Idempotency-Key")
	if k == "" || len(k) > 200 || !isPrintableASCII(k) {
		return "", problem.Invalid("header.Idempotency-Key", "required: 1 to 200 printable ASCII characters")
	}
	return "manual:" + auth.FromCtx(c).KeyID.String() + ":" + k, nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// fieldError turns a ValidationError into a 422 naming the request field
// (prefix "query." for query parameters); the entry's description is the
// request's reason.
func fieldError(err error, prefix string) error {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	field := ve.Field
	if field == "description" {
		field = "reason"
	}
	return &problem.Problem{Type: "https://civicpay.dev/problems/invalid-field", Title: "Invalid field",
		Status: http.StatusUnprocessableEntity, Detail: ve.Error(),
		Errors: []problem.FieldError{{Field: prefix + field, Detail: ve.Detail}}}
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// GET /revenue?from=&to=&group_by=day,service,channel,agency&agency=&limit=&cursor=
//
// An agency key sees only its own agency: naming another in agency= is a 404,
// as for any object of another agency. JSON by default, a page of groups
// (limit, cursor) with the totals of all; `Accept: text/csv` streams every
// row, then one total row per currency, as CSV.
func (h *Handler) revenue(c *fiber.Ctx) error {
	q, err := revenueQuery(c)
	if err != nil {
		return err
	}
	switch c.Accepts(fiber.MIMEApplicationJSON, "text/csv") {
	case fiber.MIMEApplicationJSON:
		return h.revenueJSON(c, q)
	case "text/csv":
		h.revenueCSV(c, q)
		return nil
	}
	return fiber.ErrNotAcceptable
}

func revenueQuery(c *fiber.Ctx) (RevenueQuery, error) {
	var q RevenueQuery
	var err error
	if q.From, err = parseTime("query.from", c.Query("from")); err != nil {
		return q, err
	}
	if q.To, err = parseTime("query.to", c.Query("to")); err != nil {
		return q, err
	}
	switch {
	case q.From.IsZero():
		return q, problem.Invalid("query.from", "required")
	case q.To.IsZero():
		return q, problem.Invalid("query.to", "required")
	case !q.From.Before(q.To):
		return q, problem.Invalid("query.to", "must be after from")
	}
	if g := c.Query("group_by"); g != "" {
		for _, s := range strings.Split(g, ",") {
			d, ok := ParseDimension(s)
			if !ok || containsDim(q.GroupBy, d) {
				return q, problem.Invalid("query.group_by", "a comma-separated list of distinct day, service, channel, agency; got %q", s)
			}
			q.GroupBy = append(q.GroupBy, d)
		}
	}
	q.Agency = strings.Clone(c.Query("agency"))
	if q.Agency != "" && !segmentRE.MatchString(q.Agency) {
		return q, problem.Invalid("query.agency", "not an agency code")
	}
	if p := auth.FromCtx(c); p.Role == auth.RoleAgency {
		if q.Agency != "" && q.Agency != p.AgencyCode {
			return q, ErrAgencyNotFound
		}
		q.Agency = p.AgencyCode
	}
	return q, nil
}

func containsDim(ds []Dimension, d Dimension) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// revenueJSON answers a page of at most limit groups (a year by day ×
// service is 146,000 groups for the treasury), the totals of every group,
// and next_cursor when groups follow.
func (h *Handler) revenueJSON(c *fiber.Ctx, q RevenueQuery) error {
	limit, err := parseRevenueLimit(c.Query("limit"))
	if err != nil {
		return err
	}
	if q.After, err = decodeRevenueCursor(c.Query("cursor"), q.GroupBy); err != nil {
		return err
	}
	page, err := ReadRevenuePage(c.UserContext(), h.reports(), q, limit)
	if err != nil {
		return err
	}
	out := struct {
		From       time.Time    `json:"from"`
		To         time.Time    `json:"to"`
		GroupBy    []Dimension  `json:"group_by"`
		Agency     string       `json:"agency,omitempty"`
		Rows       []RevenueRow `json:"rows"`
		Totals     []RevenueRow `json:"totals"`
		NextCursor string       `json:"next_cursor,omitempty"`
	}{q.From, q.To, append([]Dimension{}, q.GroupBy...), q.Agency, page.Rows, page.Totals, ""}
	if out.Rows == nil {
		out.Rows = []RevenueRow{}
	}
	if out.Totals == nil {
		out.Totals = []RevenueRow{}
	}
	if page.More {
		out.NextCursor = encodeRevenueCursor(page.Rows[len(page.Rows)-1])
	}
	return c.JSON(out)
}

// revenueCSV streams rows as the database returns them. The writer runs after
// the handler has returned, so it uses only q and h, never c. A failure
// mid-stream cannot change the status any more: the body then ends without its
// total rows, which is how a reader tells a truncated export.
func (h *Handler) revenueCSV(c *fiber.Ctx, q RevenueQuery) {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="revenue.csv"`)
	base := context.WithoutCancel(c.UserContext())
	pool := h.reports() // chosen now: the stream is written after the handler returns
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(base, csvTimeout)
		defer cancel()
		out := csvsafe.NewWriter(w)
		var totals RevenueTotals
		write := func(kind string, r RevenueRow) error {
			out.Write([]string{kind, r.Day, r.Agency, r.Service, r.Channel, r.Currency,
				r.Gross.String(), r.Refunds.String(), r.Adjustments.String(), r.Net.String(), strconv.FormatInt(r.Postings, 10)})
			return out.Error()
		}
		out.Write([]string{"row", "day", "agency", "service", "channel", "currency", "gross", "refunds", "adjustments", "net", "postings"})
		n := 0
		err := Revenue(ctx, pool, q, func(r RevenueRow) error {
			totals.Add(r)
			if n++; n%500 == 0 { // push a chunk to the client
				out.Flush()
				if err := w.Flush(); err != nil {
					return err
				}
			}
			return write("group", r)
		})
		for _, t := range totals.Rows() {
			if err == nil {
				err = write("total", t)
			}
		}
		out.Flush()
		if err == nil {
			err = out.Error()
		}
		if err != nil {
			h.log.ErrorContext(ctx, "revenue csv export failed", "err", err)
		}
	})
}
