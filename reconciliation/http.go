package reconciliation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/problem"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/rawfile"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// HTTPErrors maps this package's errors to HTTP.
var HTTPErrors = []problem.Mapping{
	{Err: ErrFileNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: ErrRunNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: ErrExceptionNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: rawfile.ErrNotFound, Status: http.StatusNotFound, Title: "Not found"},
	{Err: ErrAlreadyResolved, Status: http.StatusConflict, Title: "Already resolved"},
	{Err: ErrNotAwaiting, Status: http.StatusConflict, Title: "Not awaiting approval"},
	{Err: ErrSameApprover, Status: http.StatusForbidden, Title: "Four eyes"},
	{Err: ErrInvalid, Status: http.StatusUnprocessableEntity, Title: "Invalid request"},
	{Err: statement.ErrUnknownFormat, Status: http.StatusUnprocessableEntity, Title: "Unknown statement format"},
	{Err: rawfile.ErrEmpty, Status: http.StatusUnprocessableEntity, Title: "Empty statement"},
	{Err: rawfile.ErrTooLarge, Status: http.StatusRequestEntityTooLarge, Title: "Statement too large"},
	{Err: ErrNotConfigured, Status: http.StatusServiceUnavailable, Title: "Not configured"},
	{Err: ErrNotReconciled, Status: http.StatusConflict, Title: "Not reconciled"},
	{Err: ErrAlreadyCarried, Status: http.StatusConflict, Title: "Already carried forward"},
	{Err: ErrPruned, Status: http.StatusGone, Title: "Pruned by retention"},
	{Err: ErrNotHeld, Status: http.StatusConflict, Title: "Not held for a preview"},
}

// Handler serves statements and reconciliation to treasury (and admin) keys.
type Handler struct{ svc *Service }

// NewHandler returns the HTTP handler of svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Routes mounts the routes on the authenticated /v1 group.
func (h *Handler) Routes(r fiber.Router) {
	// Treasury moves money (statements pay orders, runs heal and post,
	// resolutions close exceptions); admin reads.
	treasury, readers := auth.Require(auth.RoleTreasury), auth.Require(auth.Readers...)
	r.Post("/statements", treasury, h.upload)
	r.Get("/statements", readers, h.listFiles)
	r.Get("/statements/:id", readers, h.getFile)
	r.Get("/statements/:id/raw", readers, h.rawFile)
	r.Get("/statements/:id/entries", readers, h.fileEntries)
	r.Post("/statements/:id/commit", treasury, h.commit)
	r.Get("/reconciliation/positions", readers, h.positions)
	r.Get("/reconciliation/runs", readers, h.listRuns)
	r.Post("/reconciliation/runs", treasury, h.requestDay)
	r.Get("/reconciliation/runs/:id", readers, h.getRun)
	r.Get("/reconciliation/runs/:id/exceptions", readers, h.runExceptions)
	r.Get("/reconciliation/runs/:id/export", readers, h.exportRun)
	r.Get("/reconciliation/exceptions/:id", readers, h.getException)
	r.Post("/reconciliation/exceptions/:id/resolve", treasury, h.resolve)
	r.Post("/reconciliation/exceptions/:id/approve", treasury, h.approve)
	r.Post("/reconciliation/exceptions/:id/carry-forward", treasury, h.carryForward)
	r.Get("/days/:date", readers, h.getDay)
	r.Post("/days/:date/close", treasury, h.closeDay)
	r.Get("/days/:date/report", readers, h.dayReport)
	r.Post("/days/:date/reopen", treasury, h.requestReopen)
	r.Post("/days/:date/reopen/approve", treasury, h.decideReopen(true))
	r.Post("/days/:date/reopen/reject", treasury, h.decideReopen(false))
}

func pathDay(c *fiber.Ctx) (time.Time, error) {
	day, err := ParseDay(c.Params("date"))
	if err != nil {
		return time.Time{}, problem.Invalid("path.date", "a business day, YYYY-MM-DD, from 2000 to 8999")
	}
	return day, nil
}

// GET /days/{date}: whether the day is over, reconciled, closed.
func (h *Handler) getDay(c *fiber.Ctx) error {
	day, err := pathDay(c)
	if err != nil {
		return err
	}
	st, err := h.svc.Day(c.UserContext(), day)
	if err != nil {
		return err
	}
	return c.JSON(st)
}

// POST /days/{date}/close {"note": "..."}: no ledger entry takes effect in
// the day from then on.
func (h *Handler) closeDay(c *fiber.Ctx) error {
	day, err := pathDay(c)
	if err != nil {
		return err
	}
	var req struct {
		Note string `json:"note"`
	}
	if len(c.Body()) > 0 {
		if err := problem.DecodeJSON(c.Body(), &req); err != nil {
			return err
		}
	}
	if len(req.Note) > 1000 {
		return problem.Invalid("note", "at most 1000 characters")
	}
	st, err := h.svc.CloseDay(c.UserContext(), day, auth.FromCtx(c).Actor(), req.Note)
	if err != nil {
		return err
	}
	return c.JSON(st)
}

// GET /days/{date}/report?format=pdf|xlsx&lang=vi|en: a closed day's report
// (404 before the day is closed).
func (h *Handler) dayReport(c *fiber.Ctx) error {
	day, err := pathDay(c)
	if err != nil {
		return err
	}
	format := c.Query("format", "pdf")
	if format != "pdf" && format != "xlsx" {
		return problem.Invalid("query.format", "pdf or xlsx")
	}
	lang := c.Query("lang", ReportVI)
	if lang != ReportVI && lang != ReportEN {
		return problem.Invalid("query.lang", "vi or en")
	}
	r, err := h.svc.DayReport(c.UserContext(), day)
	if errors.Is(err, ledger.ErrDayNotClosed) {
		return problem.New(http.StatusNotFound, "Not found", err.Error())
	}
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	ct := "application/pdf"
	if format == "pdf" {
		err = WriteDayReportPDF(&buf, r, lang)
	} else {
		ct = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
		err = WriteDayReportXLSX(&buf, r, lang)
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="civicpay-day-%s.%s"`, r.Date, format))
	return c.Send(buf.Bytes())
}

// noteBody reads an optional body {"note": "..."}, or {"reason": "..."}
// when field is "reason".
func noteBody(c *fiber.Ctx, field string) (string, error) {
	if len(c.Body()) == 0 {
		return "", nil
	}
	if field == "reason" {
		var req struct {
			Reason string `json:"reason"`
		}
		err := problem.DecodeJSON(c.Body(), &req)
		return req.Reason, err
	}
	var req struct {
		Note string `json:"note"`
	}
	err := problem.DecodeJSON(c.Body(), &req)
	return req.Note, err
}

// POST /days/{date}/reopen {"reason": "..."}: asks for the closed day to be
// reopened; another treasury key or person approves it.
func (h *Handler) requestReopen(c *fiber.Ctx) error {
	day, err := pathDay(c)
	if err != nil {
		return err
	}
	reason, err := noteBody(c, "reason")
	if err != nil {
		return err
	}
	r, err := h.svc.RequestReopen(c.UserContext(), day, auth.FromCtx(c).Actor(), reason)
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(r)
}

// POST /days/{date}/reopen/approve|reject {"note": "..."}: decides the day's
// waiting reopen request (approve: never by whoever asked).
func (h *Handler) decideReopen(approve bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		day, err := pathDay(c)
		if err != nil {
			return err
		}
		note, err := noteBody(c, "note")
		if err != nil {
			return err
		}
		pending, err := h.svc.PendingReopen(c.UserContext(), day)
		if err != nil {
			return err
		}
		if pending == nil {
			return fmt.Errorf("%w: no reopen request of %s is waiting", ledger.ErrReopenNotFound, dayString(day))
		}
		r, err := h.svc.DecideReopen(c.UserContext(), pending.ID, auth.FromCtx(c).Actor(), approve, note)
		if err != nil {
			return err
		}
		return c.JSON(r)
	}
}

// POST /reconciliation/exceptions/{id}/carry-forward {"note": "..."}: the
// exception stays open but no longer holds its day open.
func (h *Handler) carryForward(c *fiber.Ctx) error {
	id, err := pathID(c, ErrExceptionNotFound)
	if err != nil {
		return err
	}
	note, err := noteBody(c, "note")
	if err != nil {
		return err
	}
	if strings.TrimSpace(note) == "" {
		return problem.Invalid("note", "required: why it is left for later")
	}
	e, err := h.svc.CarryForward(c.UserContext(), id, note, auth.FromCtx(c).Actor())
	if err != nil {
		return err
	}
	return c.JSON(struct {
		Exception      Exception `json:"exception"`
		CarriedForward *Carry    `json:"carried_forward"`
	}{e.Exception, e.Carry})
}

// POST /statements[?preview=true]: the body is the file (any content type
// but multipart), or a multipart form whose part "file" is. When the server
// streams request bodies the file is never held whole in memory. With
// preview=true the file is held: its preview is computed by a job and it is
// loaded only once committed (POST /statements/{id}/commit).
func (h *Handler) upload(c *fiber.Ctx) error {
	store := h.svc.Import
	switch c.Query("preview") {
	case "", "false":
	case "true":
		store = h.svc.ImportForPreview
	default:
		return problem.Invalid("query.preview", "true or false")
	}
	body, name, err := uploadBody(c)
	if err != nil {
		return err
	}
	f, err := store(c.UserContext(), body, rawfile.Meta{Name: name, Source: rawfile.SourceUpload,
		ReceivedBy: auth.FromCtx(c).Actor()})
	if err != nil {
		return err
	}
	c.Location("/v1/statements/" + strconv.FormatInt(f.ID, 10))
	if f.Duplicate {
		return c.Status(http.StatusOK).JSON(f)
	}
	return c.Status(http.StatusAccepted).JSON(f)
}

// uploadBody finds the file in the request.
func uploadBody(c *fiber.Ctx) (io.Reader, string, error) {
	var body io.Reader = bytes.NewReader(c.Body())
	if s := c.Context().RequestBodyStream(); s != nil {
		body = s
	}
	return uploadedFile(c.Get(fiber.HeaderContentType), strings.Clone(c.Get("X-Filename")), body)
}

// uploadedFile is the file in an upload's body: the body itself, or the
// part named "file" of a multipart form (with its file name).
func uploadedFile(contentType, name string, body io.Reader) (io.Reader, string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != fiber.MIMEMultipartForm {
		if err := checkName("header.X-Filename", name); err != nil {
			return nil, "", err
		}
		return body, name, nil
	}
	if params["boundary"] == "" {
		return nil, "", problem.BadRequest("header.Content-Type", "a multipart upload needs a boundary")
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, "", problem.BadRequest("body", `a multipart upload needs a part named "file"`)
		}
		if err != nil {
			return nil, "", problem.BadRequest("body", "multipart: %v", err)
		}
		if part.FormName() == "file" {
			if err := checkName("body.file.filename", part.FileName()); err != nil {
				return nil, "", err
			}
			return part, part.FileName(), nil
		}
	}
}

// checkName refuses a file name that is not text PostgreSQL can keep: a
// NUL is a 422, bytes that are not UTF-8 a 400 (the server's check of the
// path and query does not see headers or multipart parameters, where an
// RFC 2231 filename* such as a%00b decodes to a NUL).
func checkName(field, name string) error {
	if strings.ContainsRune(name, 0) {
		return problem.Invalid(field, "must not contain NUL")
	}
	if !utf8.ValidString(name) {
		return problem.BadRequest(field, "not valid UTF-8")
	}
	return nil
}

// pageLimit reads ?limit= (1..500, default 100).
func pageLimit(c *fiber.Ctx) (int, error) {
	s := c.Query("limit")
	if s == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 500 {
		return 0, problem.Invalid("query.limit", "an integer from 1 to 500")
	}
	return n, nil
}

// queryInt reads an optional non-negative integer query parameter.
func queryInt(c *fiber.Ctx, name string) (int64, error) {
	s := c.Query(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, problem.Invalid("query."+name, "a non-negative integer")
	}
	return n, nil
}

// pathID reads the :id parameter; a malformed one is a 404 of notFound.
func pathID(c *fiber.Ctx, notFound error) (int64, error) {
	n, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: %q", notFound, c.Params("id"))
	}
	return n, nil
}

// page is a list with the cursor of the next page.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func newPage[T any](items []T, limit int, cursor func(T) int64) page[T] {
	p := page[T]{Items: items}
	if p.Items == nil {
		p.Items = []T{}
	}
	if len(items) > limit {
		p.Items = items[:limit]
		p.NextCursor = strconv.FormatInt(cursor(items[limit-1]), 10)
	}
	return p
}

// GET /statements?cursor=&limit=
func (h *Handler) listFiles(c *fiber.Ctx) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	before, err := queryInt(c, "cursor")
	if err != nil {
		return err
	}
	files, err := h.svc.Files(c.UserContext(), before, limit+1)
	if err != nil {
		return err
	}
	return c.JSON(newPage(files, limit, func(f File) int64 { return f.ID }))
}

// GET /statements/{id}: the file and, for a loaded bank file, its
// statements with what the load found in them.
func (h *Handler) getFile(c *fiber.Ctx) error {
	return getByID(c, ErrFileNotFound, h.svc.FileDetail)
}

// getByID answers GET /…/{id} with the resource load finds.
func getByID[T any](c *fiber.Ctx, notFound error, load func(context.Context, int64) (T, error)) error {
	id, err := pathID(c, notFound)
	if err != nil {
		return err
	}
	v, err := load(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// GET /statements/{id}/raw: the file exactly as received.
func (h *Handler) rawFile(c *fiber.Ctx) error {
	id, err := pathID(c, ErrFileNotFound)
	if err != nil {
		return err
	}
	f, err := h.svc.File(c.UserContext(), id)
	if err != nil {
		return err
	}
	if f.PrunedAt != nil {
		return fmt.Errorf("statement file %d: its bytes were %w on %s", id, ErrPruned, f.PrunedAt.UTC().Format(time.DateOnly))
	}
	// The body is streamed after the handler returns: the reader must not
	// depend on the request's context.
	rd, err := rawfile.Open(context.WithoutCancel(c.UserContext()), h.svc.pool, id)
	if err != nil {
		return err
	}
	ct := "text/csv; charset=utf-8"
	if f.Kind.IsCAMT() {
		ct = "application/xml"
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set("X-Content-SHA256", f.SHA256)
	c.Context().SetBodyStream(rd, int(f.Size))
	return nil
}

// GET /reconciliation/runs?source=&date=&status=&cursor=&limit=
func (h *Handler) listRuns(c *fiber.Ctx) error {
	var f RunFilter
	var err error
	if f.Limit, err = pageLimit(c); err != nil {
		return err
	}
	if f.Before, err = queryInt(c, "cursor"); err != nil {
		return err
	}
	if f.Source = strings.Clone(c.Query("source")); f.Source != "" && !validSource(f.Source) {
		return problem.Invalid("query.source", "one of %s", strings.Join(Sources(), ", "))
	}
	if d := c.Query("date"); d != "" {
		if f.Date, err = ParseDay(d); err != nil {
			return problem.Invalid("query.date", "a business day, YYYY-MM-DD, from 2000 to 8999")
		}
	}
	if f.Status = strings.Clone(c.Query("status")); f.Status != "" &&
		!contains([]string{RunQueued, RunRunning, RunCompleted, RunFailed}, f.Status) {
		return problem.Invalid("query.status", "queued, running, completed or failed")
	}
	want := f
	want.Limit++
	runs, err := h.svc.Runs(c.UserContext(), want)
	if err != nil {
		return err
	}
	return c.JSON(newPage(runs, f.Limit, func(r Run) int64 { return r.ID }))
}

// POST /reconciliation/runs {date, source}: the same as `civicpay reconcile`.
func (h *Handler) requestDay(c *fiber.Ctx) error {
	var req struct {
		Date   string `json:"date"`
		Source string `json:"source"`
	}
	if err := problem.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	day, err := ParseDay(req.Date)
	if err != nil {
		return problem.Invalid("date", "a business day, YYYY-MM-DD, from 2000 to 8999")
	}
	if req.Source != "" && !validSource(req.Source) {
		return problem.Invalid("source", "one of %s, or empty for all", strings.Join(Sources(), ", "))
	}
	p := auth.FromCtx(c)
	job, err := h.svc.EnqueueDay(c.UserContext(), day, req.Source, p.Actor()+"@"+h.svc.deps.Clock.Now().UTC().Format("20060102T150405.000000000"))
	if err != nil {
		return err
	}
	return c.Status(http.StatusAccepted).JSON(fiber.Map{"job_id": job, "date": req.Date, "source": req.Source})
}

// GET /reconciliation/runs/{id}
func (h *Handler) getRun(c *fiber.Ctx) error {
	return getByID(c, ErrRunNotFound, h.svc.Run)
}

// GET /reconciliation/runs/{id}/exceptions?class=&status=&cursor=&limit=
func (h *Handler) runExceptions(c *fiber.Ctx) error {
	id, err := pathID(c, ErrRunNotFound)
	if err != nil {
		return err
	}
	var f ExceptionFilter
	if f.Limit, err = pageLimit(c); err != nil {
		return err
	}
	if f.After, err = queryInt(c, "cursor"); err != nil {
		return err
	}
	if f.Class = matcher.Class(strings.Clone(c.Query("class"))); f.Class != "" && (!f.Class.Valid() || f.Class == matcher.Matched) {
		return problem.Invalid("query.class", "missing_here, missing_there, amount_mismatch, duplicate or unknown")
	}
	if f.Status = strings.Clone(c.Query("status")); f.Status != "" &&
		!contains([]string{ExceptionOpen, ExceptionAwaitingApproval, ExceptionAutoResolved, ExceptionResolved, ExceptionCleared}, f.Status) {
		return problem.Invalid("query.status", "open, auto_resolved, resolved or cleared")
	}
	want := f
	want.Limit++
	list, err := h.svc.RunExceptions(c.UserContext(), id, want)
	if err != nil {
		return err
	}
	return c.JSON(newPage(list, f.Limit, func(x RunException) int64 { return x.Seq }))
}

// GET /reconciliation/exceptions/{id}: the exception and its history.
func (h *Handler) getException(c *fiber.Ctx) error {
	id, err := pathID(c, ErrExceptionNotFound)
	if err != nil {
		return err
	}
	e, err := h.svc.Exception(c.UserContext(), id)
	if err != nil {
		return err
	}
	events, err := h.svc.ExceptionEvents(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(struct {
		Exception
		Events []ExceptionEvent `json:"events"`
	}{e, events})
}

// POST /reconciliation/exceptions/{id}/resolve {resolution, note}
func (h *Handler) resolve(c *fiber.Ctx) error {
	id, err := pathID(c, ErrExceptionNotFound)
	if err != nil {
		return err
	}
	var req struct {
		Resolution string `json:"resolution"`
		Note       string `json:"note"`
	}
	if err := problem.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	if !contains(Resolutions, req.Resolution) {
		return problem.Invalid("resolution", "one of %s", strings.Join(Resolutions, ", "))
	}
	if strings.TrimSpace(req.Note) == "" {
		return problem.Invalid("note", "required: what was done and why")
	}
	e, err := h.svc.Resolve(c.UserContext(), id, req.Resolution, req.Note, auth.FromCtx(c).Actor())
	if err != nil {
		return err
	}
	return c.JSON(e)
}

// POST /reconciliation/exceptions/{id}/approve {note}: a second treasury key
// approves a held bank credit, which is then recorded as the payment it claims.
func (h *Handler) approve(c *fiber.Ctx) error {
	id, err := pathID(c, ErrExceptionNotFound)
	if err != nil {
		return err
	}
	var req struct {
		Note string `json:"note"`
	}
	if len(c.Body()) > 0 {
		if err := problem.DecodeJSON(c.Body(), &req); err != nil {
			return err
		}
	}
	e, err := h.svc.ApproveCredit(c.UserContext(), id, auth.FromCtx(c).Actor(), strings.TrimSpace(req.Note))
	if err != nil {
		return err
	}
	return c.JSON(e)
}
