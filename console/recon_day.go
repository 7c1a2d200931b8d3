package console

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/rawfile"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// The treasury's days (/console/reconciliation): the month's calendar of
// day states, and a business day's page — its sources (files received or
// missing, fetch now, upload), lines and counts per class, the settlement
// chain from the bank's credit to our orders, the "both sides agree" check
// per gateway, the exceptions that hold it open (each may be carried
// forward with a note), closing it, its report (PDF, XLSX) and reopening it
// on a second treasury person's approval. Every read and every change is
// reconciliation's own function (the one the API calls), which writes the
// audit row; admin reads, treasury acts, agency staff see nothing of it.

func init() {
	for _, name := range []string{"recon_calendar", "recon_day"} {
		templates[name] = template.Must(template.ParseFS(files, "templates/layout.html", "templates/"+name+".html"))
	}
}

// rdDayPath is a business day's path parameter: YYYY-MM-DD (so that the
// exception queue's /reconciliation/exceptions is not a day).
const rdDayPath = `/reconciliation/:date<regex(^\d{4}-\d{2}-\d{2}$)>`

func (h *Handler) reconDayRoutes(in fiber.Router) {
	in.Get("/reconciliation", h.rxGuard(false, h.rdCalendar))
	in.Get(rdDayPath, h.rxGuard(false, h.rdDay))
	in.Get(rdDayPath+"/report.pdf", h.rxGuard(false, h.rdReport("pdf")))
	in.Get(rdDayPath+"/report.xlsx", h.rxGuard(false, h.rdReport("xlsx")))
	in.Post(rdDayPath+"/fetch", h.rxGuard(true, h.rdFetch))
	in.Post(rdDayPath+"/upload", h.rxGuard(true, h.rdUpload))
	in.Post(rdDayPath+"/close", h.rxGuard(true, h.rdClose))
	in.Post(rdDayPath+"/carry", h.rxGuard(true, h.rdCarry))
	in.Post(rdDayPath+"/reopen", h.rxGuard(true, h.rdReopen))
	in.Post(rdDayPath+`/reopen/:rid<int>/:decision<regex(^(approve|reject)$)>`, h.rxGuard(true, h.rdDecide))
}

// --- the calendar ---

type calCell struct {
	Date, Day, State, Href string
	Over, Today, InMonth   bool
	Open, Carried          int64
	Ran, Sources           int
}

type calendarData struct {
	Month, Prev, Next string // YYYY-MM
	Title             string
	Weekdays          []string
	Weeks             [][]calCell
	Counts            []stateCount
}

type stateCount struct {
	State string
	N     int
}

var dayStates = []string{reconciliation.DayNotRun, reconciliation.DayExceptionsOpen, reconciliation.DayBalanced, reconciliation.DayClosed}

func (h *Handler) rdCalendar(c *fiber.Ctx) error {
	cu := cur(c)
	v := h.newView(c, "rd.calendar")
	v.Nav = nav(cu.user, "reconciliation")
	today := bizday.Start(h.clock.Now())
	month := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, bizday.Zone)
	status := http.StatusOK
	if q := strings.TrimSpace(c.Query("month")); q != "" {
		m, err := time.ParseInLocation("2006-01", q, bizday.Zone)
		if err != nil || m.Year() < 2000 || m.Year() >= 9000 {
			v.Error, status = v.T("rd.bad.month"), http.StatusUnprocessableEntity
		} else {
			month = m
		}
	}
	days, err := h.deps.Recon.Month(c.UserContext(), month.Year(), month.Month())
	if err != nil {
		return h.fail(c, err)
	}
	d := &calendarData{Month: month.Format("2006-01"), Prev: month.AddDate(0, -1, 0).Format("2006-01"),
		Next: month.AddDate(0, 1, 0).Format("2006-01"), Title: monthTitle(month, v.Lang),
		Weekdays: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}}
	counts := map[string]int{}
	// Weeks start on Monday; the cells before the first and after the last
	// day of the month are blank.
	var week []calCell
	for i := 0; i < (int(month.Weekday())+6)%7; i++ {
		week = append(week, calCell{})
	}
	for _, day := range days {
		dt, _ := time.ParseInLocation(time.DateOnly, day.Date, bizday.Zone)
		week = append(week, calCell{Date: day.Date, Day: strconv.Itoa(dt.Day()), State: day.State, InMonth: true,
			Href: basePath + "/reconciliation/" + day.Date, Over: day.Over, Today: dt.Equal(today),
			Open: day.OpenExceptions, Carried: day.CarriedForward, Ran: day.Ran, Sources: day.Sources})
		if day.Over || day.State == reconciliation.DayClosed {
			counts[day.State]++
		}
		if len(week) == 7 {
			d.Weeks, week = append(d.Weeks, week), nil
		}
	}
	if len(week) > 0 {
		for len(week) < 7 {
			week = append(week, calCell{})
		}
		d.Weeks = append(d.Weeks, week)
	}
	for _, s := range dayStates {
		d.Counts = append(d.Counts, stateCount{State: s, N: counts[s]})
	}
	v.Data = d
	return h.render(c, status, "recon_calendar", v)
}

func monthTitle(m time.Time, lang string) string {
	if lang == langEN {
		return m.Format("January 2006")
	}
	return fmt.Sprintf("Tháng %d năm %d", int(m.Month()), m.Year())
}

// --- the day ---

type rdFile struct {
	ID, Name, Kind, Status, Received, Error, Lines, Source, By string
	Settlement                                                 string // file id and revision, for a gateway's file
}

type rdClass struct {
	Class, Currency, Count, Total string
}

type rdSource struct {
	Source, Label string
	Gateway       bool
	Received      bool
	Files         []rdFile
	Run           string // the latest run: "#12 completed"
	RunError      string
	Completed     string // the completed run whose totals these are
	Lines         string
	Classes       []rdClass
	// Gateway: the file's trailer; the bank: its credits and debits.
	Totals     []string
	Settlement *rdSettlement
	ChainHref  string
}

type rdSettlement struct {
	Status, Detail, BankEntry, BankAmount, BankBooked, File, Gross, Fees, Net, LedgerEntry, MatchedBy string
}

type rdAgreement struct {
	Gateway, Currency                                                 string
	OursCount, OursAmount, Payments, Refunds                          string
	TheirCount, TheirAmount, Fees, Net, BankCount, BankAmount, Status string
	CountOK, AmountOK, BankOK, Agree, HasFile, VietQR                 bool
}

type rdException struct {
	ID, Source, Class, Status, Amount, Detail, Href string
	Carried                                         bool
	CarryNote, CarryBy, CarryAt                     string
	Error                                           string
}

type rdChainLine struct {
	Line, Type, Reference, Txn, Gross, Fee, Net, Class, At string
	OrderHref, OrderID, HereStatus, HereAmount             string
	Matched                                                bool
}

type rdReopen struct {
	ID, Reason, By, At, Status, DecidedBy, DecidedAt, Note string
	Mine                                                   bool // the signed-in person asked for it
}

type dayData struct {
	Date, State, Month, Prev, Next string
	Over, Closed, CanAct           bool
	ClosedBy, ClosedAt, CloseNote  string
	OpenExceptions, Carried        int64
	Missing                        []string // sources without a completed run
	Sources                        []rdSource
	SourceNames                    []string // for the fetch form
	Agreements                     []rdAgreement
	Exceptions                     []rdException
	Unresolved                     int64
	More                           bool
	Reopen                         *rdReopen
	Reopens                        []rdReopen
	Unloaded                       []rdFile
	// The chain shown, when asked for (?chain=<gateway>).
	Chain, ChainNext string
	ChainLines       []rdChainLine
	CanClose         bool
	// Errors by form field ("close.note", "carry.<id>", "reopen.reason",
	// "decide.note", "upload.file", "fetch.source").
	Errs                 map[string]string
	Form                 map[string]string
	PDF, XLSX, QueueHref string
}

// rdDate reads the path's business day; a date that is not a day is a 404.
func rdDate(c *fiber.Ctx) (time.Time, bool) {
	d, err := reconciliation.ParseDay(c.Params("date"))
	return d, err == nil
}

func (h *Handler) rdDay(c *fiber.Ctx) error {
	day, ok := rdDate(c)
	if !ok {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rd.notfound")
	}
	v, _, err := h.rdDayView(c, day)
	if err != nil {
		return h.fail(c, err)
	}
	switch c.Query("done") {
	case "fetch", "upload", "close", "carry", "reopen", "approve", "reject":
		v.Notice = v.T("rd.done." + c.Query("done"))
	}
	return h.render(c, http.StatusOK, "recon_day", v)
}

// rdDayView builds the day's page (for a GET, and for a form refused with
// its errors).
func (h *Handler) rdDayView(c *fiber.Ctx, day time.Time) (*view, *dayData, error) {
	cu := cur(c)
	ctx := c.UserContext()
	v := h.newView(c, "rd.day")
	v.Nav = nav(cu.user, "reconciliation")
	lang := v.Lang
	dv, err := h.deps.Recon.DayView(ctx, day)
	if err != nil {
		return nil, nil, err
	}
	date := dayKey(day)
	month := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, bizday.Zone)
	d := &dayData{Date: date, State: dv.State, Month: month.Format("2006-01"), Prev: dayKey(day.AddDate(0, 0, -1)),
		Next: dayKey(day.AddDate(0, 0, 1)), Over: dv.Status.Over, Closed: dv.Status.Closed != nil,
		CanAct: cu.user.Role == RoleTreasury, OpenExceptions: dv.Status.OpenExceptions, Carried: dv.Status.CarriedForward,
		Unresolved: dv.Unresolved, More: int64(len(dv.Exceptions)) < dv.Unresolved, Errs: map[string]string{},
		Form: map[string]string{}, PDF: basePath + "/reconciliation/" + date + "/report.pdf",
		XLSX: basePath + "/reconciliation/" + date + "/report.xlsx", QueueHref: basePath + "/reconciliation/exceptions"}
	v.Data = d
	if c := dv.Status.Closed; c != nil {
		d.ClosedBy, d.ClosedAt, d.CloseNote = staffName(c.ClosedBy), formatTime(c.ClosedAt), c.Note
	}
	for _, src := range dv.Sources {
		if dv.Status.Reconciled[src.Source] == 0 {
			d.Missing = append(d.Missing, src.Source)
		}
		d.SourceNames = append(d.SourceNames, src.Source)
		d.Sources = append(d.Sources, rdSourceOf(src, date, lang, v))
	}
	d.CanClose = d.CanAct && d.Over && !d.Closed && len(d.Missing) == 0 && d.OpenExceptions == 0
	for _, a := range dv.Agreements {
		d.Agreements = append(d.Agreements, rdAgreementOf(a, lang, v))
	}
	for _, e := range dv.Exceptions {
		d.Exceptions = append(d.Exceptions, rdExceptionOf(e, lang))
	}
	if r := dv.Reopen; r != nil {
		x := rdReopenOf(*r, cu.user)
		d.Reopen = &x
	}
	for _, r := range dv.Reopens {
		d.Reopens = append(d.Reopens, rdReopenOf(r, cu.user))
	}
	for _, f := range dv.Unloaded {
		d.Unloaded = append(d.Unloaded, rdFileOf(f, lang))
	}
	if gw := c.Query("chain"); gw != "" && slices.Contains(d.SourceNames, gw) && gw != reconciliation.SourceBank {
		after, _ := strconv.ParseInt(c.Query("after"), 10, 32)
		const page = 100
		lines, err := h.deps.Recon.ChainLines(ctx, gw, day, int32(max(after, 0)), page+1)
		if err != nil {
			return nil, nil, err
		}
		d.Chain = gw
		if len(lines) > page {
			lines = lines[:page]
			d.ChainNext = basePath + "/reconciliation/" + date + "?" + url.Values{"chain": {gw},
				"after": {strconv.Itoa(int(lines[page-1].Line))}}.Encode() + "#chain"
		}
		for _, l := range lines {
			d.ChainLines = append(d.ChainLines, rdChainLineOf(l, lang))
		}
	}
	return v, d, nil
}

func dayKey(t time.Time) string { return t.Format(time.DateOnly) }

func rdFileOf(f reconciliation.File, lang string) rdFile {
	out := rdFile{ID: strconv.FormatInt(f.ID, 10), Name: f.Name, Kind: string(f.Kind), Status: f.Status,
		Received: formatTime(f.ReceivedAt), Error: f.Error, Lines: formatCount(f.LinesDone, lang), Source: f.Source,
		By: staffName(f.ReceivedBy)}
	if s := f.Settlement; s != nil {
		out.Settlement = fmt.Sprintf("%s r%d", s.SettlementFileID, s.Revision)
	}
	return out
}

func formatCount(n int64, lang string) string {
	s := formatAmount(decimal.NewFromInt(n), "", lang)
	return strings.TrimSuffix(s, "\u00a0")
}

func runLabel(v *view, r *reconciliation.Run) string {
	if r == nil {
		return ""
	}
	return v.T("rd.run", r.ID, v.T("rd.run."+r.Status))
}

func rdSourceOf(src reconciliation.SourceView, date, lang string, v *view) rdSource {
	out := rdSource{Source: src.Source, Gateway: src.Source != reconciliation.SourceBank, Received: src.Received,
		Run: runLabel(v, src.LatestRun), Completed: runLabel(v, src.Completed), Lines: formatCount(src.Lines, lang)}
	out.Label = src.Source
	if !out.Gateway {
		out.Label = v.T("rd.bank")
	}
	if src.LatestRun != nil && src.LatestRun.Status == reconciliation.RunFailed {
		out.RunError = src.LatestRun.Error
	}
	for _, f := range src.Files {
		out.Files = append(out.Files, rdFileOf(f, lang))
	}
	for _, t := range src.Classes {
		out.Classes = append(out.Classes, rdClass{Class: string(t.Class), Currency: t.Currency, Count: formatCount(t.Count, lang),
			Total: formatAmount(t.Total, t.Currency, lang)})
	}
	if out.Gateway {
		if len(src.Files) > 0 && src.Files[0].Settlement != nil {
			s := src.Files[0].Settlement
			out.Totals = append(out.Totals, v.T("rd.file.totals", formatCount(s.Count, lang), formatAmount(s.Gross, s.Currency, lang),
				formatAmount(s.Fees, s.Currency, lang), formatAmount(s.Net, s.Currency, lang)))
			out.ChainHref = basePath + "/reconciliation/" + date + "?chain=" + url.QueryEscape(src.Source) + "#chain"
		}
		if st := src.Settlement; st != nil {
			s := &rdSettlement{Status: st.Status, Detail: st.Detail, BankEntry: st.BankEntryKey, MatchedBy: st.MatchedBy,
				File: st.SettlementFileID}
			if st.BankAmount != nil {
				s.BankAmount = formatAmount(*st.BankAmount, st.Currency, lang)
			}
			if st.BankBookedAt != nil {
				s.BankBooked = formatTime(*st.BankBookedAt)
			}
			if st.Revision != nil {
				s.File += fmt.Sprintf(" r%d", *st.Revision)
			}
			for dst, amt := range map[*string]*decimal.Decimal{&s.Gross: st.Gross, &s.Fees: st.Fees, &s.Net: st.Net} {
				if amt != nil {
					*dst = formatAmount(*amt, st.Currency, lang)
				}
			}
			if st.LedgerEntryID != nil {
				s.LedgerEntry = strconv.FormatInt(*st.LedgerEntryID, 10)
			}
			out.Settlement = s
		}
	} else {
		for _, b := range src.Bank {
			out.Totals = append(out.Totals, v.T("rd.bank.totals", formatCount(b.Credits.Count, lang),
				formatAmount(b.Credits.Amount, b.Currency, lang), formatCount(b.Debits.Count, lang), formatAmount(b.Debits.Amount, b.Currency, lang)))
		}
	}
	return out
}

func rdAgreementOf(a reconciliation.Agreement, lang string, v *view) rdAgreement {
	out := rdAgreement{Gateway: a.Gateway, Currency: a.Currency, OursCount: formatCount(a.Ours.Count, lang),
		OursAmount: formatAmount(a.Ours.Amount, a.Currency, lang),
		Payments:   v.T("rd.ours.split", formatCount(a.Payments.Count, lang), formatCount(a.Refunds.Count, lang)),
		CountOK:    a.CountAgrees, AmountOK: a.AmountAgrees, BankOK: a.BankAgrees, Agree: a.Agree, HasFile: a.Theirs != nil,
		VietQR: a.Gateway == matcher.VietQR, TheirCount: "—", TheirAmount: "—", Fees: "—", Net: "—", BankCount: "—", BankAmount: "—"}
	if a.Theirs != nil {
		out.TheirCount, out.TheirAmount = formatCount(a.Theirs.Count, lang), formatAmount(a.Theirs.Amount, a.Currency, lang)
	}
	if a.Fees != nil {
		out.Fees = formatAmount(*a.Fees, a.Currency, lang)
	}
	if a.Net != nil {
		out.Net = formatAmount(*a.Net, a.Currency, lang)
	}
	if a.Bank != nil {
		out.BankCount, out.BankAmount = formatCount(a.Bank.Count, lang), formatAmount(a.Bank.Amount, a.Currency, lang)
	}
	switch {
	case a.Agree:
		out.Status = v.T("rd.agree.yes")
	case !out.HasFile && !out.VietQR:
		out.Status = v.T("rd.agree.nofile")
	default:
		var why []string
		if !a.CountAgrees {
			why = append(why, v.T("rd.agree.count"))
		}
		if !a.AmountAgrees {
			why = append(why, v.T("rd.agree.amount"))
		}
		if !a.BankAgrees {
			why = append(why, v.T("rd.agree.bank"))
		}
		out.Status = v.T("rd.agree.no", strings.Join(why, ", "))
	}
	return out
}

func rdExceptionOf(e reconciliation.DayException, lang string) rdException {
	out := rdException{ID: strconv.FormatInt(e.ID, 10), Source: e.Source, Class: string(e.Class), Status: e.Status,
		Detail: e.Detail, Href: basePath + "/reconciliation/exceptions/" + strconv.FormatInt(e.ID, 10)}
	amt := e.AmountThere
	if amt == nil {
		amt = e.AmountHere
	}
	if amt != nil {
		out.Amount = formatAmount(*amt, e.Currency, lang)
	}
	if e.Carry != nil {
		out.Carried, out.CarryNote, out.CarryBy, out.CarryAt = true, e.Carry.Note, staffName(e.Carry.By), formatTime(e.Carry.At)
	}
	return out
}

func rdChainLineOf(l reconciliation.ChainLine, lang string) rdChainLine {
	out := rdChainLine{Line: strconv.Itoa(int(l.Line)), Type: l.Type, Reference: l.Reference, Txn: l.GatewayTxnID,
		Gross: formatAmount(l.Gross, l.Currency, lang), Fee: formatAmount(l.Fee, l.Currency, lang),
		Net: formatAmount(l.Net, l.Currency, lang), Class: string(l.Class), At: formatTime(l.At), HereStatus: l.HereStatus,
		Matched: l.Class == matcher.Matched}
	if l.OrderID != nil {
		out.OrderID = l.OrderID.String()
		out.OrderHref = basePath + "/payments/" + out.OrderID
	}
	if l.HereAmount != nil {
		out.HereAmount = formatAmount(*l.HereAmount, l.Currency, lang)
	}
	return out
}

func rdReopenOf(r ledger.DayReopen, u User) rdReopen {
	out := rdReopen{ID: strconv.FormatInt(r.ID, 10), Reason: r.Reason, By: staffName(r.RequestedBy), At: formatTime(r.RequestedAt),
		Status: r.Status, DecidedBy: staffName(r.DecidedBy), Note: r.DecisionNote, Mine: r.RequestedBy == staffActor(u)}
	if r.DecidedAt != nil {
		out.DecidedAt = formatTime(*r.DecidedAt)
	}
	return out
}

// rdRefused shows the day's page again with a form's error: at the top and,
// when the error belongs to a field, next to it.
func (h *Handler) rdRefused(c *fiber.Ctx, day time.Time, status int, field, msg string, form map[string]string) error {
	v, d, err := h.rdDayView(c, day)
	if err != nil {
		return h.fail(c, err)
	}
	v.Error = msg
	if field != "" {
		d.Errs[field] = msg
	}
	for k, x := range form {
		d.Form[k] = x
	}
	return h.render(c, status, "recon_day", v)
}

func (h *Handler) rdDone(c *fiber.Ctx, day time.Time, what string) error {
	return c.Redirect(basePath+"/reconciliation/"+dayKey(day)+"?done="+what, http.StatusSeeOther)
}

// rdDomainError shows a reconciliation or ledger refusal on the day's page,
// with the status the API would give it; anything else is a 500.
func (h *Handler) rdDomainError(c *fiber.Ctx, day time.Time, err error, field string, form map[string]string) error {
	v := h.newView(c, "rd.day")
	var ve *ledger.ValidationError
	switch {
	case errors.As(err, &ve), errors.Is(err, reconciliation.ErrInvalid), errors.Is(err, statement.ErrUnknownFormat),
		errors.Is(err, rawfile.ErrEmpty), errors.Is(err, rawfile.ErrTooLarge):
		return h.rdRefused(c, day, http.StatusUnprocessableEntity, field, rdMessage(v, err), form)
	case errors.Is(err, ledger.ErrReopenSelfApproval):
		return h.rdRefused(c, day, http.StatusForbidden, field, v.T("rd.err.self"), form)
	case errors.Is(err, reconciliation.ErrNotReconciled), errors.Is(err, ledger.ErrDayClosed), errors.Is(err, ledger.ErrDayNotClosed),
		errors.Is(err, ledger.ErrReopenPending), errors.Is(err, ledger.ErrRequestDecided), errors.Is(err, reconciliation.ErrAlreadyResolved),
		errors.Is(err, reconciliation.ErrAlreadyCarried), errors.Is(err, reconciliation.ErrPruned):
		return h.rdRefused(c, day, http.StatusConflict, field, rdMessage(v, err), form)
	case errors.Is(err, reconciliation.ErrExceptionNotFound), errors.Is(err, ledger.ErrReopenNotFound):
		return h.rdRefused(c, day, http.StatusNotFound, field, v.T("rd.err.notfound"), form)
	}
	return h.fail(c, err)
}

// rdMessage is a domain refusal for a person: the translated reason and
// the domain's own words.
func rdMessage(v *view, err error) string {
	for _, k := range []struct {
		err error
		key string
	}{
		{reconciliation.ErrNotReconciled, "rd.err.notreconciled"},
		{ledger.ErrDayClosed, "rd.err.closed"},
		{ledger.ErrDayNotClosed, "rd.err.notclosed"},
		{ledger.ErrReopenPending, "rd.err.pending"},
		{ledger.ErrRequestDecided, "rd.err.decided"},
		{reconciliation.ErrAlreadyResolved, "rd.err.resolved"},
		{reconciliation.ErrAlreadyCarried, "rd.err.carried"},
		{statement.ErrUnknownFormat, "rd.err.format"},
		{rawfile.ErrEmpty, "rd.err.empty"},
		{rawfile.ErrTooLarge, "rd.err.large"},
	} {
		if errors.Is(err, k.err) {
			return v.T(k.key) + " (" + err.Error() + ")"
		}
	}
	var ve *ledger.ValidationError
	if errors.As(err, &ve) {
		return v.T("rd.err.invalid", ve.Detail)
	}
	return v.T("rd.err.invalid", err.Error())
}

// formValue is a form field, trimmed, as a string of its own.
func formValue(c *fiber.Ctx, k string) string {
	return strings.Clone(strings.TrimSpace(c.FormValue(k)))
}

func (h *Handler) rdFetch(c *fiber.Ctx) error {
	day, ok := rdDate(c)
	if !ok {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rd.notfound")
	}
	src := formValue(c, "source")
	if !slices.Contains(append(slices.Clone(h.deps.Recon.Config().Gateways), reconciliation.SourceBank), src) {
		v := h.newView(c, "rd.day")
		return h.rdRefused(c, day, http.StatusUnprocessableEntity, "fetch.source", v.T("rd.err.source"), nil)
	}
	ctx, p := h.acting(c)
	res, err := h.deps.Recon.FetchNow(ctx, day, src, p.Actor())
	if err != nil {
		if len(res.Runs) == 0 {
			return h.rdDomainError(c, day, err, "fetch.source", nil)
		}
		// The runs are queued; the fetch itself failed (the file is not
		// there, the gateway did not answer): say so, with what was done.
		h.log.WarnContext(c.UserContext(), "console: fetch now failed", "date", dayKey(day), "source", src, "err", err)
		v := h.newView(c, "rd.day")
		return h.rdRefused(c, day, http.StatusBadGateway, "fetch.source", v.T("rd.err.fetch", err.Error()), nil)
	}
	return h.rdDone(c, day, "fetch")
}

func (h *Handler) rdUpload(c *fiber.Ctx) error {
	day, ok := rdDate(c)
	if !ok {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rd.notfound")
	}
	v := h.newView(c, "rd.day")
	// Whether the file may be taken is the file's own business date's to
	// say, not this page's: Import refuses a file of a closed day
	// (ledger.ErrDayClosed, naming it), under the day's closing lock.
	fh, err := c.FormFile("file")
	if err != nil {
		return h.rdRefused(c, day, http.StatusUnprocessableEntity, "upload.file", v.T("rd.err.nofile"), nil)
	}
	name := strings.Clone(fh.Filename)
	if strings.ContainsRune(name, 0) || !utf8.ValidString(name) || len(name) > 255 {
		return h.rdRefused(c, day, http.StatusUnprocessableEntity, "upload.file", v.T("rd.err.filename"), nil)
	}
	f, err := fh.Open()
	if err != nil {
		return h.fail(c, fmt.Errorf("console: upload: %w", err))
	}
	defer f.Close()
	ctx, p := h.acting(c)
	// The same import as POST /v1/statements: stored, audited, its load queued.
	if _, err := h.deps.Recon.Import(ctx, f, rawfile.Meta{Name: name, Source: rawfile.SourceUpload, ReceivedBy: p.Actor()}); err != nil {
		return h.rdDomainError(c, day, err, "upload.file", nil)
	}
	return h.rdDone(c, day, "upload")
}

func (h *Handler) rdClose(c *fiber.Ctx) error {
	day, ok := rdDate(c)
	if !ok {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rd.notfound")
	}
	note := formValue(c, "note")
	ctx, p := h.acting(c)
	if _, err := h.deps.Recon.CloseDay(ctx, day, p.Actor(), note); err != nil {
		return h.rdDomainError(c, day, err, "close.note", map[string]string{"close.note": note})
	}
	return h.rdDone(c, day, "close")
}

func (h *Handler) rdCarry(c *fiber.Ctx) error {
	day, ok := rdDate(c)
	if !ok {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rd.notfound")
	}
	id, err := strconv.ParseInt(c.FormValue("exception"), 10, 64)
	v := h.newView(c, "rd.day")
	if err != nil || id <= 0 {
		return h.rdRefused(c, day, http.StatusUnprocessableEntity, "", v.T("rd.err.notfound"), nil)
	}
	field := "carry." + strconv.FormatInt(id, 10)
	note := formValue(c, "note")
	if note == "" {
		return h.rdRefused(c, day, http.StatusUnprocessableEntity, field, v.T("rd.err.carrynote"), nil)
	}
	// Only an exception of this day is carried from its page.
	ex, err := h.deps.Recon.Exception(c.UserContext(), id)
	if errors.Is(err, reconciliation.ErrExceptionNotFound) || (err == nil && ex.BusinessDate != dayKey(day)) {
		return h.rdRefused(c, day, http.StatusNotFound, "", v.T("rd.err.notfound"), nil)
	}
	if err != nil {
		return h.fail(c, err)
	}
	ctx, p := h.acting(c)
	if _, err := h.deps.Recon.CarryForward(ctx, id, note, p.Actor()); err != nil {
		return h.rdDomainError(c, day, err, field, map[string]string{field: note})
	}
	return h.rdDone(c, day, "carry")
}

func (h *Handler) rdReopen(c *fiber.Ctx) error {
	day, ok := rdDate(c)
	if !ok {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rd.notfound")
	}
	reason := formValue(c, "reason")
	ctx, p := h.acting(c)
	if _, err := h.deps.Recon.RequestReopen(ctx, day, p.Actor(), reason); err != nil {
		return h.rdDomainError(c, day, err, "reopen.reason", map[string]string{"reopen.reason": reason})
	}
	return h.rdDone(c, day, "reopen")
}

func (h *Handler) rdDecide(c *fiber.Ctx) error {
	day, ok := rdDate(c)
	if !ok {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rd.notfound")
	}
	id, err := strconv.ParseInt(c.Params("rid"), 10, 64)
	if err != nil {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rd.notfound")
	}
	// Only a request of this day is decided from its page.
	pending, err := h.deps.Recon.PendingReopen(c.UserContext(), day)
	if err != nil {
		return h.fail(c, err)
	}
	v := h.newView(c, "rd.day")
	if pending == nil || pending.ID != id {
		return h.rdRefused(c, day, http.StatusConflict, "", v.T("rd.err.decided"), nil)
	}
	approve := c.Params("decision") == "approve"
	note := formValue(c, "note")
	ctx, p := h.acting(c)
	if _, err := h.deps.Recon.DecideReopen(ctx, id, p.Actor(), approve, note); err != nil {
		return h.rdDomainError(c, day, err, "decide.note", map[string]string{"decide.note": note})
	}
	if approve {
		return h.rdDone(c, day, "approve")
	}
	return h.rdDone(c, day, "reject")
}

// rdReport downloads a closed day's report; a day not closed has none (404).
func (h *Handler) rdReport(format string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		day, ok := rdDate(c)
		if !ok {
			return h.errorPage(c, http.StatusNotFound, "e404.title", "rd.notfound")
		}
		r, err := h.deps.Recon.DayReport(c.UserContext(), day)
		if errors.Is(err, ledger.ErrDayNotClosed) {
			return h.errorPage(c, http.StatusNotFound, "e404.title", "rd.noreport")
		}
		if err != nil {
			return h.fail(c, err)
		}
		lang := reconciliation.ReportVI
		if h.pickLang(c) == langEN {
			lang = reconciliation.ReportEN
		}
		var buf bytes.Buffer
		ct := "application/pdf"
		if format == "pdf" {
			err = reconciliation.WriteDayReportPDF(&buf, r, lang)
		} else {
			ct = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
			err = reconciliation.WriteDayReportXLSX(&buf, r, lang)
		}
		if err != nil {
			return h.fail(c, err)
		}
		c.Set(fiber.HeaderContentType, ct)
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="civicpay-day-%s.%s"`, r.Date, format))
		return c.Send(buf.Bytes())
	}
}
