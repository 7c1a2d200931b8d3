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

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/matcher"
)

// The exception queue (/console/reconciliation/exceptions): treasury works
// reconciliation's exceptions — filters, assignment, notes, acknowledge,
// snooze, resolve (alone or a selection at once), reopen, and the
// resolutions that post (a hand match, a move out of suspense, a write-off,
// a fee accepted) with their second approver. Everything goes through
// reconciliation's own functions, which write the event and the audit row.
// Admin reads the queue and moves nothing, as on the API.

func init() {
	for _, name := range []string{"recon_exceptions", "recon_exception"} {
		templates[name] = template.Must(template.ParseFS(files, "templates/layout.html", "templates/"+name+".html"))
	}
}

const rxBase = basePath + "/reconciliation/exceptions"

// rxReaders see the queue; only treasury acts on it.
var rxReaders = []Role{RoleTreasury, RoleAdmin}

func (h *Handler) reconExceptionRoutes(in fiber.Router) {
	// /reconciliation itself is the month's calendar (recon_day.go), which links here.
	in.Get("/reconciliation/exceptions", h.rxGuard(false, h.rxList))
	in.Post("/reconciliation/exceptions/bulk", h.rxGuard(true, h.rxBulk))
	in.Get("/reconciliation/exceptions/:id", h.rxGuard(false, h.rxDetail))
	for _, a := range []string{"acknowledge", "assign", "note", "snooze", "resolve", "reopen", "act", "approve-credit"} {
		in.Post("/reconciliation/exceptions/:id/"+a, h.rxGuard(true, h.rxAction(a)))
	}
	in.Post("/reconciliation/resolutions/:rid/:decision<regex(^(approve|reject)$)>", h.rxGuard(true, h.rxDecide))
}

// rxGuard lets treasury and admin read, and only treasury act (403 for
// the others), and answers 503 when the console has no reconciliation.
func (h *Handler) rxGuard(act bool, next fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		u := cur(c).user
		switch {
		case !slices.Contains(rxReaders, u.Role):
			return h.errorPage(c, http.StatusForbidden, "e403.title", "e403.role")
		case act && u.Role != RoleTreasury:
			return h.errorPage(c, http.StatusForbidden, "e403.title", "rx.readonly")
		}
		if h.deps.Recon == nil {
			return h.errorPage(c, http.StatusServiceUnavailable, "rx.unavailable", "rx.unavailable.body")
		}
		return next(c)
	}
}

// staffActor is how reconciliation names a staff user (as resolved_by,
// assignee, event actor): the principal's actor.
func staffActor(u User) string { return principal(u).Actor() }

// staffName shows an actor that is a staff user as their email.
func staffName(actor string) string {
	for _, r := range []Role{RoleTreasury, RoleAdmin, RoleAgency} {
		if s, ok := strings.CutPrefix(actor, string(r)+":staff:"); ok {
			return s
		}
	}
	return actor
}

type staffOption struct{ Value, Label string }

// treasuryStaff lists the treasury users an exception may be assigned to.
func (h *Handler) treasuryStaff(ctx context.Context) ([]staffOption, error) {
	rows, err := h.pool.Query(ctx, `SELECT email FROM staff_users WHERE role = 'treasury' AND NOT disabled ORDER BY lower(email)`)
	if err != nil {
		return nil, fmt.Errorf("console: treasury staff: %w", err)
	}
	defer rows.Close()
	var out []staffOption
	for rows.Next() {
		var email string
		if err := rows.Scan(&email); err != nil {
			return nil, err
		}
		out = append(out, staffOption{Value: string(RoleTreasury) + ":staff:" + email, Label: email})
	}
	return out, rows.Err()
}

// rxQuery is the queue's filter as typed into its GET form.
type rxQuery struct{ Class, Source, State, Age, Assignee, After string }

func rxQueryOf(c *fiber.Ctx) rxQuery {
	q := func(k string) string { return strings.Clone(strings.TrimSpace(c.Query(k))) }
	return rxQuery{Class: q("class"), Source: q("source"), State: q("state"), Age: q("age"), Assignee: q("assignee"), After: q("after")}
}

func (q rxQuery) values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{{"class", q.Class}, {"source", q.Source}, {"state", q.State}, {"age", q.Age},
		{"assignee", q.Assignee}, {"after", q.After}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v
}

// rxRow is an exception as the queue and its page show it.
type rxRow struct {
	ID                                   int64
	Date, Source, Class, State           string
	Age                                  int
	There, Here, Reference, Assignee     string
	Detail, Resolution, Note, ResolvedBy string
}

func rxRowOf(e reconciliation.Exception, today string, lang string) rxRow {
	r := rxRow{ID: e.ID, Date: e.BusinessDate, Source: e.Source, Class: string(e.Class), State: e.State(today),
		Reference: e.Reference, Assignee: staffName(e.Assignee), Detail: e.Detail, Resolution: e.Resolution, Note: e.Note,
		ResolvedBy: staffName(e.ResolvedBy)}
	if d, err := bizday.Parse(today); err == nil {
		r.Age = e.AgeDays(d)
	}
	if e.AmountThere != nil {
		r.There = formatAmount(*e.AmountThere, e.Currency, lang)
	}
	if e.AmountHere != nil {
		r.Here = formatAmount(*e.AmountHere, e.Currency, lang)
	}
	return r
}

type rxListData struct {
	Query                    rxQuery
	Classes, Sources, States []string
	Ages, Resolutions        []string
	Staff                    []staffOption
	Me                       string
	Rows                     []rxRow
	Next                     string
	CanAct                   bool
	Errors                   map[string]string
	Bulk                     rxBulkForm
	Back                     string
}

type rxBulkForm struct {
	Assignee, Resolution, Note string
	Selected                   map[int64]bool
}

// pageSize of the queue.
const rxPageSize = 50

func (h *Handler) rxList(c *fiber.Ctx) error {
	return h.renderList(c, http.StatusOK, nil, rxBulkForm{})
}

// renderList shows the queue by the request's filter, with errs (by field)
// and the bulk form as it was submitted when it was refused.
func (h *Handler) renderList(c *fiber.Ctx, status int, errs map[string]string, bulk rxBulkForm) error {
	cu := cur(c)
	v := h.newView(c, "rx.title")
	v.Nav = nav(cu.user, "reconciliation")
	q := rxQueryOf(c)
	if status == http.StatusOK && c.Method() == fiber.MethodPost {
		q = rxQuery{}
	}
	var classes []string
	for _, cl := range matcher.Classes() {
		if cl != matcher.Matched {
			classes = append(classes, string(cl))
		}
	}
	d := &rxListData{Query: q, Classes: classes, Sources: reconciliation.Sources(), States: reconciliation.QueueStates,
		Ages: reconciliation.AgeBuckets, Resolutions: reconciliation.Resolutions, Me: staffActor(cu.user),
		CanAct: cu.user.Role == RoleTreasury, Errors: errs, Bulk: bulk, Back: rxBase}
	if enc := q.values(); len(enc) > 0 {
		d.Back = rxBase + "?" + enc.Encode()
	}
	v.Data = d
	if n := c.Query("done"); n != "" {
		v.Notice = v.T("rx.bulk.done", c.Query("ok"), c.Query("failed"))
	}
	staff, err := h.treasuryStaff(c.UserContext())
	if err != nil {
		return h.fail(c, err)
	}
	d.Staff = staff
	f := reconciliation.QueueFilter{Class: matcher.Class(q.Class), Source: q.Source, State: q.State, Age: q.Age,
		Assignee: q.Assignee, Limit: rxPageSize}
	if f.Assignee == "me" {
		f.Assignee = d.Me
	}
	if q.After != "" {
		if f.After, err = strconv.ParseInt(q.After, 10, 64); err != nil || f.After < 0 {
			v.Error = v.T("rx.err.filter")
			return h.render(c, http.StatusBadRequest, "recon_exceptions", v)
		}
	}
	list, err := h.deps.Recon.Queue(c.UserContext(), f)
	var ie *reconciliation.InputError
	if errors.As(err, &ie) {
		v.Error = v.T("rx.err.filter")
		return h.render(c, http.StatusBadRequest, "recon_exceptions", v)
	}
	if err != nil {
		return h.fail(c, err)
	}
	today := h.deps.Recon.Today().Format("2006-01-02")
	for _, e := range list {
		d.Rows = append(d.Rows, rxRowOf(e, today, v.Lang))
	}
	if len(list) == f.Limit {
		next := q.values()
		next.Set("after", strconv.FormatInt(list[len(list)-1].ID, 10))
		d.Next = rxBase + "?" + next.Encode()
	}
	for _, key := range errs { // one error at a time: say it at the top too
		if v.Error == "" {
			v.Error = v.T(key)
		}
	}
	return h.render(c, status, "recon_exceptions", v)
}

// rxBulk applies one action to the selected exceptions, each recorded on
// its own, and goes back to the list saying how many were done.
func (h *Handler) rxBulk(c *fiber.Ctx) error {
	cu := cur(c)
	ctx, p := h.acting(c)
	form := rxBulkForm{Assignee: strings.Clone(c.FormValue("assignee")), Resolution: strings.Clone(c.FormValue("resolution")),
		Note: strings.Clone(c.FormValue("note")), Selected: map[int64]bool{}}
	var ids []int64
	for _, s := range c.Context().PostArgs().PeekMulti("id") {
		id, err := strconv.ParseInt(string(s), 10, 64)
		if err == nil && id > 0 {
			ids = append(ids, id)
			form.Selected[id] = true
		}
	}
	var res []reconciliation.BulkResult
	var err error
	switch c.FormValue("action") {
	case "acknowledge":
		res, err = h.deps.Recon.BulkAcknowledge(ctx, ids, p.Actor())
	case "assign":
		assignee, ok, aerr := h.assignee(c.UserContext(), cu.user, form.Assignee)
		if aerr != nil {
			return h.fail(c, aerr)
		}
		if !ok {
			return h.renderList(c, http.StatusUnprocessableEntity, map[string]string{"bulk.assignee": "rx.err.assignee_invalid"}, form)
		}
		res, err = h.deps.Recon.BulkAssign(ctx, ids, assignee, p.Actor())
	case "resolve":
		res, err = h.deps.Recon.BulkResolve(ctx, ids, form.Resolution, form.Note, p.Actor())
	default:
		return h.renderList(c, http.StatusUnprocessableEntity, map[string]string{"bulk.action": "rx.err.action"}, form)
	}
	var ie *reconciliation.InputError
	if errors.As(err, &ie) {
		return h.renderList(c, http.StatusUnprocessableEntity, map[string]string{"bulk." + ie.Field: rxErrKey(ie)}, form)
	}
	if err != nil {
		return h.fail(c, err)
	}
	ok, failed := 0, 0
	for _, r := range res {
		switch {
		case r.Err == nil:
			ok++
		case errors.Is(r.Err, reconciliation.ErrInvalid), errors.Is(r.Err, reconciliation.ErrAlreadyResolved),
			errors.Is(r.Err, reconciliation.ErrPendingApproval), errors.Is(r.Err, reconciliation.ErrExceptionNotFound):
			failed++
		default:
			return h.fail(c, r.Err)
		}
	}
	back := c.FormValue("back")
	if !strings.HasPrefix(back, rxBase) {
		back = rxBase
	}
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	return c.Redirect(back+sep+fmt.Sprintf("done=bulk&ok=%d&failed=%d", ok, failed), http.StatusSeeOther)
}

// assignee reads an assignee field: "me", "" (nobody), or a treasury
// user's actor; ok is false for anything else.
func (h *Handler) assignee(ctx context.Context, u User, v string) (string, bool, error) {
	switch v {
	case "":
		return "", true, nil
	case "me":
		return staffActor(u), true, nil
	}
	staff, err := h.treasuryStaff(ctx)
	if err != nil {
		return "", false, err
	}
	for _, s := range staff {
		if s.Value == v {
			return v, true, nil
		}
	}
	return "", false, nil
}

// rxErrKey is the message of an input error, by its code.
func rxErrKey(ie *reconciliation.InputError) string {
	if _, ok := messages["rx.err."+ie.Code]; ok {
		return "rx.err." + ie.Code
	}
	return "rx.err.invalid"
}

type rxEvent struct{ At, Action, Actor, Note string }

type rxResolution struct {
	ID                                    int64
	Kind, Status, Amount, Difference      string
	Targets, Note, RequestedBy, DecidedBy string
	RequestedAt, DecidedAt, DecisionNote  string
	Entries                               string
	CanApprove                            bool
}

type rxDetailData struct {
	Row         rxRow
	E           reconciliation.Exception
	Events      []rxEvent
	History     []rxResolution
	Pending     *rxResolution
	CanAct      bool
	Staff       []staffOption
	Resolutions []string
	Kinds       []string
	Differences []string
	Errors      map[string]string
	Form        map[string]string // what was submitted, to fill the form again
	RefundRef   string
	Tomorrow    string
}

func (h *Handler) exceptionID(c *fiber.Ctx) (int64, bool) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	return id, err == nil && id > 0
}

func (h *Handler) rxDetail(c *fiber.Ctx) error {
	id, ok := h.exceptionID(c)
	if !ok {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rx.notfound")
	}
	return h.renderDetail(c, id, http.StatusOK, "", nil, nil)
}

// renderDetail shows exception id with status, a page error (message key)
// and the field errors of the form submitted.
func (h *Handler) renderDetail(c *fiber.Ctx, id int64, status int, pageErr string, errs, form map[string]string) error {
	cu := cur(c)
	ctx := c.UserContext()
	e, err := h.deps.Recon.Exception(ctx, id)
	if errors.Is(err, reconciliation.ErrExceptionNotFound) {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rx.notfound")
	}
	if err != nil {
		return h.fail(c, err)
	}
	events, err := h.deps.Recon.ExceptionEvents(ctx, id)
	if err != nil {
		return h.fail(c, err)
	}
	history, err := h.deps.Recon.Resolutions(ctx, id)
	if err != nil {
		return h.fail(c, err)
	}
	staff, err := h.treasuryStaff(ctx)
	if err != nil {
		return h.fail(c, err)
	}
	v := h.newView(c, "rx.exception")
	v.Nav = nav(cu.user, "reconciliation")
	today := h.deps.Recon.Today()
	me := staffActor(cu.user)
	d := &rxDetailData{Row: rxRowOf(e, today.Format("2006-01-02"), v.Lang), E: e, CanAct: cu.user.Role == RoleTreasury,
		Staff: staff, Resolutions: reconciliation.Resolutions, Differences: reconciliation.Differences, Errors: errs,
		Form: form, Tomorrow: today.AddDate(0, 0, 1).Format("2006-01-02")}
	if d.Form == nil {
		d.Form = map[string]string{}
	}
	for _, k := range e.Kinds() {
		d.Kinds = append(d.Kinds, string(k))
		if k == reconciliation.ResolveRefundSender {
			d.RefundRef = reconciliation.RefundReference(e.ID)
		}
	}
	for _, ev := range events {
		d.Events = append(d.Events, rxEvent{At: formatTime(ev.At), Action: ev.Action, Actor: staffName(ev.Actor), Note: ev.Note})
	}
	for _, r := range history {
		x := rxResolution{ID: r.ID, Kind: string(r.Kind), Status: r.Status, Amount: formatAmount(r.Amount, r.Currency, v.Lang),
			Difference: formatAmount(r.Difference, r.Currency, v.Lang), Targets: strings.Join(r.Request.Targets, ", "),
			Note: r.Request.Note, RequestedBy: staffName(r.RequestedBy), RequestedAt: formatTime(r.RequestedAt),
			DecidedBy: staffName(r.DecidedBy), DecisionNote: r.DecisionNote}
		if r.DecidedAt != nil {
			x.DecidedAt = formatTime(*r.DecidedAt)
		}
		var ids []string
		for _, le := range r.LedgerEntryIDs {
			ids = append(ids, strconv.FormatInt(le, 10))
		}
		x.Entries = strings.Join(ids, ", ")
		if r.Status == reconciliation.ResolutionPending {
			x.CanApprove = d.CanAct && r.RequestedBy != me
			p := x
			d.Pending = &p
		}
		d.History = append(d.History, x)
	}
	v.Data = d
	switch {
	case pageErr != "":
		v.Error = v.T(pageErr)
	case len(errs) > 0:
		for _, key := range errs { // one error at a time: say it at the top too
			v.Error = v.T(key)
		}
	}
	if n := c.Query("done"); n != "" && status == http.StatusOK {
		v.Notice = v.T("rx.done." + n)
	}
	return h.render(c, status, "recon_exception", v)
}

// rxAction is the POST of one of an exception's forms.
func (h *Handler) rxAction(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, ok := h.exceptionID(c)
		if !ok {
			return h.errorPage(c, http.StatusNotFound, "e404.title", "rx.notfound")
		}
		cu := cur(c)
		ctx, p := h.acting(c)
		svc := h.deps.Recon
		form := map[string]string{}
		for _, k := range []string{"note", "assignee", "until", "resolution", "kind", "targets", "difference"} {
			form[k] = strings.Clone(c.FormValue(k))
		}
		form["_form"] = action // which form the values (and errors) are of
		done := action
		var err error
		switch action {
		case "acknowledge":
			_, err = svc.Acknowledge(ctx, id, p.Actor())
		case "assign":
			assignee, ok, aerr := h.assignee(c.UserContext(), cu.user, form["assignee"])
			if aerr != nil {
				return h.fail(c, aerr)
			}
			if !ok {
				return h.renderDetail(c, id, http.StatusUnprocessableEntity, "", map[string]string{"assign.assignee": "rx.err.assignee_invalid"}, form)
			}
			_, err = svc.Assign(ctx, id, assignee, p.Actor())
		case "note":
			_, err = svc.AddNote(ctx, id, form["note"], p.Actor())
		case "snooze":
			var until time.Time // zero: wake it
			switch {
			case c.FormValue("wake") != "":
				done = "wake"
			case form["until"] == "":
				return h.renderDetail(c, id, http.StatusUnprocessableEntity, "", map[string]string{"snooze.until": "rx.err.until_required"}, form)
			default:
				if until, err = bizday.Parse(form["until"]); err != nil {
					return h.renderDetail(c, id, http.StatusUnprocessableEntity, "", map[string]string{"snooze.until": "rx.err.until_invalid"}, form)
				}
			}
			_, err = svc.Snooze(ctx, id, until, form["note"], p.Actor())
		case "resolve":
			_, err = svc.Resolve(ctx, id, form["resolution"], form["note"], p.Actor())
		case "reopen":
			_, err = svc.Reopen(ctx, id, form["note"], p.Actor())
		case "approve-credit":
			// A held bank credit (from a statement that did not come by the
			// authenticated fetch) is recorded on a second person's word.
			_, err = svc.ApproveCredit(ctx, id, p.Actor(), strings.TrimSpace(form["note"]))
		case "act":
			var out reconciliation.ResolutionOutcome
			out, err = svc.RequestResolution(ctx, id, reconciliation.ResolutionRequest{Kind: reconciliation.ResolutionKind(form["kind"]),
				Targets: splitTargets(form["targets"]), Difference: form["difference"], Note: form["note"]}, p.Actor())
			if err == nil && out.Resolution.Status == reconciliation.ResolutionPending {
				done = "pending"
			}
		}
		if err != nil {
			return h.rxError(c, id, action, err, form)
		}
		return c.Redirect(fmt.Sprintf("%s/%d?done=%s", rxBase, id, done), http.StatusSeeOther)
	}
}

// splitTargets reads the targets field: one per line or comma-separated.
func splitTargets(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ';' })
}

// rxError shows a domain error of form on the exception's page: an input
// error next to its field (422), a conflict as the page's error (409).
func (h *Handler) rxError(c *fiber.Ctx, id int64, form string, err error, values map[string]string) error {
	var ie *reconciliation.InputError
	switch {
	case errors.As(err, &ie):
		return h.renderDetail(c, id, http.StatusUnprocessableEntity, "", map[string]string{form + "." + ie.Field: rxErrKey(ie)}, values)
	case errors.Is(err, reconciliation.ErrExceptionNotFound), errors.Is(err, reconciliation.ErrResolutionNotFound):
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rx.notfound")
	case errors.Is(err, reconciliation.ErrOwnRequest):
		return h.renderDetail(c, id, http.StatusForbidden, "rx.err.own_request", nil, values)
	case errors.Is(err, reconciliation.ErrSameApprover):
		return h.renderDetail(c, id, http.StatusForbidden, "rx.err.same_approver", nil, values)
	case errors.Is(err, reconciliation.ErrNotAwaiting):
		return h.renderDetail(c, id, http.StatusConflict, "rx.err.not_pending", nil, values)
	case errors.Is(err, reconciliation.ErrAlreadyResolved):
		return h.renderDetail(c, id, http.StatusConflict, "rx.err.resolved", nil, values)
	case errors.Is(err, reconciliation.ErrPendingApproval):
		return h.renderDetail(c, id, http.StatusConflict, "rx.err.pending", nil, values)
	case errors.Is(err, reconciliation.ErrNotReopenable):
		return h.renderDetail(c, id, http.StatusConflict, "rx.err.not_reopenable", nil, values)
	case errors.Is(err, reconciliation.ErrNotPending):
		return h.renderDetail(c, id, http.StatusConflict, "rx.err.not_pending", nil, values)
	case errors.Is(err, reconciliation.ErrNotConfigured):
		return h.errorPage(c, http.StatusServiceUnavailable, "rx.unavailable", "rx.unavailable.body")
	}
	return h.fail(c, err)
}

// rxDecide approves or rejects a pending resolution.
func (h *Handler) rxDecide(c *fiber.Ctx) error {
	rid, err := strconv.ParseInt(c.Params("rid"), 10, 64)
	if err != nil || rid <= 0 {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rx.notfound")
	}
	id, _ := strconv.ParseInt(c.FormValue("exception"), 10, 64)
	ctx, p := h.acting(c)
	decision := c.Params("decision")
	note := strings.Clone(c.FormValue("note"))
	var out reconciliation.ResolutionOutcome
	if decision == "approve" {
		out, err = h.deps.Recon.ApproveResolution(ctx, rid, p.Actor(), note)
	} else {
		out, err = h.deps.Recon.RejectResolution(ctx, rid, p.Actor(), note)
	}
	if err != nil {
		if id <= 0 {
			return h.rxErrorNoPage(c, err)
		}
		return h.rxError(c, id, decision, err, map[string]string{"note": note, "_form": decision})
	}
	return c.Redirect(fmt.Sprintf("%s/%d?done=%s", rxBase, out.Exception.ID, decision), http.StatusSeeOther)
}

// rxErrorNoPage is rxError when the exception is not known.
func (h *Handler) rxErrorNoPage(c *fiber.Ctx, err error) error {
	switch {
	case errors.Is(err, reconciliation.ErrResolutionNotFound), errors.Is(err, reconciliation.ErrExceptionNotFound):
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rx.notfound")
	case errors.Is(err, reconciliation.ErrOwnRequest):
		return h.errorPage(c, http.StatusForbidden, "e403.title", "rx.err.own_request")
	case errors.Is(err, reconciliation.ErrInvalid):
		return h.errorPage(c, http.StatusUnprocessableEntity, "rx.exception", "rx.err.invalid")
	case errors.Is(err, reconciliation.ErrNotPending), errors.Is(err, reconciliation.ErrAlreadyResolved):
		return h.errorPage(c, http.StatusConflict, "rx.exception", "rx.err.not_pending")
	}
	return h.fail(c, err)
}
