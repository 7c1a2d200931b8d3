package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/csvsafe"
	"github.com/civicpay/civicpay/ledger"
)

// The revenue section: revenue by day, service, channel or agency over a
// range of business days (GMT+7), as a chart, a table and CSV and XLSX
// downloads. Every figure comes from ledger.Revenue, the function behind
// GET /v1/revenue, called with the query the API would build for the same
// filter: the page and the API cannot disagree. An agency user's query is
// always its own agency's (page and downloads), as an agency key's is.

func init() {
	templates["revenue"] = template.Must(template.ParseFS(files, "templates/layout.html", "templates/revenue.html"))
}

func (h *Handler) revenueRoutes(in fiber.Router) {
	in.Get("/revenue", h.revenuePage)
	in.Get("/revenue/export.csv", h.revenueExport("csv"))
	in.Get("/revenue/export.xlsx", h.revenueExport("xlsx"))
}

// revenueGroups are the "group by" choices, in the form's order.
var revenueGroups = []ledger.Dimension{ledger.ByDay, ledger.ByService, ledger.ByChannel, ledger.ByAgency}

// maxRevenueDays bounds the range a page or a download covers.
const maxRevenueDays = 366

// revenueDefaultDays is the range shown when none is asked for: the last 30
// business days, today included (the dashboard's "last 30 days").
const revenueDefaultDays = 30

// agencyCodeRE is what the ledger accepts as an agency code (ledger/account.go).
var agencyCodeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// revenueForm is the filter as the form shows it; From and To are business
// days, both included, filled in with the defaults when left out, so that
// the download links name the range the page shows.
type revenueForm struct {
	GroupBy, From, To, Agency string
}

func (f revenueForm) values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{{"group_by", f.GroupBy}, {"from", f.From}, {"to", f.To}, {"agency", f.Agency}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v
}

// errAgencyHidden is an agency user asking for another agency's revenue: a
// 404, as on the API.
var errAgencyHidden = errors.New("console: another agency's revenue")

// revenueFilter reads the query as the filter for u. Field errors come back
// as message keys by field; an agency user naming another agency is
// errAgencyHidden.
func (h *Handler) revenueFilter(c *fiber.Ctx, u User) (revenueForm, ledger.RevenueQuery, map[string]string, error) {
	q := func(k string) string { return strings.Clone(strings.TrimSpace(c.Query(k))) }
	f := revenueForm{GroupBy: q("group_by"), From: q("from"), To: q("to"), Agency: strings.ToUpper(q("agency"))}
	var rq ledger.RevenueQuery
	bad := map[string]string{}
	if f.GroupBy == "" {
		f.GroupBy = string(ledger.ByDay)
	}
	if d, ok := ledger.ParseDimension(f.GroupBy); ok {
		rq.GroupBy = []ledger.Dimension{d}
	} else {
		bad["group_by"] = "rev.bad.group"
	}
	today := bizday.Start(h.clock.Now())
	last, first := today, today.AddDate(0, 0, 1-revenueDefaultDays)
	if f.To != "" {
		d, err := bizday.Parse(f.To)
		if err != nil {
			bad["to"] = "rev.bad.date"
		}
		last = d
		if f.From == "" {
			first = d.AddDate(0, 0, 1-revenueDefaultDays)
		}
	}
	if f.From != "" {
		d, err := bizday.Parse(f.From)
		if err != nil {
			bad["from"] = "rev.bad.date"
		}
		first = d
	}
	if bad["from"] == "" && bad["to"] == "" {
		f.From, f.To = first.Format(time.DateOnly), last.Format(time.DateOnly)
		switch {
		case last.Before(first):
			bad["to"] = "rev.bad.range"
		case last.Sub(first) >= maxRevenueDays*24*time.Hour:
			bad["to"] = "rev.bad.span"
		}
		rq.From, rq.To = first.UTC(), last.AddDate(0, 0, 1).UTC()
	}
	if u.Role == RoleAgency {
		if f.Agency != "" && f.Agency != strings.ToUpper(u.AgencyCode) {
			return f, rq, nil, errAgencyHidden
		}
		f.Agency = ""
		rq.Agency = u.AgencyCode
	} else if f.Agency != "" {
		if agencyCodeRE.MatchString(f.Agency) {
			rq.Agency = f.Agency
		} else {
			bad["agency"] = "rev.bad.agency"
		}
	}
	if len(bad) > 0 {
		return f, rq, bad, nil
	}
	return f, rq, nil, nil
}

// filterMessage is the message of a filter error key, in v's language.
func filterMessage(v *view, key string) string {
	if key == "rev.bad.span" {
		return v.T(key, maxRevenueDays)
	}
	return v.T(key)
}

// readRevenue is every row and the totals of q, from ledger.Revenue.
func (h *Handler) readRevenue(ctx context.Context, q ledger.RevenueQuery) ([]ledger.RevenueRow, []ledger.RevenueRow, error) {
	var rows []ledger.RevenueRow
	var totals ledger.RevenueTotals
	err := ledger.Revenue(ctx, h.reports(), q, func(r ledger.RevenueRow) error {
		rows = append(rows, r)
		totals.Add(r)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("console: revenue: %w", err)
	}
	return rows, totals.Rows(), nil
}

// groupKey is the row's value of the dimension grouped by.
func groupKey(r ledger.RevenueRow, d ledger.Dimension) string {
	switch d {
	case ledger.ByDay:
		return r.Day
	case ledger.ByAgency:
		return r.Agency
	case ledger.ByService:
		return r.Service
	case ledger.ByChannel:
		return r.Channel
	}
	return ""
}

// revenueLine is a row of the table, formatted.
type revenueLine struct {
	Key, Currency, Gross, Refunds, Adjustments, Net, Postings string
}

func lineOf(key string, r ledger.RevenueRow, lang string) revenueLine {
	return revenueLine{Key: key, Currency: r.Currency, Gross: formatAmount(r.Gross, r.Currency, lang),
		Refunds: formatAmount(r.Refunds, r.Currency, lang), Adjustments: formatAmount(r.Adjustments, r.Currency, lang),
		Net: formatAmount(r.Net, r.Currency, lang), Postings: strconv.FormatInt(r.Postings, 10)}
}

type groupChoice struct {
	Key      string
	Selected bool
}

type revenueData struct {
	Form      revenueForm
	Errors    map[string]string // field → translated message
	Groups    []groupChoice
	Locked    bool   // an agency user: held to its agency, no agency field
	Agency    string // the agency the figures are of ("": all), once the filter is read
	Agencies  []string
	Column    string // message key of the group's column
	GroupName string // the group in lower case, for the caption
	Rows      []revenueLine
	Totals    []revenueLine
	Charts    []template.HTML
	Shown     bool // the filter was read and the figures are below
	CSV, XLSX string
	Span      string
}

func (h *Handler) revenuePage(c *fiber.Ctx) error {
	cu := cur(c)
	v := h.newView(c, "nav.revenue")
	v.Nav = nav(cu.user, "revenue")
	form, q, bad, err := h.revenueFilter(c, cu.user)
	if errors.Is(err, errAgencyHidden) {
		return h.errorPage(c, http.StatusNotFound, "e404.title", "rev.notfound")
	}
	d := &revenueData{Form: form}
	v.Data = d
	for _, g := range revenueGroups {
		d.Groups = append(d.Groups, groupChoice{Key: string(g), Selected: string(g) == form.GroupBy})
	}
	if cu.user.Role == RoleAgency {
		d.Locked = true
	} else if h.deps.Catalog != nil {
		// Suggestions for the agency field; the field takes any code.
		list, err := h.deps.Catalog.Agencies(c.UserContext())
		if err != nil {
			return h.fail(c, fmt.Errorf("console: revenue agencies: %w", err))
		}
		for _, a := range list {
			d.Agencies = append(d.Agencies, a.Code)
		}
	}
	if len(bad) > 0 {
		d.Errors = map[string]string{}
		for field, key := range bad {
			d.Errors[field] = filterMessage(v, key)
		}
		v.Error = v.T("rev.fix")
		return h.render(c, http.StatusUnprocessableEntity, "revenue", v)
	}
	rows, totals, err := h.readRevenue(c.UserContext(), q)
	if err != nil {
		return h.fail(c, err)
	}
	dim := q.GroupBy[0]
	d.Agency = q.Agency
	params := form.values().Encode()
	d.Shown, d.CSV, d.XLSX = true, basePath+"/revenue/export.csv?"+params, basePath+"/revenue/export.xlsx?"+params
	d.Column = "rev.group." + string(dim)
	d.Span = form.From
	if form.To != form.From {
		d.Span += " – " + form.To
	}
	for _, r := range rows {
		d.Rows = append(d.Rows, lineOf(groupKey(r, dim), r, v.Lang))
	}
	for _, r := range totals {
		d.Totals = append(d.Totals, lineOf(v.T("rev.total"), r, v.Lang))
	}
	d.GroupName = strings.ToLower(v.T("rev.group." + string(dim)))
	for i, cc := range chartSeries(rows, dim, q) {
		d.Charts = append(d.Charts, netChart(fmt.Sprintf("rev-chart-%d", i+1), v,
			v.T("rev.chart.title", d.GroupName, cc.currency), cc, d.Span).SVG())
	}
	return h.render(c, http.StatusOK, "revenue", v)
}

// series is one currency's net per group, in the rows' order.
type series struct {
	currency string
	labels   []string
	net      []decimal.Decimal
}

// chartSeries splits rows by currency (amounts of two currencies are never
// drawn against each other). By day, every business day of the range has its
// bar, 0 where nothing was posted: a gap in time would mislead.
func chartSeries(rows []ledger.RevenueRow, dim ledger.Dimension, q ledger.RevenueQuery) []series {
	var out []series
	idx := map[string]int{}
	for _, r := range rows {
		i, ok := idx[r.Currency]
		if !ok {
			i = len(out)
			idx[r.Currency] = i
			out = append(out, series{currency: r.Currency})
		}
		out[i].labels = append(out[i].labels, groupKey(r, dim))
		out[i].net = append(out[i].net, r.Net)
	}
	if dim != ledger.ByDay {
		return out
	}
	for i, s := range out {
		byDay := map[string]decimal.Decimal{}
		for j, l := range s.labels {
			byDay[l] = s.net[j]
		}
		filled := series{currency: s.currency}
		for day := q.From.In(bizday.Zone); day.Before(q.To); day = day.AddDate(0, 0, 1) {
			l := day.Format(time.DateOnly)
			filled.labels = append(filled.labels, l)
			filled.net = append(filled.net, byDay[l])
		}
		out[i] = filled
	}
	return out
}

// netChart is s drawn as bars, described in v's language: the range, the
// highest and lowest bars, and that the table has every figure.
func netChart(id string, v *view, title string, s series, span string) barChart {
	ch := barChart{ID: id, Title: title}
	hi, lo := -1, -1
	for i, n := range s.net {
		ch.Bars = append(ch.Bars, bar{Label: s.labels[i], Value: n.InexactFloat64(), Text: formatAmount(n, s.currency, v.Lang)})
		if hi < 0 || n.GreaterThan(s.net[hi]) {
			hi = i
		}
		if lo < 0 || n.LessThan(s.net[lo]) {
			lo = i
		}
	}
	if hi < 0 {
		ch.Desc = v.T("chart.empty", span)
		return ch
	}
	ch.Desc = v.T("chart.desc", span, len(s.net), s.labels[hi], ch.Bars[hi].Text, s.labels[lo], ch.Bars[lo].Text)
	return ch
}

// revenueHeader and revenueRecord are the downloads' columns: those of GET
// /v1/revenue's CSV (a "group" row per group, then a "total" row per
// currency), amounts as plain decimals.
var revenueHeader = []string{"row", "day", "agency", "service", "channel", "currency", "gross", "refunds", "adjustments", "net", "postings"}

func revenueRecord(kind string, r ledger.RevenueRow) []any {
	return []any{kind, r.Day, r.Agency, r.Service, r.Channel, r.Currency, r.Gross, r.Refunds, r.Adjustments, r.Net, r.Postings}
}

// revenueExport serves the filtered revenue as a download, after an audit
// row naming who, which format and which filter (the scope included).
func (h *Handler) revenueExport(format string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		cu := cur(c)
		form, q, bad, err := h.revenueFilter(c, cu.user)
		if errors.Is(err, errAgencyHidden) {
			return h.errorPage(c, http.StatusNotFound, "e404.title", "rev.notfound")
		}
		if len(bad) > 0 {
			for _, g := range []string{"group_by", "from", "to", "agency"} {
				if key := bad[g]; key != "" {
					v := h.newView(c, "nav.revenue")
					v.Nav = nav(cu.user, "revenue")
					v.Data = filterMessage(v, key)
					return h.render(c, http.StatusUnprocessableEntity, "error", v)
				}
			}
		}
		rows, totals, err := h.readRevenue(c.UserContext(), q)
		if err != nil {
			return h.fail(c, err)
		}
		scope := "all"
		if q.Agency != "" {
			scope = q.Agency
		}
		ctx := audit.WithActor(c.UserContext(), actorFor(cu.user, h.client(c)))
		if err := audit.Record(ctx, h.pool, audit.Event{Action: "revenue.export", ResourceType: "revenue", ResourceID: format,
			After: map[string]any{"format": format, "scope": scope, "filter": form.values()}}); err != nil {
			return h.fail(c, fmt.Errorf("console: audit revenue export: %w", err))
		}
		var buf bytes.Buffer
		contentType := "text/csv; charset=utf-8"
		if format == "xlsx" {
			contentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
			err = writeRevenueXLSX(&buf, rows, totals)
		} else {
			err = writeRevenueCSV(&buf, rows, totals)
		}
		if err != nil {
			return h.fail(c, err)
		}
		name := "revenue-" + strings.ReplaceAll(form.From, "-", "") + "-" + strings.ReplaceAll(form.To, "-", "") + "." + format
		c.Set(fiber.HeaderContentType, contentType)
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
		return c.Send(buf.Bytes())
	}
}

// cellText is a download cell as text: decimals in full.
func cellText(x any) string {
	switch v := x.(type) {
	case string:
		return v
	case decimal.Decimal:
		return v.String()
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return fmt.Sprint(x)
}

func writeRevenueCSV(w *bytes.Buffer, rows, totals []ledger.RevenueRow) error {
	out := csvsafe.NewWriter(w)
	put := func(cells []any) {
		rec := make([]string, len(cells))
		for i, x := range cells {
			rec[i] = cellText(x)
		}
		_ = out.Write(rec) // an error stays in out.Error
	}
	put(anyOf(revenueHeader))
	for _, r := range rows {
		put(revenueRecord("group", r))
	}
	for _, r := range totals {
		put(revenueRecord("total", r))
	}
	out.Flush()
	if err := out.Error(); err != nil {
		return fmt.Errorf("console: revenue csv: %w", err)
	}
	return nil
}

// writeRevenueXLSX writes amounts as numbers a spreadsheet can add up when
// a float64 holds them exactly, as text otherwise (no digit is lost).
func writeRevenueXLSX(w *bytes.Buffer, rows, totals []ledger.RevenueRow) error {
	x := excelize.NewFile()
	defer x.Close()
	const sheet = "Sheet1"
	if err := x.SetSheetName(sheet, "Revenue"); err != nil {
		return fmt.Errorf("console: revenue xlsx: %w", err)
	}
	sw, err := x.NewStreamWriter("Revenue")
	if err != nil {
		return fmt.Errorf("console: revenue xlsx: %w", err)
	}
	row := 1
	put := func(cells []any) error {
		vals := make([]any, len(cells))
		for i, c := range cells {
			switch v := c.(type) {
			case decimal.Decimal:
				if f := v.InexactFloat64(); decimal.NewFromFloat(f).Equal(v) {
					vals[i] = f
				} else {
					vals[i] = v.String()
				}
			default:
				vals[i] = c
			}
		}
		cell, err := excelize.CoordinatesToCellName(1, row)
		if err != nil {
			return err
		}
		row++
		return sw.SetRow(cell, vals)
	}
	if err := put(anyOf(revenueHeader)); err != nil {
		return fmt.Errorf("console: revenue xlsx: %w", err)
	}
	for _, r := range rows {
		if err := put(revenueRecord("group", r)); err != nil {
			return fmt.Errorf("console: revenue xlsx: %w", err)
		}
	}
	for _, r := range totals {
		if err := put(revenueRecord("total", r)); err != nil {
			return fmt.Errorf("console: revenue xlsx: %w", err)
		}
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("console: revenue xlsx: %w", err)
	}
	if err := x.Write(w); err != nil {
		return fmt.Errorf("console: revenue xlsx: %w", err)
	}
	return nil
}

func anyOf(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
