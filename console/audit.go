package console

import (
	"bufio"
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/csvsafe"
)

// auditPageSize is the audit page's rows per page.
const auditPageSize = 50

// auditRoles may read the audit log, as on GET /v1/audit: the admin to
// account for its own changes, treasury to check them.
var auditRoles = []Role{RoleTreasury, RoleAdmin}

func init() {
	templates["audit"] = template.Must(template.ParseFS(files, "templates/layout.html", "templates/audit.html"))
	for k, m := range auditMessages {
		messages[k] = m
	}
}

var auditMessages = map[string]message{
	"nav.audit":           {"Nhật ký kiểm toán", "Audit log"},
	"nav.jobs":            {"Tác vụ nền", "Jobs"},
	"audit.title":         {"Nhật ký kiểm toán", "Audit log"},
	"audit.actor":         {"Người thực hiện", "Actor"},
	"audit.action":        {"Thao tác", "Action"},
	"audit.resource_type": {"Loại đối tượng", "Target type"},
	"audit.resource_id":   {"Mã đối tượng", "Target id"},
	"audit.from":          {"Từ ngày (GMT+7)", "From (GMT+7)"},
	"audit.to":            {"Đến ngày (GMT+7)", "To (GMT+7)"},
	"audit.filter":        {"Lọc", "Filter"},
	"audit.at":            {"Thời điểm", "At"},
	"audit.route":         {"Từ", "From"},
	"audit.none":          {"Không có mục nào.", "No entries."},
	"audit.next":          {"Trang sau", "Next page"},
	"audit.first":         {"Trang đầu", "First page"},
	"audit.csv":           {"Tải CSV (toàn bộ danh sách đã lọc)", "Download CSV (the whole filtered list)"},
	"audit.bad_date":      {"Ngày phải có dạng YYYY-MM-DD.", "Dates are YYYY-MM-DD."},
	"audit.bad_range":     {"Ngày kết thúc không được trước ngày bắt đầu.", "The end date may not be before the start date."},
	"audit.bad_field":     {"Mỗi bộ lọc tối đa 200 ký tự.", "Each filter is at most 200 characters."},
	"audit.bad_cursor":    {"Liên kết trang không hợp lệ.", "The page link is not valid."},
}

func (h *Handler) auditRoutes(in fiber.Router) {
	in.Get("/audit", h.auditPage)
	in.Get("/audit.csv", h.auditCSV)
}

// auditForm is the page's filter form, as the query gave it.
type auditForm struct {
	Actor, Action, ResourceType, ResourceID, From, To string
}

// values is f as a query string (empty fields left out).
func (f auditForm) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"actor": f.Actor, "action": f.Action, "resource_type": f.ResourceType,
		"resource_id": f.ResourceID, "from": f.From, "to": f.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

type auditRow struct {
	audit.Entry
	When string
}

type auditData struct {
	Form          auditForm
	Rows          []auditRow
	Next, CSV     string
	Paged         bool // not the first page
	FirstPageHref string
}

// auditFilter reads the filters of the query; the string is the message key
// of what is wrong with them.
func auditFilter(c *fiber.Ctx) (auditForm, audit.Filter, string) {
	q := func(k string) string { return strings.Clone(strings.TrimSpace(c.Query(k))) }
	form := auditForm{Actor: q("actor"), Action: q("action"), ResourceType: q("resource_type"),
		ResourceID: q("resource_id"), From: q("from"), To: q("to")}
	f := audit.Filter{Actor: form.Actor, Action: form.Action, ResourceType: form.ResourceType, ResourceID: form.ResourceID}
	for _, s := range []string{f.Actor, f.Action, f.ResourceType, f.ResourceID} {
		if len(s) > 200 {
			return form, f, "audit.bad_field"
		}
	}
	if form.From != "" {
		t, err := bizday.Parse(form.From)
		if err != nil {
			return form, f, "audit.bad_date"
		}
		f.From = t
	}
	if form.To != "" {
		t, err := bizday.Parse(form.To)
		if err != nil {
			return form, f, "audit.bad_date"
		}
		f.To = t.AddDate(0, 0, 1) // the whole of the last day
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return form, f, "audit.bad_range"
	}
	return form, f, ""
}

func (h *Handler) mayReadAudit(c *fiber.Ctx) bool {
	return section{key: "audit", roles: auditRoles}.allows(cur(c).user.Role)
}

func (h *Handler) auditPage(c *fiber.Ctx) error {
	if !h.mayReadAudit(c) {
		return h.errorPage(c, http.StatusForbidden, "e403.title", "e403.role")
	}
	cu := cur(c)
	v := h.newView(c, "audit.title")
	v.Nav = nav(cu.user, "audit")
	form, f, bad := auditFilter(c)
	d := auditData{Form: form}
	v.Data = &d
	if s := c.Query("cursor"); s != "" && bad == "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			bad = "audit.bad_cursor"
		}
		f.Before, d.Paged = n, true
	}
	if bad != "" {
		v.Error = v.T(bad)
		return h.render(c, http.StatusBadRequest, "audit", v)
	}
	f.Limit = auditPageSize + 1 // one more says whether there is a next page
	entries, err := audit.List(c.UserContext(), h.reports(), f)
	if err != nil {
		return h.fail(c, err)
	}
	vals := form.values()
	if len(entries) > auditPageSize {
		entries = entries[:auditPageSize]
		next := form.values()
		next.Set("cursor", strconv.FormatInt(entries[auditPageSize-1].ID, 10))
		d.Next = basePath + "/audit?" + next.Encode()
	}
	for _, e := range entries {
		d.Rows = append(d.Rows, auditRow{Entry: e, When: e.At.In(bizday.Zone).Format("2006-01-02 15:04:05")})
	}
	d.CSV = basePath + "/audit.csv"
	d.FirstPageHref = basePath + "/audit"
	if len(vals) > 0 {
		d.CSV += "?" + vals.Encode()
		d.FirstPageHref += "?" + vals.Encode()
	}
	return h.render(c, http.StatusOK, "audit", v)
}

// auditCSVTimeout bounds the download's reads once the response has started.
const auditCSVTimeout = 5 * time.Minute

// auditCSV streams the whole filtered log as CSV, newest first, read in
// pages of audit.MaxLimit, every cell neutralised (csvsafe).
func (h *Handler) auditCSV(c *fiber.Ctx) error {
	if !h.mayReadAudit(c) {
		return h.errorPage(c, http.StatusForbidden, "e403.title", "e403.role")
	}
	_, f, bad := auditFilter(c)
	if bad != "" {
		return h.errorPage(c, http.StatusBadRequest, "audit.title", bad)
	}
	f.Limit = audit.MaxLimit
	// The stream is written after the handler returns: nothing of c in it.
	ctx := context.WithoutCancel(c.UserContext())
	log, pool := h.log, h.reports()
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="audit.csv"`)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(ctx, auditCSVTimeout)
		defer cancel()
		out := csvsafe.NewWriter(w)
		if err := out.Write(audit.CSVHeader()); err != nil {
			return
		}
		for {
			entries, err := audit.List(ctx, pool, f)
			if err != nil {
				// The status is sent: the file ends short, and the log says so.
				log.ErrorContext(ctx, "console: audit CSV cut short", "err", err)
				return
			}
			for _, e := range entries {
				if err := out.Write(audit.CSVRow(e)); err != nil {
					return
				}
			}
			out.Flush()
			if err := out.Error(); err != nil {
				return
			}
			if err := w.Flush(); err != nil {
				return
			}
			if len(entries) < f.Limit {
				return
			}
			f.Before = entries[len(entries)-1].ID
		}
	})
	return nil
}
