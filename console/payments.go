package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/csvsafe"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/reference"
)

// paymentsQuery is the list's filter as typed into its GET form, kept to
// fill the form again and to build the next page's and the exports' links.
type paymentsQuery struct {
	Reference, Status, From, To, Service, Gateway, Min, Max, Name, Phone string
}

func queryOf(c *fiber.Ctx) paymentsQuery {
	q := func(k string) string { return strings.TrimSpace(c.Query(k)) }
	return paymentsQuery{Reference: q("reference"), Status: q("status"), From: q("from"), To: q("to"),
		Service: q("service"), Gateway: q("gateway"), Min: q("min"), Max: q("max"), Name: q("name"), Phone: q("phone")}
}

// Values is the query as URL parameters (the empty ones left out).
func (q paymentsQuery) Values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{{"reference", q.Reference}, {"status", q.Status}, {"from", q.From}, {"to", q.To},
		{"service", q.Service}, {"gateway", q.Gateway}, {"min", q.Min}, {"max", q.Max}, {"name", q.Name}, {"phone", q.Phone}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v
}

// NormalizeReference reads a reference as a person types it: spaces
// anywhere, any letter case. A well-formed one comes back canonical
// (reference.Parse); anything else upper-cased without spaces, to match
// nothing rather than fail.
func NormalizeReference(s string) string {
	if ref, err := reference.Parse(s); err == nil {
		return ref
	}
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// filterError is a filter field the list cannot read, by message key.
type filterError struct{ field, key string }

func (e filterError) Error() string { return e.field + ": " + e.key }

// filter turns the query into the payments list filter for u: an agency
// user's is always scoped to its agency (orders with a line of it), as the
// API scopes an agency key's.
func (q paymentsQuery) filter(u User) (payments.ListFilter, error) {
	f := payments.ListFilter{ServiceCode: strings.ToUpper(q.Service), Gateway: strings.ToLower(q.Gateway),
		PayerName: q.Name, PayerPhone: strings.Join(strings.Fields(q.Phone), "")}
	if u.Role == RoleAgency {
		f.AgencyCode = u.AgencyCode
	}
	if q.Reference != "" {
		f.Reference = NormalizeReference(q.Reference)
	}
	if q.Status != "" {
		st, ok := payments.ParseStatus(q.Status)
		if !ok {
			return f, filterError{"status", "pay.bad.status"}
		}
		f.Status = st
	}
	// from and to are business days (GMT+7), both included.
	if q.From != "" {
		d, err := bizday.Parse(q.From)
		if err != nil {
			return f, filterError{"from", "pay.bad.date"}
		}
		f.From = &d
	}
	if q.To != "" {
		d, err := bizday.Parse(q.To)
		if err != nil {
			return f, filterError{"to", "pay.bad.date"}
		}
		next := d.AddDate(0, 0, 1)
		f.To = &next
	}
	for _, a := range []struct {
		s   string
		dst **decimal.Decimal
	}{{q.Min, &f.MinTotal}, {q.Max, &f.MaxTotal}} {
		if a.s == "" {
			continue
		}
		d, err := decimal.NewFromString(strings.ReplaceAll(a.s, " ", ""))
		if err != nil || d.IsNegative() {
			return f, filterError{"amount", "pay.bad.amount"}
		}
		*a.dst = &d
	}
	return f, nil
}

// orderRow is an order as the list and the exports show it.
type orderRow struct {
	ID, Reference, Created, Status, Agencies, Services, Payer, Phone, Currency, Total, Paid, Refunded string
	StatusName                                                                                        string // Status in the page's language
}

func rowOf(o payments.Order, lang string) orderRow {
	var services []string
	for _, l := range o.Lines {
		services = append(services, l.ServiceCode)
	}
	return orderRow{ID: o.ID.String(), Reference: o.Reference, Created: formatTime(o.CreatedAt), Status: string(o.Status),
		Agencies: strings.Join(o.Agencies(), " "), Services: strings.Join(services, " "), Payer: o.Payer.Name,
		Phone: o.Payer.Phone, Currency: o.Currency, Total: formatAmount(o.Total, o.Currency, lang),
		Paid: formatAmount(o.AmountPaid, o.Currency, lang), Refunded: formatAmount(o.AmountRefunded, o.Currency, lang),
		StatusName: tr(lang, "status."+string(o.Status))}
}

// exportHeader and exportRecord are the exports' columns: amounts as plain
// decimals (a spreadsheet reads them), times in GMT+7.
var exportHeader = []string{"id", "reference", "created_at", "status", "agencies", "services", "payer_name",
	"payer_phone", "currency", "total", "amount_paid", "amount_refunded"}

func exportRecord(o payments.Order) []string {
	r := rowOf(o, langEN)
	return []string{r.ID, r.Reference, o.CreatedAt.In(bizday.Zone).Format(time.RFC3339), r.Status, r.Agencies,
		r.Services, r.Payer, r.Phone, r.Currency, o.Total.String(), o.AmountPaid.String(), o.AmountRefunded.String()}
}

type paymentsData struct {
	Query    paymentsQuery
	Statuses []string
	Rows     []orderRow
	Next     string // the next page's link, "" on the last
	CSV      string
	XLSX     string
}

var statusNames = []string{"open", "paid", "partially_refunded", "refunded", "cancelled", "expired"}

func (h *Handler) paymentsList(c *fiber.Ctx) error {
	cu := cur(c)
	v := h.newView(c, "nav.payments")
	v.Nav = nav(cu.user, "payments")
	q := queryOf(c)
	d := paymentsData{Query: q, Statuses: statusNames}
	params := q.Values().Encode()
	d.CSV, d.XLSX = basePath+"/payments/export.csv?"+params, basePath+"/payments/export.xlsx?"+params
	v.Data = &d
	f, err := q.filter(cu.user)
	if err != nil {
		var fe filterError
		if errors.As(err, &fe) {
			v.Error = v.T(fe.key)
			return h.render(c, http.StatusBadRequest, "payments", v)
		}
		return h.fail(c, err)
	}
	if s := c.Query("cursor"); s != "" {
		cursor, err := payments.ParseCursor(s)
		if err != nil {
			v.Error = v.T("pay.bad.cursor")
			return h.render(c, http.StatusBadRequest, "payments", v)
		}
		f.After = &cursor
	}
	f.Limit = h.cfg.PageSize
	orders, err := payments.ListOrders(c.UserContext(), h.reports(), f)
	if err != nil {
		return h.fail(c, fmt.Errorf("console: payments list: %w", err))
	}
	for _, o := range orders {
		d.Rows = append(d.Rows, rowOf(o, v.Lang))
	}
	if len(orders) == f.Limit {
		last := orders[len(orders)-1]
		next := q.Values()
		next.Set("cursor", payments.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}.Encode())
		d.Next = basePath + "/payments?" + next.Encode()
	}
	return h.render(c, http.StatusOK, "payments", v)
}

// eachOrder calls fn with every order f selects, in list order, reading
// Config.ExportBatch at a time by keyset.
func (h *Handler) eachOrder(ctx context.Context, f payments.ListFilter, fn func(payments.Order) error) error {
	f.Limit = h.cfg.ExportBatch
	for {
		orders, err := payments.ListOrders(ctx, h.reports(), f)
		if err != nil {
			return err
		}
		for _, o := range orders {
			if err := fn(o); err != nil {
				return err
			}
		}
		if len(orders) < f.Limit {
			return nil
		}
		last := orders[len(orders)-1]
		f.After = &payments.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
}

// export checks the filter, audits the export (who, which format, which
// filter) and then streams the file write makes.
func (h *Handler) export(format, contentType string, write func(ctx context.Context, w *bufio.Writer, f payments.ListFilter) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		cu := cur(c)
		q := queryOf(c)
		f, err := q.filter(cu.user)
		if err != nil {
			var fe filterError
			if errors.As(err, &fe) {
				return h.errorPage(c, http.StatusBadRequest, "nav.payments", fe.key)
			}
			return h.fail(c, err)
		}
		scope := "all"
		if f.AgencyCode != "" {
			scope = f.AgencyCode
		}
		ctx := audit.WithActor(c.UserContext(), actorFor(cu.user, h.client(c)))
		if err := audit.Record(ctx, h.pool, audit.Event{Action: "payments.export", ResourceType: "orders", ResourceID: format,
			After: map[string]any{"format": format, "scope": scope, "filter": q.Values()}}); err != nil {
			return h.fail(c, fmt.Errorf("console: audit export: %w", err))
		}
		name := "payments-" + bizday.Date(h.clock.Now()).Format("20060102") + "." + format
		c.Set(fiber.HeaderContentType, contentType)
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
		// The stream is written after this handler returns: it takes its own context.
		bg, log := context.WithoutCancel(c.UserContext()), h.log
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			if err := write(bg, w, f); err != nil {
				log.Error("console: payments export broke off", "format", format, "error", err)
			}
			_ = w.Flush()
		})
		return nil
	}
}

func (h *Handler) writeCSV(ctx context.Context, w *bufio.Writer, f payments.ListFilter) error {
	out := csvsafe.NewWriter(w)
	if err := out.Write(exportHeader); err != nil {
		return err
	}
	err := h.eachOrder(ctx, f, func(o payments.Order) error { return out.Write(exportRecord(o)) })
	out.Flush()
	if err != nil {
		return err
	}
	return out.Error()
}

func (h *Handler) writeXLSX(ctx context.Context, w *bufio.Writer, f payments.ListFilter) error {
	x := excelize.NewFile()
	defer x.Close()
	sw, err := x.NewStreamWriter("Sheet1")
	if err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	row := 1
	put := func(cells []string) error {
		vals := make([]any, len(cells))
		for i, s := range cells {
			vals[i] = s
		}
		cell, err := excelize.CoordinatesToCellName(1, row)
		if err != nil {
			return err
		}
		row++
		return sw.SetRow(cell, vals)
	}
	if err := put(exportHeader); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	if err := h.eachOrder(ctx, f, func(o payments.Order) error { return put(exportRecord(o)) }); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	return x.Write(w)
}
